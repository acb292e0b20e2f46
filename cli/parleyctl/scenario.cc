#include "cli/parleyctl/scenario.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/calls/call_store.h"
#include "common/docs/yaml_json.h"
#include "common/status/status.h"

namespace parley::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::array<std::string_view, 10> kTopFields = {
    "kind",    "name", "description", "agent",     "campaign",
    "persona", "to",   "context",     "timeout_s", "expect"};
constexpr std::array<std::string_view, 7> kExpectFields = {
    "outcome", "ended_reason", "nodes", "nodes_include", "state", "transcript_contains", "dnc"};

template <size_t N>
std::string Joined(const std::array<std::string_view, N>& fields) {
  std::string out;
  for (std::string_view f : fields) absl::StrAppend(&out, out.empty() ? "" : ", ", AbslView(f));
  return out;
}

template <size_t N>
bool Known(const std::array<std::string_view, N>& fields, const std::string& name) {
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

// Reads one scenario document, each error naming the scenario and the field.
class Reader final {
 public:
  Reader(std::string_view source, std::string label) : source_(source), label_(std::move(label)) {}

  absl::Status Error(std::string_view field, std::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(source_), ": scenario ", label_, ": ",
                                                   AbslView(field), ": ", AbslView(problem)));
  }
  void Relabel(std::string label) { label_ = std::move(label); }

  absl::Status String(const json& doc, const char* field, std::string& out, bool required) const {
    auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) {
      return required ? Error(field, "required") : absl::OkStatus();
    }
    if (!it->is_string()) return Error(field, "must be a string");
    out = it->get<std::string>();
    if (required && out.empty()) return Error(field, "must not be empty");
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> Strings(const json& value,
                                                   std::string_view field) const {
    if (!value.is_array()) return Error(field, "must be a list of strings");
    std::vector<std::string> out;
    for (const json& v : value) {
      if (!v.is_string()) return Error(field, "must be a list of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }

  absl::Status Expect(const json& e, Expectations& out) const {
    if (!e.is_object()) return Error("expect", "must be a mapping");
    for (const auto& [key, value] : e.items()) {
      if (!Known(kExpectFields, key)) {
        return Error(absl::StrCat("expect.", key),
                     absl::StrCat("unknown field (want one of ", Joined(kExpectFields), ")"));
      }
    }
    PARLEY_RETURN_IF_ERROR(String(e, "outcome", out.outcome, false));
    if (out.outcome.empty()) return Error("expect.outcome", "required");
    if (!calls::ParseStatus(out.outcome)) {
      return Error("expect.outcome",
                   absl::StrCat("unknown status \"", out.outcome,
                                "\" (completed, busy, no_answer, declined, voicemail, failed, "
                                "canceled, rejected)"));
    }
    if (auto it = e.find("ended_reason"); it != e.end()) {
      if (!it->is_string()) return Error("expect.ended_reason", "must be a string");
      out.ended_reason = it->get<std::string>();
    }
    if (e.contains("nodes") && e.contains("nodes_include")) {
      return Error("expect.nodes", "give nodes (the exact list) or nodes_include, not both");
    }
    if (auto it = e.find("nodes"); it != e.end()) {
      PARLEY_ASSIGN_OR_RETURN(out.nodes, Strings(*it, "expect.nodes"));
    }
    if (auto it = e.find("nodes_include"); it != e.end()) {
      PARLEY_ASSIGN_OR_RETURN(out.nodes_include, Strings(*it, "expect.nodes_include"));
    }
    if (auto it = e.find("state"); it != e.end()) {
      if (!it->is_object()) return Error("expect.state", "must be a mapping of key: value");
      for (const auto& [key, value] : it->items()) out.state.emplace_back(key, value);
    }
    if (auto it = e.find("transcript_contains"); it != e.end()) {
      if (!it->is_array()) return Error("expect.transcript_contains", "must be a list");
      for (const json& p : *it) {
        if (p.is_string()) {
          out.transcript_contains.push_back({"", p.get<std::string>()});
          continue;
        }
        const std::string field = "expect.transcript_contains";
        if (!p.is_object()) return Error(field, "each entry is a phrase or {role, text}");
        TranscriptPhrase phrase;
        for (const auto& [key, value] : p.items()) {
          if (key != "role" && key != "text") {
            return Error(field, absl::StrCat("unknown field \"", key, "\" (want role, text)"));
          }
          if (!value.is_string()) return Error(field, absl::StrCat(key, " must be a string"));
        }
        phrase.role = p.value("role", "");
        phrase.text = p.value("text", "");
        if (phrase.role != "" && phrase.role != "agent" && phrase.role != "callee") {
          return Error(field, absl::StrCat("role \"", phrase.role, "\": want agent or callee"));
        }
        if (phrase.text.empty()) return Error(field, "text: required");
        out.transcript_contains.push_back(std::move(phrase));
      }
    }
    if (auto it = e.find("dnc"); it != e.end()) {
      if (!it->is_boolean()) return Error("expect.dnc", "must be true or false");
      out.dnc = it->get<bool>();
    }
    return absl::OkStatus();
  }

 private:
  std::string_view source_;
  std::string label_;
};

absl::StatusOr<Scenario> ParseOne(const json& doc, std::string_view source, int index) {
  Reader r(source, absl::StrCat("#", index));
  Scenario s;
  s.source = std::string(source);
  PARLEY_RETURN_IF_ERROR(r.String(doc, "name", s.name, true));
  r.Relabel(s.name);
  for (const auto& [key, value] : doc.items()) {
    if (!Known(kTopFields, key)) {
      return r.Error(key, absl::StrCat("unknown field (want one of ", Joined(kTopFields), ")"));
    }
  }
  PARLEY_RETURN_IF_ERROR(r.String(doc, "description", s.description, false));
  PARLEY_RETURN_IF_ERROR(r.String(doc, "agent", s.agent, true));
  PARLEY_RETURN_IF_ERROR(r.String(doc, "campaign", s.campaign, false));
  PARLEY_RETURN_IF_ERROR(r.String(doc, "persona", s.persona, true));
  PARLEY_RETURN_IF_ERROR(r.String(doc, "to", s.to, false));
  if (auto it = doc.find("context"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) return r.Error("context", "must be a mapping");
    s.context = *it;
  }
  if (auto it = doc.find("timeout_s"); it != doc.end()) {
    if (!it->is_number() || it->get<double>() <= 0) {
      return r.Error("timeout_s", "must be a positive number of seconds");
    }
    s.timeout = absl::Seconds(it->get<double>());
  }
  auto expect = doc.find("expect");
  if (expect == doc.end()) return r.Error("expect", "required (at least expect.outcome)");
  PARLEY_RETURN_IF_ERROR(r.Expect(*expect, s.expect));
  return s;
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(AbslView(s)); }

std::string ListText(const std::vector<std::string>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
}

// Whether `want` appears in `have` in order (not necessarily adjacent).
bool IsSubsequence(const std::vector<std::string>& want, const std::vector<std::string>& have) {
  size_t i = 0;
  for (const std::string& h : have) {
    if (i < want.size() && h == want[i]) ++i;
  }
  return i == want.size();
}

// The value at `key` of `state`: the key itself, else a dotted path into nested objects.
const json* Lookup(const json& state, const std::string& key) {
  if (auto it = state.find(key); it != state.end()) return &*it;
  const json* at = &state;
  for (const auto& part : absl::StrSplit(key, '.')) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(std::string(part));
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

}  // namespace

bool Scenario::PersonaIsPath() const {
  return persona.find('/') != std::string::npos || absl::EndsWith(persona, ".yaml") ||
         absl::EndsWith(persona, ".yml");
}

std::string Scenario::PersonaPath() const {
  fs::path p(persona);
  if (p.is_absolute()) return p.string();
  return (fs::path(source).parent_path() / p).lexically_normal().string();
}

absl::StatusOr<std::vector<Scenario>> ParseScenarios(std::string_view text,
                                                     std::string_view source) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<json> docs, docs::ParseYamlAsJson(text, source));
  std::vector<Scenario> out;
  int index = 0;
  for (const json& doc : docs) {
    ++index;
    if (!doc.is_object()) continue;
    auto kind = doc.find("kind");
    if (kind == doc.end() || *kind != "scenario") continue;
    PARLEY_ASSIGN_OR_RETURN(Scenario s, ParseOne(doc, source, index));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<Scenario>> LoadScenarios(const std::string& path) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  if (ec) return absl::NotFoundError(absl::StrCat(path, ": ", ec.message()));
  std::vector<Scenario> out;
  std::set<std::string> names;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat(file.string(), ": cannot read"));
    std::ostringstream text;
    text << in.rdbuf();
    PARLEY_ASSIGN_OR_RETURN(std::vector<Scenario> found, ParseScenarios(text.str(), file.string()));
    for (Scenario& s : found) {
      if (!names.insert(s.name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(file.string(), ": scenario ", s.name, ": name: used twice"));
      }
      out.push_back(std::move(s));
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no kind: scenario documents"));
  }
  return out;
}

std::vector<std::string> CheckScenario(const Expectations& expect, const Observed& observed) {
  std::vector<std::string> failures;
  if (observed.outcome != expect.outcome) {
    std::string why = observed.ended_reason;
    if (!observed.error.empty()) absl::StrAppend(&why, why.empty() ? "" : ": ", observed.error);
    failures.push_back(absl::StrCat("outcome: want ", expect.outcome, ", got ", observed.outcome,
                                    why.empty() ? "" : absl::StrCat(" (", why, ")")));
  }
  if (expect.ended_reason && *expect.ended_reason != observed.ended_reason) {
    failures.push_back(
        absl::StrCat("ended_reason: want ", *expect.ended_reason, ", got ",
                     observed.ended_reason.empty() ? "none" : observed.ended_reason));
  }
  if (expect.nodes && *expect.nodes != observed.nodes) {
    failures.push_back(
        absl::StrCat("nodes: want ", ListText(*expect.nodes), ", got ", ListText(observed.nodes)));
  }
  if (!expect.nodes_include.empty() && !IsSubsequence(expect.nodes_include, observed.nodes)) {
    failures.push_back(absl::StrCat("nodes_include: want ", ListText(expect.nodes_include),
                                    " in this order, got ", ListText(observed.nodes)));
  }
  for (const auto& [key, want] : expect.state) {
    const json* have = Lookup(observed.state, key);
    if (have == nullptr) {
      failures.push_back(absl::StrCat("state.", key, ": want ", want.dump(), ", got nothing"));
    } else if (*have != want) {
      failures.push_back(
          absl::StrCat("state.", key, ": want ", want.dump(), ", got ", have->dump()));
    }
  }
  for (const TranscriptPhrase& phrase : expect.transcript_contains) {
    const std::string needle = Lower(phrase.text);
    bool found = false;
    for (const auto& [role, text] : observed.transcript) {
      if ((phrase.role.empty() || phrase.role == role) && absl::StrContains(Lower(text), needle)) {
        found = true;
        break;
      }
    }
    if (!found) {
      failures.push_back(absl::StrCat("transcript: no ",
                                      phrase.role.empty() ? "" : phrase.role + " ", "turn says \"",
                                      phrase.text, "\""));
    }
  }
  if (expect.dnc && observed.dnc != expect.dnc) {
    failures.push_back(*expect.dnc ? "dnc: the number is not on the DNC list"
                                   : "dnc: the number is on the DNC list");
  }
  return failures;
}

}  // namespace parley::cli
