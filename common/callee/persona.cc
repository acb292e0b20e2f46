#include "common/callee/persona.h"

#include <array>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/docs/yaml_json.h"
#include "common/status/status.h"

namespace parley::callee {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<std::string_view, AnswerMode>, 6> kModes = {{
    {"answer", AnswerMode::kAnswer},
    {"busy", AnswerMode::kBusy},
    {"no_answer", AnswerMode::kNoAnswer},
    {"decline", AnswerMode::kDecline},
    {"hangup_while_ringing", AnswerMode::kHangupWhileRinging},
    {"voicemail", AnswerMode::kVoicemail},
}};

// Reads one JSON object's fields, checking types and that no unknown field is left; every error
// names the field by its path ("spec.replies[2].say").
class Fields final {
 public:
  Fields(const json& object, std::string path, std::string_view source)
      : object_(object), path_(std::move(path)), source_(source) {}

  absl::Status Error(std::string_view field, std::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source_), ": ", Path(field), ": ", AbslView(problem)));
  }
  std::string Path(std::string_view field) const {
    return path_.empty() ? std::string(field) : absl::StrCat(path_, ".", AbslView(field));
  }
  const json* Get(std::string_view field) {
    seen_.emplace_back(field);
    auto it = object_.find(std::string(field));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::Status String(std::string_view field, std::string& out, bool allow_empty = false) {
    const json* v = Get(field);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return Error(field, "must be a string");
    if (!allow_empty && v->get<std::string>().empty()) return Error(field, "empty");
    out = v->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Int(std::string_view field, int min, int max, std::optional<int>& out) {
    const json* v = Get(field);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number_integer()) return Error(field, "must be a whole number");
    const int64_t n = v->get<int64_t>();
    if (n < min || n > max)
      return Error(field, absl::StrCat("must be between ", min, " and ", max));
    out = static_cast<int>(n);
    return absl::OkStatus();
  }
  absl::Status Int(std::string_view field, int min, int max, int& out) {
    std::optional<int> value;
    PARLEY_RETURN_IF_ERROR(Int(field, min, max, value));
    if (value.has_value()) out = *value;
    return absl::OkStatus();
  }
  absl::Status Double(std::string_view field, double min, double max, double& out) {
    const json* v = Get(field);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number()) return Error(field, "must be a number");
    const double d = v->get<double>();
    if (d < min || d > max)
      return Error(field, absl::StrCat("must be between ", min, " and ", max));
    out = d;
    return absl::OkStatus();
  }
  absl::Status Bool(std::string_view field, bool& out) {
    const json* v = Get(field);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return Error(field, "must be true or false");
    out = v->get<bool>();
    return absl::OkStatus();
  }
  // Fails on the first field of the object that no getter asked for.
  absl::Status NoOthers() const {
    for (const auto& [key, value] : object_.items()) {
      if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
        return Error(key, absl::StrCat("unknown field (want ", absl::StrJoin(seen_, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  const json& object_;
  std::string path_;
  std::string_view source_;
  std::vector<std::string> seen_;
};

absl::Status ParseReply(const json& value, const std::string& path, std::string_view source,
                        Reply& reply) {
  if (value.is_string()) {
    reply.say = value.get<std::string>();
    if (reply.say.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(AbslView(source), ": ", path, ": empty"));
    }
    return absl::OkStatus();
  }
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        AbslView(source), ": ", path, ": must be text or a mapping with say (and when)"));
  }
  Fields f(value, path, source);
  PARLEY_RETURN_IF_ERROR(f.String("say", reply.say, /*allow_empty=*/true));
  if (const json* when = f.Get("when"); when != nullptr) {
    json list = when->is_string() ? json::array({*when}) : *when;
    if (!list.is_array() || list.empty()) {
      return f.Error("when", "must be a phrase or a non-empty list of phrases");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string field = absl::StrCat("when[", i, "]");
      if (!list[i].is_string()) return f.Error(field, "must be a string");
      if (list[i].get<std::string>().empty()) return f.Error(field, "empty");
      reply.when.push_back(list[i].get<std::string>());
    }
  }
  PARLEY_RETURN_IF_ERROR(f.Bool("silence", reply.silence));
  PARLEY_RETURN_IF_ERROR(f.Int("pause_ms", 0, 60000, reply.pause_ms));
  PARLEY_RETURN_IF_ERROR(f.Int("interrupt_after_ms", 0, 600000, reply.interrupt_after_ms));
  PARLEY_RETURN_IF_ERROR(f.NoOthers());
  if (reply.silence) {
    if (!reply.say.empty()) return f.Error("say", "a silence entry says nothing");
    if (reply.interrupt_after_ms.has_value()) {
      return f.Error("interrupt_after_ms", "a silence entry cannot interrupt");
    }
    return absl::OkStatus();
  }
  if (!value.contains("say")) return f.Error("say", "required (or silence: true)");
  if (reply.say.empty()) return f.Error("say", "empty");
  return absl::OkStatus();
}

absl::Status ParseSpec(const json& spec, std::string_view source, Persona& p) {
  Fields f(spec, "spec", source);
  PARLEY_RETURN_IF_ERROR(f.String("description", p.description, /*allow_empty=*/true));
  std::string answer = "answer";
  PARLEY_RETURN_IF_ERROR(f.String("answer", answer));
  bool known = false;
  for (const auto& [name, mode] : kModes) {
    if (name == answer) {
      p.answer = mode;
      known = true;
    }
  }
  if (!known) {
    std::vector<std::string> names;
    for (const auto& entry : kModes) names.emplace_back(entry.first);
    return f.Error("answer", absl::StrCat("unknown mode \"", answer, "\" (want ",
                                          absl::StrJoin(names, ", "), ")"));
  }
  PARLEY_RETURN_IF_ERROR(f.Int("ring_ms", 0, 600000, p.ring_ms));
  PARLEY_RETURN_IF_ERROR(f.Int("pause_ms", 0, 60000, p.pause_ms));

  if (const json* voice = f.Get("voice"); voice != nullptr) {
    if (voice->is_string()) {
      p.voice.name = voice->get<std::string>();
    } else if (voice->is_object()) {
      Fields v(*voice, "spec.voice", source);
      PARLEY_RETURN_IF_ERROR(v.String("name", p.voice.name));
      PARLEY_RETURN_IF_ERROR(v.Double("speed", 0.3, 3.0, p.voice.speed));
      PARLEY_RETURN_IF_ERROR(v.Int("pitch", 0, 100, p.voice.pitch));
      PARLEY_RETURN_IF_ERROR(v.NoOthers());
    } else {
      return f.Error("voice", "must be a voice name or a mapping with name, speed, pitch");
    }
  }

  if (const json* replies = f.Get("replies"); replies != nullptr) {
    if (!replies->is_array()) return f.Error("replies", "must be a list");
    for (size_t i = 0; i < replies->size(); ++i) {
      Reply reply;
      PARLEY_RETURN_IF_ERROR(
          ParseReply((*replies)[i], absl::StrCat("spec.replies[", i, "]"), source, reply));
      p.replies.push_back(std::move(reply));
    }
  }

  if (const json* hangup = f.Get("hangup"); hangup != nullptr) {
    if (!hangup->is_object()) return f.Error("hangup", "must be a mapping");
    Fields h(*hangup, "spec.hangup", source);
    PARLEY_RETURN_IF_ERROR(h.Int("after_last_reply_ms", 0, 600000, p.hangup_after_last_reply_ms));
    PARLEY_RETURN_IF_ERROR(h.Int("after_s", 1, 86400, p.hangup_after_s));
    PARLEY_RETURN_IF_ERROR(h.NoOthers());
  }

  if (const json* faults = f.Get("faults"); faults != nullptr) {
    if (!faults->is_object()) return f.Error("faults", "must be a mapping");
    Fields x(*faults, "spec.faults", source);
    PARLEY_RETURN_IF_ERROR(x.Bool("garbage_audio", p.faults.garbage_audio));
    PARLEY_RETURN_IF_ERROR(x.Int("stop_audio_after_ms", 0, 3600000, p.faults.stop_audio_after_ms));
    PARLEY_RETURN_IF_ERROR(x.Int("hangup_mid_reply_ms", 0, 600000, p.faults.hangup_mid_reply_ms));
    PARLEY_RETURN_IF_ERROR(x.NoOthers());
  }

  if (const json* vm = f.Get("voicemail"); vm != nullptr) {
    if (p.answer != AnswerMode::kVoicemail) {
      return f.Error("voicemail", "only for answer: voicemail");
    }
    if (!vm->is_object()) return f.Error("voicemail", "must be a mapping");
    Fields v(*vm, "spec.voicemail", source);
    PARLEY_RETURN_IF_ERROR(v.String("greeting", p.voicemail.greeting));
    PARLEY_RETURN_IF_ERROR(v.Double("beep_hz", 100, 4000, p.voicemail.beep_hz));
    PARLEY_RETURN_IF_ERROR(v.Int("beep_ms", 0, 5000, p.voicemail.beep_ms));
    PARLEY_RETURN_IF_ERROR(v.Int("record_s", 1, 3600, p.voicemail.record_s));
    PARLEY_RETURN_IF_ERROR(v.Int("end_silence_ms", 100, 60000, p.voicemail.end_silence_ms));
    PARLEY_RETURN_IF_ERROR(v.NoOthers());
  }
  if (p.answer == AnswerMode::kVoicemail && !p.replies.empty()) {
    return f.Error("replies", "a voicemail box does not reply (remove replies)");
  }
  return f.NoOthers();
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

}  // namespace

std::string_view AnswerModeName(AnswerMode mode) {
  for (const auto& [name, m] : kModes) {
    if (m == mode) return name;
  }
  return "answer";
}

absl::StatusOr<std::vector<Persona>> ParsePersonas(std::string_view text, std::string_view source) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<json> docs, docs::ParseYamlAsJson(text, source));
  std::vector<Persona> out;
  for (const json& doc : docs) {
    if (!doc.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(source), ": a document must be a mapping with kind, name, spec"));
    }
    auto kind = doc.find("kind");
    if (kind == doc.end() || !kind->is_string() || *kind != "persona") continue;
    Persona p;
    p.source = std::string(source);
    Fields top(doc, "", source);
    std::string ignored_kind;
    PARLEY_RETURN_IF_ERROR(top.String("kind", ignored_kind));
    PARLEY_RETURN_IF_ERROR(top.String("name", p.name));
    if (!IsValidName(p.name)) {
      return top.Error(
          "name", p.name.empty() ? "required" : "must be 1-63 lower-case letters, digits and '-'");
    }
    if (const json* labels = top.Get("labels"); labels != nullptr && !labels->is_object()) {
      return top.Error("labels", "must be a mapping");
    }
    const json* spec = top.Get("spec");
    if (spec == nullptr) return top.Error("spec", "required");
    if (!spec->is_object()) return top.Error("spec", "must be a mapping");
    PARLEY_RETURN_IF_ERROR(top.NoOthers());
    PARLEY_RETURN_IF_ERROR(ParseSpec(*spec, source, p));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<Persona> LoadPersonaFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::ostringstream text;
  text << in.rdbuf();
  PARLEY_ASSIGN_OR_RETURN(std::vector<Persona> personas, ParsePersonas(text.str(), path));
  if (personas.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": want exactly one document with kind: persona, found ", personas.size()));
  }
  return std::move(personas.front());
}

}  // namespace parley::callee
