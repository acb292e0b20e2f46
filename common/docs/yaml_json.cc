#include "common/docs/yaml_json.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::docs {
namespace {

constexpr int kMaxDepth = 100;
constexpr int64_t kMaxValues = 1'000'000;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMap = "tag:yaml.org,2002:map";
constexpr std::string_view kTagSeq = "tag:yaml.org,2002:seq";
// yaml-cpp's tags for untagged nodes: "?" for plain scalars and collections, "!" for quoted and
// block scalars (the "non-specific" tags of the YAML spec).
constexpr std::string_view kTagPlain = "?";
constexpr std::string_view kTagQuoted = "!";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool IsNullWord(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Decimal numbers only: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? or -?\.[0-9]+(exponent)?.
// A leading '+' or a leading zero makes the text a string (phone numbers, zip codes, YAML 1.1
// octal), as does a value too large for a double.
std::optional<nlohmann::json> ParseNumber(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  const size_t int_start = i;
  while (i < n && IsDigit(s[i])) ++i;
  const size_t int_len = i - int_start;
  if (int_len > 1 && s[int_start] == '0') return std::nullopt;
  bool is_float = false;
  if (i < n && s[i] == '.') {
    const size_t frac_start = ++i;
    while (i < n && IsDigit(s[i])) ++i;
    if (i == frac_start) return std::nullopt;
    is_float = true;
  }
  if (int_len == 0 && !is_float) return std::nullopt;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exp_start = i;
    while (i < n && IsDigit(s[i])) ++i;
    if (i == exp_start) return std::nullopt;
    is_float = true;
  }
  if (i != n) return std::nullopt;

  const char* first = s.data();
  const char* last = s.data() + n;
  if (!is_float) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc() && ptr == last) return nlohmann::json(v);
    if (s[0] != '-') {
      uint64_t u = 0;
      auto [uptr, uec] = std::from_chars(first, last, u);
      if (uec == std::errc() && uptr == last) return nlohmann::json(u);
    }
    // Too large for 64 bits: still clearly a number; fall through to double.
  }
  double d = 0;
  auto [ptr, ec] = std::from_chars(first, last, d);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return nlohmann::json(d);
}

class Converter final {
 public:
  explicit Converter(std::string_view source) : source_(source) {}

  absl::StatusOr<nlohmann::json> Convert(const YAML::Node& node, int depth) {
    if (depth > kMaxDepth) return Error(node, "nesting deeper than 100 levels");
    if (--budget_ < 0) {
      return Error(node, "document expands to more than 1,000,000 values (alias loop?)");
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        // `key: !!str` (a tagged empty value) is the empty string, not null.
        if (node.Tag() == kTagStr) return nlohmann::json("");
        return nlohmann::json(nullptr);
      case YAML::NodeType::Scalar:
        return ConvertScalar(node);
      case YAML::NodeType::Sequence:
        return ConvertSequence(node, depth);
      case YAML::NodeType::Map:
        return ConvertMap(node, depth);
    }
    return Error(node, "unknown YAML node type");
  }

 private:
  absl::Status Error(const YAML::Node& node, std::string_view what) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(AbslView(source_), ": ", AbslView(what)));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source_), ":", mark.line + 1, ": ", AbslView(what)));
  }

  absl::Status CheckCollectionTag(const YAML::Node& node, std::string_view want) const {
    const std::string& tag = node.Tag();
    if (tag.empty() || tag == kTagPlain || tag == kTagQuoted || tag == want) {
      return absl::OkStatus();
    }
    return Error(node, absl::StrCat("unsupported tag \"", tag, "\""));
  }

  absl::StatusOr<nlohmann::json> ConvertScalar(const YAML::Node& node) const {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == kTagPlain) return ResolvePlainScalar(text);
    if (tag == kTagQuoted || tag == kTagStr) return nlohmann::json(text);
    if (tag == kTagNull) {
      if (IsNullWord(text)) return nlohmann::json(nullptr);
      return Error(node, absl::StrCat("\"", text, "\" is not a null (tagged !!null)"));
    }
    if (tag == kTagBool) {
      if (std::optional<bool> b = ParseBool(text)) return nlohmann::json(*b);
      return Error(node, absl::StrCat("\"", text, "\" is not a bool (tagged !!bool)"));
    }
    if (tag == kTagInt || tag == kTagFloat) {
      std::optional<nlohmann::json> number = ParseNumber(text);
      if (number.has_value() && tag == kTagFloat) return nlohmann::json(number->get<double>());
      if (number.has_value() && !number->is_number_float()) return *number;
      return Error(node, absl::StrCat("\"", text, "\" is not ",
                                      tag == kTagInt ? "an integer (tagged !!int)"
                                                     : "a number (tagged !!float)"));
    }
    return Error(node, absl::StrCat("unsupported tag \"", tag, "\""));
  }

  absl::StatusOr<nlohmann::json> ConvertSequence(const YAML::Node& node, int depth) {
    PARLEY_RETURN_IF_ERROR(CheckCollectionTag(node, kTagSeq));
    nlohmann::json array = nlohmann::json::array();
    for (const YAML::Node& item : node) {
      PARLEY_ASSIGN_OR_RETURN(nlohmann::json value, Convert(item, depth + 1));
      array.push_back(std::move(value));
    }
    return array;
  }

  // Explicit keys win over merged ones, and earlier merge sources over later ones (YAML merge
  // key semantics), whatever the order in which the keys are written.
  absl::StatusOr<nlohmann::json> ConvertMap(const YAML::Node& node, int depth) {
    PARLEY_RETURN_IF_ERROR(CheckCollectionTag(node, kTagMap));
    nlohmann::json object = nlohmann::json::object();
    std::vector<std::pair<YAML::Node, nlohmann::json>> merges;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) return Error(key, "mapping keys must be strings");
      const std::string& name = key.Scalar();
      PARLEY_ASSIGN_OR_RETURN(nlohmann::json value, Convert(entry.second, depth + 1));
      if (name == "<<" && key.Tag() == kTagPlain) {
        merges.emplace_back(entry.second, std::move(value));
        continue;
      }
      if (object.contains(name)) return Error(key, absl::StrCat("duplicate key \"", name, "\""));
      object[name] = std::move(value);
    }
    for (const auto& [merge_node, merge_value] : merges) {
      std::vector<const nlohmann::json*> sources;
      if (merge_value.is_object()) {
        sources.push_back(&merge_value);
      } else if (merge_value.is_array()) {
        for (const nlohmann::json& item : merge_value) sources.push_back(&item);
      }
      const bool all_objects = std::all_of(sources.begin(), sources.end(),
                                           [](const nlohmann::json* j) { return j->is_object(); });
      if (sources.empty() || !all_objects) {
        return Error(merge_node, "<<: merge value must be a mapping or a list of mappings");
      }
      for (const nlohmann::json* src : sources) {
        for (const auto& [k, v] : src->items()) {
          if (!object.contains(k)) object[k] = v;
        }
      }
    }
    return object;
  }

  std::string_view source_;
  int64_t budget_ = kMaxValues;
};

// yaml-cpp 0.7's LoadAll never returns on some malformed streams: a stray flow indicator (a
// lone ",") at the start of a document is never consumed, so every Parser::HandleNextDocument
// reports one more empty document at the same place, and LoadAll collects them until memory runs
// out. A first pass over the parser's events (cheap: no nodes are built) checks that every
// document starts after the previous one; only then does LoadAll see the stream.
class DocumentProgress final : public YAML::EventHandler {
 public:
  // Whether this document started where the previous one did (the parser is stuck).
  bool stuck() const { return stuck_; }
  const YAML::Mark& at() const { return at_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    stuck_ = started_ && mark.pos <= at_.pos;
    started_ = true;
    at_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool started_ = false;
  bool stuck_ = false;
  YAML::Mark at_ = YAML::Mark::null_mark();
};

// OK when yaml-cpp can read `text` document by document to its end; INVALID_ARGUMENT naming the
// line where its parser stops making progress. YAML::Exception propagates (the caller maps it).
absl::Status CheckDocumentsEnd(const std::string& text, std::string_view source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentProgress progress;
  while (parser.HandleNextDocument(progress)) {
    if (progress.stuck()) {
      return absl::InvalidArgumentError(absl::StrCat(AbslView(source), ":", progress.at().line + 1,
                                                     ": malformed YAML: unexpected character"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

nlohmann::json ResolvePlainScalar(std::string_view text) {
  if (IsNullWord(text)) return nullptr;
  if (std::optional<bool> b = ParseBool(text)) return *b;
  if (std::optional<nlohmann::json> number = ParseNumber(text)) return *std::move(number);
  return std::string(text);
}

absl::StatusOr<std::vector<YAML::Node>> ParseYamlStream(std::string_view text,
                                                        std::string_view source) {
  try {
    std::string owned(text);
    PARLEY_RETURN_IF_ERROR(CheckDocumentsEnd(owned, source));
    return YAML::LoadAll(owned);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(source), ": malformed YAML: ", e.msg));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source), ":", e.mark.line + 1, ": malformed YAML: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source), ": malformed YAML: ", e.what()));
  }
}

absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, std::string_view source) {
  // yaml-cpp accessors throw on internal inconsistencies (e.g. an unresolved alias); report
  // them as bad input rather than letting them escape.
  try {
    Converter converter(source);
    return converter.Convert(node, 0);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source), ": malformed YAML: ", e.what()));
  }
}

absl::StatusOr<std::vector<nlohmann::json>> ParseYamlAsJson(std::string_view text,
                                                            std::string_view source) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<YAML::Node> nodes, ParseYamlStream(text, source));
  std::vector<nlohmann::json> docs;
  for (const YAML::Node& node : nodes) {
    if (node.IsNull()) continue;
    PARLEY_ASSIGN_OR_RETURN(nlohmann::json doc, YamlToJson(node, source));
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace parley::docs
