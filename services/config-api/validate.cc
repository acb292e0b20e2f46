#include "services/config-api/validate.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/json/merge_patch.h"
#include "common/json/proto_json.h"
#include "common/phone/phone.h"
#include "common/providers/registry.h"
#include "common/status/status.h"
#include "services/config-api/resource_kind.h"
#include "services/config-api/validate_rules.h"

namespace parley::config {
namespace {

using Json = nlohmann::json;
using providers::ProviderKind;
using std::string;
using validate_internal::AtLeast;
using validate_internal::CheckE164;
using validate_internal::CheckGraph;
using validate_internal::CheckRef;
using validate_internal::CheckResourceName;
using validate_internal::CheckTextVariables;
using validate_internal::CheckTools;
using validate_internal::ClockMinutes;
using validate_internal::Field;
using validate_internal::Index;
using validate_internal::IntInRange;
using validate_internal::Invalid;
using validate_internal::IsBlank;
using validate_internal::IsHost;
using validate_internal::IsHostPort;
using validate_internal::IsIpAddress;
using validate_internal::IsLanguageTag;
using validate_internal::IsRegionCode;
using validate_internal::IsSipUri;
using validate_internal::IsUrl;
using validate_internal::IsVariableName;
using validate_internal::IsZoneName;
using validate_internal::Quote;
using validate_internal::RealInRange;

absl::Status ParseInto(const Json& spec, const string& path, google::protobuf::Message* out) {
  if (!spec.is_object()) return Invalid(path, "must be a JSON object");
  return parley::json::ParseSpec(spec, path, out);
}

// ----- template -----------------------------------------------------------------------------

absl::Status CheckProvider(const string& path, ProviderKind kind, const string& provider,
                           const string& base_url, const string& credential, int fallbacks,
                           bool is_fallback) {
  if (provider.empty()) {
    // The main section may leave the provider to the system default; a fallback must name one.
    if (is_fallback) return Invalid(Field(path, "provider"), "required");
  } else if (providers::FindProvider(kind, provider) == nullptr) {
    return Invalid(
        Field(path, "provider"),
        absl::StrCat("unknown ", AbslView(providers::KindName(kind)), " provider ", Quote(provider),
                     " (known: ", providers::KnownProviderNames(kind), ")"));
  }
  if (!base_url.empty() && !IsUrl(base_url, {"http", "https", "ws", "wss"})) {
    return Invalid(Field(path, "base_url"), "must be an http(s) or ws(s) URL");
  }
  PARLEY_RETURN_IF_ERROR(CheckRef(Field(path, "credential"), credential, /*required=*/false));
  if (is_fallback && fallbacks > 0) {
    return Invalid(Field(path, "fallbacks"), "a fallback must not declare fallbacks");
  }
  return absl::OkStatus();
}

absl::Status CheckStt(const parley::v1::SttConfig& c, const string& path, bool is_fallback) {
  PARLEY_RETURN_IF_ERROR(CheckProvider(path, ProviderKind::kStt, c.provider(), c.base_url(),
                                       c.credential(), c.fallbacks_size(), is_fallback));
  if (!c.language().empty() && !IsLanguageTag(c.language())) {
    return Invalid(Field(path, "language"), "must be a BCP-47 language tag (en-US)");
  }
  for (int i = 0; i < c.fallbacks_size(); ++i) {
    PARLEY_RETURN_IF_ERROR(CheckStt(c.fallbacks(i), Index(Field(path, "fallbacks"), i), true));
  }
  return absl::OkStatus();
}

absl::Status CheckTts(const parley::v1::TtsConfig& c, const string& path, bool is_fallback) {
  PARLEY_RETURN_IF_ERROR(CheckProvider(path, ProviderKind::kTts, c.provider(), c.base_url(),
                                       c.credential(), c.fallbacks_size(), is_fallback));
  if (c.has_speed()) PARLEY_RETURN_IF_ERROR(RealInRange(Field(path, "speed"), c.speed(), 0.5, 2));
  if (c.has_stability()) {
    PARLEY_RETURN_IF_ERROR(RealInRange(Field(path, "stability"), c.stability(), 0, 1));
  }
  for (int i = 0; i < c.fallbacks_size(); ++i) {
    PARLEY_RETURN_IF_ERROR(CheckTts(c.fallbacks(i), Index(Field(path, "fallbacks"), i), true));
  }
  return absl::OkStatus();
}

absl::Status CheckLlm(const parley::v1::LlmConfig& c, const string& path, bool is_fallback) {
  PARLEY_RETURN_IF_ERROR(CheckProvider(path, ProviderKind::kLlm, c.provider(), c.base_url(),
                                       c.credential(), c.fallbacks_size(), is_fallback));
  if (c.has_temperature()) {
    PARLEY_RETURN_IF_ERROR(RealInRange(Field(path, "temperature"), c.temperature(), 0, 2));
  }
  if (c.has_max_tokens()) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "max_tokens"), c.max_tokens(), 1, 32768));
  }
  for (int i = 0; i < c.fallbacks_size(); ++i) {
    PARLEY_RETURN_IF_ERROR(CheckLlm(c.fallbacks(i), Index(Field(path, "fallbacks"), i), true));
  }
  return absl::OkStatus();
}

// `partial`: `t` is a merge patch (campaign overrides), not a whole template, so rules relating
// two fields are left to the merged result.
absl::Status CheckTemplate(const parley::v1::TemplateSpec& t, const string& path, bool partial) {
  PARLEY_RETURN_IF_ERROR(CheckStt(t.stt(), Field(path, "stt"), false));
  PARLEY_RETURN_IF_ERROR(CheckTts(t.tts(), Field(path, "tts"), false));
  PARLEY_RETURN_IF_ERROR(CheckLlm(t.llm(), Field(path, "llm"), false));

  const string vad = Field(path, "vad");
  const auto& v = t.vad();
  if (v.has_threshold()) {
    PARLEY_RETURN_IF_ERROR(RealInRange(Field(vad, "threshold"), v.threshold(), 0, 1));
  }
  if (v.has_min_speech_ms()) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(vad, "min_speech_ms"), v.min_speech_ms(), 0, 5000));
  }
  if (v.has_min_silence_ms()) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(vad, "min_silence_ms"), v.min_silence_ms(), 0, 5000));
  }

  const string interruptions = Field(path, "interruptions");
  const auto& in = t.interruptions();
  if (in.has_min_duration_ms()) {
    PARLEY_RETURN_IF_ERROR(
        IntInRange(Field(interruptions, "min_duration_ms"), in.min_duration_ms(), 0, 5000));
  }
  if (in.has_min_words()) {
    PARLEY_RETURN_IF_ERROR(AtLeast(Field(interruptions, "min_words"), in.min_words(), 0));
  }

  const string endpointing = Field(path, "endpointing");
  const auto& e = t.endpointing();
  if (e.has_min_delay_ms()) {
    PARLEY_RETURN_IF_ERROR(AtLeast(Field(endpointing, "min_delay_ms"), e.min_delay_ms(), 0));
  }
  if (e.has_max_delay_ms()) {
    PARLEY_RETURN_IF_ERROR(AtLeast(Field(endpointing, "max_delay_ms"), e.max_delay_ms(), 0));
  }
  if (!partial && e.has_min_delay_ms() && e.has_max_delay_ms() &&
      e.max_delay_ms() < e.min_delay_ms()) {
    return Invalid(Field(endpointing, "max_delay_ms"), "must be >= min_delay_ms");
  }

  const string limits = Field(path, "limits");
  const auto& l = t.limits();
  if (l.has_max_duration_s()) {
    PARLEY_RETURN_IF_ERROR(
        IntInRange(Field(limits, "max_duration_s"), l.max_duration_s(), 10, 14400));
  }
  if (l.has_silence_timeout_s()) {
    PARLEY_RETURN_IF_ERROR(AtLeast(Field(limits, "silence_timeout_s"), l.silence_timeout_s(), 1));
  }
  if (l.has_ring_timeout_s()) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(limits, "ring_timeout_s"), l.ring_timeout_s(), 5, 120));
  }
  if (l.has_max_node_visits()) {
    PARLEY_RETURN_IF_ERROR(AtLeast(Field(limits, "max_node_visits"), l.max_node_visits(), 1));
  }

  const string voicemail = Field(path, "voicemail");
  const auto& vm = t.voicemail();
  if (!vm.action().empty() && vm.action() != "hangup" && vm.action() != "leave_message") {
    return Invalid(Field(voicemail, "action"), absl::StrCat("unknown action ", Quote(vm.action()),
                                                            " (known: hangup, leave_message)"));
  }
  PARLEY_RETURN_IF_ERROR(CheckTextVariables(Field(voicemail, "message"), vm.message()));
  if (!partial && vm.action() == "leave_message" && vm.message().empty()) {
    return Invalid(Field(voicemail, "message"), "required when action is \"leave_message\"");
  }

  for (int i = 0; i < t.end_call_phrases_size(); ++i) {
    if (IsBlank(t.end_call_phrases(i))) {
      return Invalid(Index(Field(path, "end_call_phrases"), i), "must not be empty");
    }
  }
  return CheckTextVariables(Field(path, "greeting"), t.greeting());
}

// ----- prompt -------------------------------------------------------------------------------

absl::Status CheckPrompt(const parley::v1::PromptSpec& p) {
  if (IsBlank(p.text())) return Invalid("prompt.text", "required");
  std::set<string> declared;
  for (int i = 0; i < p.variables_size(); ++i) {
    const string path = Index("prompt.variables", i);
    if (!IsVariableName(p.variables(i))) {
      return Invalid(path, absl::StrCat(Quote(p.variables(i)), " is not a valid variable name"));
    }
    if (!declared.insert(p.variables(i)).second) {
      return Invalid(path, absl::StrCat("duplicate variable ", Quote(p.variables(i))));
    }
  }
  absl::StatusOr<std::vector<string>> used = PromptVariables(p.text());
  if (!used.ok()) return Invalid("prompt.text", string(used.status().message()));
  for (const string& v : *used) {
    if (declared.count(v) == 0) {
      return Invalid("prompt.text",
                     absl::StrCat("variable {", v, "} is not declared in prompt.variables"));
    }
  }
  return absl::OkStatus();
}

// ----- agent --------------------------------------------------------------------------------

absl::Status CheckAgent(const parley::v1::AgentSpec& a) {
  PARLEY_RETURN_IF_ERROR(CheckRef("agent.template", a.template_(), /*required=*/true));
  PARLEY_RETURN_IF_ERROR(CheckRef("agent.graph", a.graph(), /*required=*/true));
  PARLEY_RETURN_IF_ERROR(CheckRef("agent.system_prompt", a.system_prompt(), false));
  // Sorted, so that the error reported does not depend on hash order.
  const std::map<string, int32_t> versions(a.prompt_versions().begin(), a.prompt_versions().end());
  for (const auto& [prompt, version] : versions) {
    const string path = Field("agent.prompt_versions", prompt);
    PARLEY_RETURN_IF_ERROR(CheckRef(path, prompt, true));
    PARLEY_RETURN_IF_ERROR(AtLeast(path, version, 1));
  }
  PARLEY_RETURN_IF_ERROR(CheckTools(a.tools(), "agent.tools"));
  PARLEY_RETURN_IF_ERROR(CheckRef("agent.trunk", a.trunk(), false));
  return CheckE164("agent.from", a.from(), false);
}

// ----- campaign -----------------------------------------------------------------------------

absl::Status CheckCallingWindow(const parley::v1::CallingWindow& w) {
  const string path = "campaign.calling_window";
  const string zone_path = Field(path, "time_zone");
  if (w.time_zone().empty()) return Invalid(zone_path, "required");
  absl::TimeZone zone;
  if (!IsZoneName(w.time_zone()) || !absl::LoadTimeZone(w.time_zone(), &zone)) {
    return Invalid(zone_path, absl::StrCat("unknown IANA time zone ", Quote(w.time_zone())));
  }
  static const std::set<string, std::less<>> kDays = {"mon", "tue", "wed", "thu",
                                                      "fri", "sat", "sun"};
  std::set<string> seen;
  for (int i = 0; i < w.days_size(); ++i) {
    const string day_path = Index(Field(path, "days"), i);
    if (kDays.count(w.days(i)) == 0) {
      return Invalid(day_path, absl::StrCat("unknown day ", Quote(w.days(i)),
                                            " (known: mon, tue, wed, thu, fri, sat, sun)"));
    }
    if (!seen.insert(w.days(i)).second) {
      return Invalid(day_path, absl::StrCat("duplicate day ", Quote(w.days(i))));
    }
  }
  const string start_path = Field(path, "start");
  const string end_path = Field(path, "end");
  if (w.start().empty()) return Invalid(start_path, "required (HH:MM)");
  std::optional<int> start = ClockMinutes(w.start(), /*allow_24=*/false);
  if (!start) return Invalid(start_path, "must be HH:MM");
  if (w.end().empty()) return Invalid(end_path, "required (HH:MM)");
  std::optional<int> end = ClockMinutes(w.end(), /*allow_24=*/true);
  if (!end) return Invalid(end_path, "must be HH:MM");
  if (*end <= *start) return Invalid(end_path, "must be after start");
  return absl::OkStatus();
}

absl::Status CheckRetryPolicy(const parley::v1::RetryPolicy& r) {
  const string path = "campaign.retry_policy";
  static const std::set<string, std::less<>> kRetryable = {"busy", "no_answer", "failed",
                                                           "declined", "voicemail"};
  std::set<string> seen;
  for (int i = 0; i < r.retry_on_size(); ++i) {
    const string p = Index(Field(path, "retry_on"), i);
    if (kRetryable.count(r.retry_on(i)) == 0) {
      return Invalid(p, absl::StrCat("outcome ", Quote(r.retry_on(i)),
                                     " cannot be retried (known: busy, no_answer, failed, "
                                     "declined, voicemail)"));
    }
    if (!seen.insert(r.retry_on(i)).second) {
      return Invalid(p, absl::StrCat("duplicate outcome ", Quote(r.retry_on(i))));
    }
  }
  if (r.max_attempts() != 0) {  // 0: the default
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "max_attempts"), r.max_attempts(), 1, 20));
  }
  const string backoff = Field(path, "backoff");
  const auto& b = r.backoff();
  PARLEY_RETURN_IF_ERROR(AtLeast(Field(backoff, "initial_delay_s"), b.initial_delay_s(), 0));
  if (b.multiplier() != 0 && !(b.multiplier() >= 1)) {
    return Invalid(Field(backoff, "multiplier"), "must be >= 1");
  }
  PARLEY_RETURN_IF_ERROR(AtLeast(Field(backoff, "max_delay_s"), b.max_delay_s(), 0));
  // Compare the delays in force, defaults included.
  const int64_t initial = b.initial_delay_s() != 0 ? b.initial_delay_s() : 300;
  const int64_t max = b.max_delay_s() != 0 ? b.max_delay_s() : 86400;
  if (max < initial) {
    if (b.max_delay_s() != 0) {
      return Invalid(Field(backoff, "max_delay_s"),
                     absl::StrCat("must be >= initial_delay_s (", initial, ")"));
    }
    return Invalid(Field(backoff, "initial_delay_s"),
                   "must be <= max_delay_s (86400 when not set)");
  }
  return absl::OkStatus();
}

absl::Status CheckWebhook(const parley::v1::Webhook& w) {
  const string path = "campaign.webhook";
  if (w.url().empty()) return Invalid(Field(path, "url"), "required");
  if (!IsUrl(w.url(), {"http", "https"}))
    return Invalid(Field(path, "url"), "must be an http(s) URL");
  PARLEY_RETURN_IF_ERROR(CheckRef(Field(path, "secret"), w.secret(), /*required=*/true));
  std::set<string> seen;
  for (int i = 0; i < w.events_size(); ++i) {
    const string p = Index(Field(path, "events"), i);
    if (w.events(i) != "status" && w.events(i) != "report") {
      return Invalid(
          p, absl::StrCat("unknown event ", Quote(w.events(i)), " (known: status, report)"));
    }
    if (!seen.insert(w.events(i)).second) {
      return Invalid(p, absl::StrCat("duplicate event ", Quote(w.events(i))));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCampaign(const parley::v1::CampaignSpec& c, const Json& spec) {
  PARLEY_RETURN_IF_ERROR(CheckRef("campaign.agent", c.agent(), /*required=*/true));
  if (auto it = spec.find("overrides"); it != spec.end() && it->is_object()) {
    // A merge patch: its nulls delete keys of the template; without them it must be a valid (if
    // partial) template.
    const Json patch = parley::json::MergePatch(Json::object(), *it);
    parley::v1::TemplateSpec overrides;
    PARLEY_RETURN_IF_ERROR(ParseInto(patch, "campaign.overrides", &overrides));
    PARLEY_RETURN_IF_ERROR(CheckTemplate(overrides, "campaign.overrides", /*partial=*/true));
  }
  if (c.has_calling_window()) PARLEY_RETURN_IF_ERROR(CheckCallingWindow(c.calling_window()));
  PARLEY_RETURN_IF_ERROR(AtLeast("campaign.max_concurrent_calls", c.max_concurrent_calls(), 0));
  PARLEY_RETURN_IF_ERROR(CheckRetryPolicy(c.retry_policy()));
  if (!c.region().empty() && !IsRegionCode(c.region())) {
    return Invalid("campaign.region", "must be an ISO 3166-1 alpha-2 region code (US, GB)");
  }
  if (c.has_webhook()) PARLEY_RETURN_IF_ERROR(CheckWebhook(c.webhook()));
  PARLEY_RETURN_IF_ERROR(CheckE164("campaign.from", c.from(), false));
  return CheckRef("campaign.trunk", c.trunk(), false);
}

// ----- trunk --------------------------------------------------------------------------------

absl::Status CheckSipTrunk(const parley::v1::SipTrunk& s) {
  const string path = "trunk.sip";
  if (s.host().empty()) return Invalid(Field(path, "host"), "required");
  if (!IsHost(s.host())) return Invalid(Field(path, "host"), "must be a host name or IP address");
  if (s.port() != 0) PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "port"), s.port(), 1, 65535));
  if (!s.transport().empty() && s.transport() != "udp" && s.transport() != "tcp" &&
      s.transport() != "tls") {
    return Invalid(
        Field(path, "transport"),
        absl::StrCat("unknown transport ", Quote(s.transport()), " (known: udp, tcp, tls)"));
  }
  if (!s.outbound_proxy().empty() && !IsSipUri(s.outbound_proxy())) {
    return Invalid(Field(path, "outbound_proxy"), "must be a sip: or sips: URI");
  }
  PARLEY_RETURN_IF_ERROR(CheckRef(Field(path, "auth_credential"), s.auth_credential(),
                                  /*required=*/!s.auth_username().empty()));
  for (int i = 0; i < s.from_numbers_size(); ++i) {
    PARLEY_RETURN_IF_ERROR(
        CheckE164(Index(Field(path, "from_numbers"), i), s.from_numbers(i), true));
  }
  std::set<string> seen;
  for (int i = 0; i < s.codecs_size(); ++i) {
    const string p = Index(Field(path, "codecs"), i);
    if (s.codecs(i) != "opus" && s.codecs(i) != "pcmu" && s.codecs(i) != "pcma") {
      return Invalid(
          p, absl::StrCat("unknown codec ", Quote(s.codecs(i)), " (known: opus, pcmu, pcma)"));
    }
    if (!seen.insert(s.codecs(i)).second) {
      return Invalid(p, absl::StrCat("duplicate codec ", Quote(s.codecs(i))));
    }
  }
  if (!s.external_ip().empty() && !IsIpAddress(s.external_ip())) {
    return Invalid(Field(path, "external_ip"), "must be an IPv4 or IPv6 address");
  }
  if (s.rtp_port_min() != 0) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "rtp_port_min"), s.rtp_port_min(), 1024, 65535));
    if (s.rtp_port_min() % 2 != 0) return Invalid(Field(path, "rtp_port_min"), "must be even");
  }
  if (s.rtp_port_max() != 0) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "rtp_port_max"), s.rtp_port_max(), 1024, 65535));
  }
  const int rtp_min = s.rtp_port_min() != 0 ? s.rtp_port_min() : 10000;
  const int rtp_max = s.rtp_port_max() != 0 ? s.rtp_port_max() : 20000;
  if (rtp_max <= rtp_min) {
    return Invalid(Field(path, "rtp_port_max"),
                   absl::StrCat("must be greater than rtp_port_min (", rtp_min, ")"));
  }
  if (s.ring_timeout_s() != 0) {
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "ring_timeout_s"), s.ring_timeout_s(), 5, 120));
  }
  return absl::OkStatus();
}

absl::Status CheckTrunk(const parley::v1::TrunkSpec& t) {
  if (t.kind() == "grpc") {
    if (!t.has_grpc()) return Invalid("trunk.grpc", "required when kind is \"grpc\"");
    if (t.grpc().address().empty()) return Invalid("trunk.grpc.address", "required");
    if (!IsHostPort(t.grpc().address())) {
      return Invalid("trunk.grpc.address", "must be host:port");
    }
    return absl::OkStatus();
  }
  if (t.kind() == "sip") {
    if (!t.has_sip()) return Invalid("trunk.sip", "required when kind is \"sip\"");
    return CheckSipTrunk(t.sip());
  }
  if (t.kind().empty()) return Invalid("trunk.kind", "required (grpc or sip)");
  return Invalid("trunk.kind",
                 absl::StrCat("unknown kind ", Quote(t.kind()), " (known: grpc, sip)"));
}

// ----- inbound route ------------------------------------------------------------------------

absl::Status CheckInboundRoute(const parley::v1::InboundRouteSpec& r) {
  PARLEY_RETURN_IF_ERROR(CheckE164("inbound_route.number", r.number(), /*required=*/true));
  PARLEY_RETURN_IF_ERROR(CheckRef("inbound_route.agent", r.agent(), /*required=*/true));
  return CheckRef("inbound_route.campaign", r.campaign(), false);
}

template <typename Spec, typename Check>
absl::Status ParseAndCheck(const Json& spec, const string& path, Check check) {
  Spec message;
  PARLEY_RETURN_IF_ERROR(ParseInto(spec, path, &message));
  return check(message);
}

}  // namespace

absl::Status ValidateName(std::string_view name) { return CheckResourceName("name", name); }

absl::Status ValidateCredential(std::string_view name, const nlohmann::json& spec, bool creating) {
  PARLEY_RETURN_IF_ERROR(ValidateName(name));
  parley::v1::CredentialSpec c;
  PARLEY_RETURN_IF_ERROR(ParseInto(spec, "credential", &c));
  if (IsBlank(c.provider())) return Invalid("credential.provider", "required");
  if (creating && c.secret().empty()) return Invalid("credential.secret", "required");
  return absl::OkStatus();
}

absl::Status ValidateTemplate(const nlohmann::json& merged_template) {
  parley::v1::TemplateSpec t;
  PARLEY_RETURN_IF_ERROR(ParseInto(merged_template, "template", &t));
  return CheckTemplate(t, "template", /*partial=*/false);
}

absl::Status ValidateSpec(parley::v1::ResourceKind kind, std::string_view name,
                          const nlohmann::json& spec) {
  const string path(KindName(kind));
  if (path.empty()) return Invalid("kind", "must be set to a known resource kind");
  if (kind == parley::v1::RESOURCE_KIND_CREDENTIAL) {
    return ValidateCredential(name, spec, /*creating=*/true);
  }
  PARLEY_RETURN_IF_ERROR(ValidateName(name));
  switch (kind) {
    case parley::v1::RESOURCE_KIND_TEMPLATE:
      return ValidateTemplate(spec);
    case parley::v1::RESOURCE_KIND_PROMPT:
      return ParseAndCheck<parley::v1::PromptSpec>(spec, path, CheckPrompt);
    case parley::v1::RESOURCE_KIND_GRAPH:
      return ParseAndCheck<parley::v1::GraphSpec>(spec, path, CheckGraph);
    case parley::v1::RESOURCE_KIND_AGENT:
      return ParseAndCheck<parley::v1::AgentSpec>(spec, path, CheckAgent);
    case parley::v1::RESOURCE_KIND_CAMPAIGN:
      return ParseAndCheck<parley::v1::CampaignSpec>(
          spec, path, [&](const parley::v1::CampaignSpec& c) { return CheckCampaign(c, spec); });
    case parley::v1::RESOURCE_KIND_TRUNK:
      return ParseAndCheck<parley::v1::TrunkSpec>(spec, path, CheckTrunk);
    case parley::v1::RESOURCE_KIND_INBOUND_ROUTE:
      return ParseAndCheck<parley::v1::InboundRouteSpec>(spec, path, CheckInboundRoute);
    default:
      return Invalid("kind", "must be set to a known resource kind");
  }
}

absl::StatusOr<std::vector<std::string>> PromptVariables(std::string_view text) {
  std::vector<string> vars;
  std::set<string, std::less<>> seen;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool doubled = i + 1 < text.size() && text[i + 1] == c;
    if (c == '{') {
      if (doubled) {
        ++i;
        continue;
      }
      const size_t close = text.find('}', i + 1);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("unmatched '{' at column ", i + 1));
      }
      const std::string_view var = text.substr(i + 1, close - i - 1);
      if (!IsVariableName(var)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid variable {", AbslView(var), "} at column ", i + 1,
                         " (use letters, digits, '_' and '.'; {{ for a literal brace)"));
      }
      if (seen.insert(string(var)).second) vars.emplace_back(var);
      i = close;
    } else if (c == '}') {
      if (!doubled) {
        return absl::InvalidArgumentError(
            absl::StrCat("unmatched '}' at column ", i + 1, " (use }} for a literal brace)"));
      }
      ++i;
    }
  }
  return vars;
}

}  // namespace parley::config
