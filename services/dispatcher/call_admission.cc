#include "services/dispatcher/call_admission.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/calls/calling_window.h"
#include "common/calls/retry_policy.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/log/redact.h"
#include "common/phone/phone.h"
#include "common/status/status.h"
#include "services/dispatcher/call_conversion.h"
#include "services/dispatcher/work_queue.h"

namespace parley::dispatcher {
namespace {

using parley::v1::CreateCallRequest;

constexpr size_t kMaxKeyLength = 128;
constexpr size_t kMaxLeadIdLength = 128;
constexpr int kMaxAttempts = 20;

// Resource names as config-api accepts them: lower-kebab-case, 1–63 characters.
bool IsResourceName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  // The range google.protobuf.Timestamp allows: 0001-01-01 to 9999-12-31.
  return ts.seconds() >= -62135596800LL && ts.seconds() <= 253402300799LL && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

// Serialises `value` into `*json` ("{}" when empty) and checks its size.
absl::Status CheckJsonSize(std::string_view field, const google::protobuf::Struct& value,
                           size_t max, std::string* json) {
  if (value.fields().empty()) {
    *json = "{}";
    return absl::OkStatus();
  }
  // Stored as JSON and read back with JsonToStruct: what would not come back the same (too
  // deep: GetCall would answer an empty context; NaN: null) is refused now.
  PARLEY_RETURN_IF_ERROR(json::CheckStructRoundTrips(value, field));
  *json = json::StructToJson(value).dump();
  const size_t size = json->size();
  if (size > max) {
    return InvalidField(
        field, absl::StrCat("larger than ", max / 1024, " KiB (", size, " bytes as JSON)"));
  }
  return absl::OkStatus();
}

std::string StringField(const nlohmann::json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const nlohmann::json& ObjectField(const nlohmann::json& spec, const char* key) {
  static const nlohmann::json* const kNull = new nlohmann::json();
  auto it = spec.find(key);
  return it != spec.end() && it->is_object() ? *it : *kNull;
}

}  // namespace

std::string NewCallId() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("c_%016x%08x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint32_t>(gen));
}

absl::Status CheckCreateCallRequest(const CreateCallRequest& request, absl::Time now,
                                    const AdmissionOptions& options, std::string* context_json,
                                    std::string* overrides_json) {
  std::string context_scratch, overrides_scratch;
  if (context_json == nullptr) context_json = &context_scratch;
  if (overrides_json == nullptr) overrides_json = &overrides_scratch;
  if (request.to().find_first_not_of(" \t") == std::string::npos) {
    return InvalidField("to", "required");
  }
  if (request.agent().empty() && request.campaign().empty()) {
    return InvalidField("agent", "required (or a campaign, whose agent is then used)");
  }
  if (!request.agent().empty() && !IsResourceName(request.agent())) {
    return InvalidField("agent", "not a valid name (lower-kebab-case, 1-63 characters)");
  }
  if (!request.campaign().empty() && !IsResourceName(request.campaign())) {
    return InvalidField("campaign", "not a valid name (lower-kebab-case, 1-63 characters)");
  }
  PARLEY_RETURN_IF_ERROR(
      CheckJsonSize("context", request.context(), options.max_context_bytes, context_json));
  PARLEY_RETURN_IF_ERROR(
      CheckJsonSize("overrides", request.overrides(), options.max_context_bytes, overrides_json));
  if (!request.from().empty() && !phone::IsE164(request.from())) {
    return InvalidField("from", "must be an E.164 number (+14155552671)");
  }
  PARLEY_RETURN_IF_ERROR(
      CheckPrintable("idempotency_key", request.idempotency_key(), kMaxKeyLength));
  if (request.has_schedule_at()) {
    if (!IsValidTimestamp(request.schedule_at())) {
      return InvalidField("schedule_at", "not a valid timestamp");
    }
    absl::Time at = absl::FromUnixMillis(TimestampToMillis(request.schedule_at()));
    if (at > now + options.max_schedule_ahead) {
      return InvalidField(
          "schedule_at",
          absl::StrCat("more than ", absl::FormatDuration(options.max_schedule_ahead), " ahead"));
    }
  }
  if (request.has_max_attempts() &&
      (request.max_attempts() < 1 || request.max_attempts() > kMaxAttempts)) {
    return InvalidField("max_attempts", absl::StrCat("must be in [1, ", kMaxAttempts, "]"));
  }
  if (request.direction() != parley::v1::DIRECTION_UNSPECIFIED &&
      request.direction() != parley::v1::DIRECTION_OUTBOUND &&
      request.direction() != parley::v1::DIRECTION_INBOUND) {
    return InvalidField("direction", "unknown direction");
  }
  PARLEY_RETURN_IF_ERROR(CheckPrintable("lead_id", request.lead_id(), kMaxLeadIdLength));
  return absl::OkStatus();
}

absl::Status RejectedStatus(const calls::CallRecord& call, std::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(
      call.ended_reason, ": ", AbslView(why), " (call ", call.call_id, " recorded as rejected)"));
}

CallAdmitter::CallAdmitter(calls::CallStore* store, ConfigClient* config, AdmissionOptions options)
    : store_(store), config_(config), options_(std::move(options)) {}

absl::StatusOr<Admission> CallAdmitter::FromExisting(calls::CallRecord call) {
  if (call.status == parley::v1::CALL_STATUS_REJECTED) {
    return RejectedStatus(call, "rejected by an earlier request with this idempotency key");
  }
  return Admission{std::move(call), false};
}

absl::StatusOr<std::optional<CallAdmitter::Prepared>> CallAdmitter::Prepare(
    const CreateCallRequest& request, bool may_block) {
  const absl::Time now = Now();
  const int64_t now_ms = absl::ToUnixMillis(now);
  std::string context_json, overrides_json;
  PARLEY_RETURN_IF_ERROR(
      CheckCreateCallRequest(request, now, options_, &context_json, &overrides_json));

  // 2. A repeated request: answer what the first one got. (Without blocking, the Create script's
  // own check of the key answers it — and a request that fails a check below is admitted again
  // with blocking lookups, this first.)
  if (may_block && !request.idempotency_key().empty()) {
    PARLEY_ASSIGN_OR_RETURN(std::optional<calls::CallRecord> existing,
                            store_->FindByIdempotencyKey(request.idempotency_key()));
    if (existing) {
      PARLEY_ASSIGN_OR_RETURN(Admission a, FromExisting(*std::move(existing)));
      return std::optional<Prepared>(Prepared{std::move(a.call), {}, {}, now_ms, true});
    }
  }

  // 3. Campaign and agent.
  ConfigClient::Spec campaign;
  std::string agent = request.agent();
  if (!request.campaign().empty()) {
    if (may_block) {
      PARLEY_ASSIGN_OR_RETURN(campaign, config_->GetCampaign(request.campaign()));
    } else {
      campaign = config_->CachedCampaign(request.campaign());
      if (!campaign) return std::nullopt;
    }
    std::string campaign_agent = StringField(*campaign, "agent");
    if (agent.empty()) {
      agent = campaign_agent;
    } else if (agent != campaign_agent) {
      return InvalidField("agent",
                          absl::StrCat("campaign \"", request.campaign(), "\" calls with agent \"",
                                       campaign_agent, "\", not \"", agent, "\""));
    }
  }
  if (may_block) {
    PARLEY_RETURN_IF_ERROR(config_->GetAgent(agent).status());
  } else if (!config_->CachedAgent(agent)) {
    return std::nullopt;
  }

  // 4. The number.
  std::string region = campaign ? StringField(*campaign, "region") : "";
  if (region.empty()) region = options_.default_region;
  PARLEY_ASSIGN_OR_RETURN(std::string to, phone::NormalizeE164(request.to(), region, "to"));

  // 5. Per-call overrides must still give a valid template.
  if (!request.overrides().fields().empty()) {
    if (!may_block) return std::nullopt;
    PARLEY_RETURN_IF_ERROR(
        config_->ValidateOverrides(agent, request.campaign(), request.overrides()));
  }

  calls::CallRecord call;
  call.call_id = NewCallId();
  call.to = to;
  call.from = request.from();
  call.agent = agent;
  call.campaign = request.campaign();
  call.context_json = std::move(context_json);
  call.overrides_json = std::move(overrides_json);
  const bool inbound = request.direction() == parley::v1::DIRECTION_INBOUND;
  call.direction = inbound ? "inbound" : "outbound";
  call.lead_id = request.lead_id();
  call.idempotency_key = request.idempotency_key();
  if (request.has_max_attempts()) {
    call.max_attempts = request.max_attempts();
  } else if (campaign) {
    call.max_attempts =
        calls::RetryPolicy::FromJson(ObjectField(*campaign, "retry_policy")).max_attempts();
  } else {
    call.max_attempts = 1;
  }

  absl::Time due = now;
  if (request.has_schedule_at()) {
    due = std::max(due, absl::FromUnixMillis(TimestampToMillis(request.schedule_at())));
  }

  calls::CreateChecks checks;
  std::string window_why;  // why the window refused the call, when it did
  if (!inbound) {
    // 6. Do-not-call: checked inside the Create script against the DNC index, atomically with
    // the write (below).
    checks.dnc = true;
    // 7. The calling window, in the callee's zone.
    if (campaign) {
      absl::StatusOr<calls::CallingWindow> window =
          calls::CallingWindow::FromJson(ObjectField(*campaign, "calling_window"));
      if (!window.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("campaign: campaign \"", call.campaign,
                                                          "\" has an unusable ",
                                                          window.status().message()));
      }
      if (!window->always_open()) {
        absl::TimeZone zone = calls::ZoneForNumber(to, window->time_zone());
        absl::Time opening = window->NextOpening(due, zone);
        if (opening != due) {
          if (request.reject_outside_window()) {
            window_why = absl::StrCat("the calling window is closed at ",
                                      absl::FormatTime("%Y-%m-%d %H:%M %Z", due, zone), " (",
                                      zone.name(), "); it opens next at ",
                                      absl::FormatTime("%Y-%m-%d %H:%M %Z", opening, zone));
            checks.reject_reason = "outside_calling_window";
          } else {
            due = opening;
          }
        }
      }
    }
  }

  call.due_ms = due > now ? absl::ToUnixMillis(due) : 0;
  return std::optional<Prepared>(
      Prepared{std::move(call), std::move(checks), std::move(window_why), now_ms});
}

absl::StatusOr<Admission> CallAdmitter::Conclude(const Prepared& prepared,
                                                 calls::CreateResult result) {
  const int64_t now_ms = prepared.now_ms;
  calls::CreateChecks checks = prepared.checks;
  if (result.dnc_unknown) {
    // The DNC index is not built (Redis lost it, or config-api has no Redis): ask config-api,
    // which reads Postgres, and write without the index check.
    PARLEY_ASSIGN_OR_RETURN(DncCheck dnc, config_->CheckDnc(result.call.to, result.call.campaign));
    checks.dnc = false;
    if (dnc.blocked) {
      checks.reject_reason = "dnc";
      result.dnc_list = dnc.campaign.empty() ? "global" : "campaign";
    }
    std::string dnc_list = std::move(result.dnc_list);
    PARLEY_ASSIGN_OR_RETURN(result, store_->Create(std::move(result.call), now_ms, checks));
    if (result.created && checks.reject_reason == "dnc") result.dnc_list = std::move(dnc_list);
  }
  if (!result.created) return FromExisting(std::move(result.call));
  if (result.call.status != parley::v1::CALL_STATUS_REJECTED) {
    // No per-call log line here: this is the hottest path, and the event stream records the call.
    return Admission{std::move(result.call), true};
  }
  std::string why = prepared.window_why;
  if (!result.dnc_list.empty()) {
    why = absl::StrCat(log::MaskPhone(result.call.to), " is on the ",
                       result.dnc_list == "global" ? "global" : "campaign's", " do-not-call list");
  }
  log::Info("call rejected", {{"call_id", result.call.call_id},
                              {"to", result.call.to},
                              {"reason", result.call.ended_reason}});
  return RejectedStatus(result.call, why);
}

absl::StatusOr<Admission> CallAdmitter::Admit(const CreateCallRequest& request) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<Prepared> prepared, Prepare(request, /*may_block=*/true));
  if (!prepared) return absl::InternalError("admission: the checks gave no answer");
  if (prepared->existing) return Admission{std::move(prepared->call), false};
  // 8. One atomic step (with the DNC check, and the rejection when one applies).
  PARLEY_ASSIGN_OR_RETURN(
      calls::CreateResult result,
      store_->Create(std::move(prepared->call), prepared->now_ms, prepared->checks));
  return Conclude(*prepared, std::move(result));
}

void CallAdmitter::AdmitAsync(const CreateCallRequest& request, WorkQueue* slow, AdmitDone done) {
  absl::StatusOr<std::optional<Prepared>> prepared = Prepare(request, /*may_block=*/false);
  if (!prepared.ok() && request.idempotency_key().empty()) return done(prepared.status());
  if (!prepared.ok() || !prepared->has_value()) {
    // A lookup would wait, or a check failed for a request with an idempotency key (which must
    // get the first request's answer, looked up first): the blocking path, on `slow`'s threads.
    slow->Submit([this, &request, done = std::move(done)] { done(Admit(request)); });
    return;
  }
  auto state = std::make_shared<Prepared>(**std::move(prepared));
  calls::CallRecord call = std::move(state->call);
  store_->CreateAsync(
      std::move(call), state->now_ms, state->checks,
      [this, slow, state, done = std::move(done)](absl::StatusOr<calls::CreateResult> r) {
        if (!r.ok()) return done(r.status());
        if (r->dnc_unknown) {
          // Conclude asks config-api: not on this (a Redis leader's or gRPC's) thread.
          slow->Submit([this, state, done, result = *std::move(r)]() mutable {
            done(Conclude(*state, std::move(result)));
          });
          return;
        }
        done(Conclude(*state, *std::move(r)));
      });
}

}  // namespace parley::dispatcher
