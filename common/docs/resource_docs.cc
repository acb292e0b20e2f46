#include "common/docs/resource_docs.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/docs/yaml_json.h"
#include "common/status/status.h"

namespace parley::docs {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 9> kApplyOrder = {"credential", "trunk",         "prompt",
                                                         "template",   "graph",         "agent",
                                                         "campaign",   "inbound_route", "dnc"};

constexpr std::array<std::string_view, 4> kTopLevelFields = {"kind", "name", "labels", "spec"};
constexpr std::array<std::string_view, 4> kDncFields = {"number", "campaign", "reason", "call_id"};

int LineOf(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

absl::Status ErrorAt(std::string_view source, int line, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(source), ":", line, ": ", AbslView(what)));
}

template <size_t N>
bool Contains(const std::array<std::string_view, N>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

template <size_t N>
std::string JoinList(const std::array<std::string_view, N>& list) {
  std::vector<std::string> parts(list.begin(), list.end());
  return absl::StrJoin(parts, ", ");
}

// config-api's rule for resource names (Resource.name in config.proto); checked here too so a
// bad name is reported with its line before anything is sent.
bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  if (!std::all_of(name.begin(), name.end(), ok)) return false;
  return name.front() != '-' && name.back() != '-';
}

// A top-level field of a document: its value and the line of its key.
struct Field {
  YAML::Node value;
  int line;
};
using Fields = std::map<std::string, Field>;

class DocParser final {
 public:
  explicit DocParser(std::string_view source) : source_(source) {}

  absl::Status Add(const YAML::Node& node) {
    const int line = LineOf(node, 1);
    if (!node.IsMap()) {
      return ErrorAt(source_, line, "a document must be a mapping with kind, name and spec");
    }
    if (IsClientSideDoc(node)) return absl::OkStatus();
    Fields fields;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      const int key_line = LineOf(key, line);
      if (!key.IsScalar()) return ErrorAt(source_, key_line, "mapping keys must be strings");
      const std::string& name = key.Scalar();
      if (!Contains(kTopLevelFields, name)) {
        return ErrorAt(
            source_, key_line,
            absl::StrCat(name, ": unknown field (want ", JoinList(kTopLevelFields), ")"));
      }
      if (!fields.emplace(name, Field{entry.second, key_line}).second) {
        return ErrorAt(source_, key_line, absl::StrCat("duplicate key \"", name, "\""));
      }
    }

    ResourceDoc doc;
    doc.source = std::string(source_);
    doc.line = line;
    PARLEY_RETURN_IF_ERROR(ParseKind(fields, doc));
    PARLEY_RETURN_IF_ERROR(ParseName(fields, doc));
    PARLEY_RETURN_IF_ERROR(ParseLabels(fields, doc));
    PARLEY_RETURN_IF_ERROR(ParseSpec(fields, doc));
    docs_.push_back(std::move(doc));
    return absl::OkStatus();
  }

  std::vector<ResourceDoc> Take() { return std::move(docs_); }

 private:
  // A mapping whose `kind` is a client-side kind (a persona): not a resource, not our business.
  static bool IsClientSideDoc(const YAML::Node& node) {
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && entry.first.Scalar() == "kind") {
        return entry.second.IsScalar() && IsClientSideKind(entry.second.Scalar());
      }
    }
    return false;
  }

  // The text of a scalar field whose key is on `line`.
  absl::StatusOr<std::string> ScalarText(const YAML::Node& node, std::string_view field,
                                         int line) const {
    if (!node.IsScalar()) {
      return ErrorAt(source_, line, absl::StrCat(AbslView(field), ": must be a string"));
    }
    return node.Scalar();
  }

  absl::Status ParseKind(const Fields& fields, ResourceDoc& doc) const {
    auto it = fields.find("kind");
    if (it == fields.end() || it->second.value.IsNull()) {
      const int line = it == fields.end() ? doc.line : it->second.line;
      return ErrorAt(source_, line, absl::StrCat("kind: required (want ", JoinList(kKinds), ")"));
    }
    const Field& field = it->second;
    PARLEY_ASSIGN_OR_RETURN(std::string kind, ScalarText(field.value, "kind", field.line));
    if (!IsKnownKind(kind)) {
      return ErrorAt(
          source_, field.line,
          absl::StrCat("kind: unknown kind \"", kind, "\" (want ", JoinList(kKinds), ")"));
    }
    doc.kind = std::move(kind);
    return absl::OkStatus();
  }

  absl::Status ParseName(const Fields& fields, ResourceDoc& doc) const {
    auto it = fields.find("name");
    if (it == fields.end() || it->second.value.IsNull()) {
      if (doc.kind == "dnc") return absl::OkStatus();
      const int line = it == fields.end() ? doc.line : it->second.line;
      return ErrorAt(source_, line, "name: required");
    }
    const Field& field = it->second;
    PARLEY_ASSIGN_OR_RETURN(std::string name, ScalarText(field.value, "name", field.line));
    if (!IsValidName(name)) {
      return ErrorAt(source_, field.line,
                     absl::StrCat("name: \"", name,
                                  "\" is not a valid name (1-63 characters: lower-case letters, "
                                  "digits and '-', not starting or ending with '-')"));
    }
    doc.name = std::move(name);
    return absl::OkStatus();
  }

  absl::Status ParseLabels(const Fields& fields, ResourceDoc& doc) const {
    auto it = fields.find("labels");
    if (it == fields.end() || it->second.value.IsNull()) return absl::OkStatus();
    const YAML::Node& labels = it->second.value;
    const int line = it->second.line;
    if (!labels.IsMap()) return ErrorAt(source_, line, "labels: must be a mapping of strings");
    for (const auto& entry : labels) {
      if (!entry.first.IsScalar()) {
        return ErrorAt(source_, LineOf(entry.first, line), "labels: keys must be strings");
      }
      const std::string& key = entry.first.Scalar();
      const int key_line = LineOf(entry.first, line);
      const std::string field = absl::StrCat("labels.", key);
      if (entry.second.IsNull()) {
        return ErrorAt(source_, key_line, absl::StrCat(AbslView(field), ": must be a string"));
      }
      PARLEY_ASSIGN_OR_RETURN(std::string value, ScalarText(entry.second, field, key_line));
      if (!doc.labels.emplace(key, std::move(value)).second) {
        return ErrorAt(source_, key_line, absl::StrCat("labels: duplicate key \"", key, "\""));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseSpec(const Fields& fields, ResourceDoc& doc) const {
    auto it = fields.find("spec");
    if (it == fields.end()) return ErrorAt(source_, doc.line, "spec: required");
    const Field& field = it->second;
    if (!field.value.IsMap()) return ErrorAt(source_, field.line, "spec: must be a mapping");
    PARLEY_ASSIGN_OR_RETURN(doc.spec, YamlToJson(field.value, source_));
    if (doc.kind == "dnc") return CheckDncSpec(field, doc);
    return absl::OkStatus();
  }

  absl::Status CheckDncSpec(const Field& spec, const ResourceDoc& doc) const {
    const YAML::Node& spec_node = spec.value;
    const int line = spec.line;
    for (const auto& entry : spec_node) {
      const std::string& key = entry.first.Scalar();
      const int key_line = LineOf(entry.first, line);
      if (!Contains(kDncFields, key)) {
        return ErrorAt(
            source_, key_line,
            absl::StrCat("spec.", key, ": unknown field (want ", JoinList(kDncFields), ")"));
      }
      if (!doc.spec.at(key).is_string()) {
        return ErrorAt(source_, key_line, absl::StrCat("spec.", key, ": must be a string"));
      }
    }
    if (!doc.spec.contains("number")) return ErrorAt(source_, line, "spec.number: required");
    return absl::OkStatus();
  }

  std::string_view source_;
  std::vector<ResourceDoc> docs_;
};

// Two documents for the same resource would make apply's result depend on their order.
absl::Status CheckUnique(const std::vector<ResourceDoc>& docs) {
  std::map<std::string, const ResourceDoc*> seen;
  for (const ResourceDoc& doc : docs) {
    if (doc.name.empty()) continue;  // unnamed dnc entries; adding one twice is harmless
    const std::string ref = Reference(doc);
    auto [it, inserted] = seen.emplace(ref, &doc);
    if (!inserted) {
      return ErrorAt(doc.source, doc.line,
                     absl::StrCat(ref, ": defined twice (first at ", Location(*it->second), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ResourceDoc>> ParseUnchecked(std::string_view text,
                                                        std::string_view source) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<YAML::Node> roots, ParseYamlStream(text, source));
  DocParser parser(source);
  try {
    for (const YAML::Node& root : roots) {
      if (root.IsNull()) continue;
      if (!root.IsSequence()) {
        PARLEY_RETURN_IF_ERROR(parser.Add(root));
        continue;
      }
      for (const YAML::Node& item : root) {
        if (!item.IsNull()) PARLEY_RETURN_IF_ERROR(parser.Add(item));
      }
    }
  } catch (const std::exception& e) {
    // yaml-cpp accessors throw only on internal inconsistencies; report them as bad input.
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source), ": malformed YAML: ", e.what()));
  }
  return parser.Take();
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(path.string(), ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(absl::StrCat(path.string(), ": cannot read"));
  }
  return text.str();
}

bool IsResourceFile(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

bool IsHidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name.front() == '.';
}

absl::StatusOr<std::vector<fs::path>> ListResourceFiles(const fs::path& dir, bool recursive) {
  std::vector<fs::path> files;
  std::error_code ec;
  auto consider = [&files](const fs::directory_entry& entry) {
    std::error_code file_ec;
    if (entry.is_regular_file(file_ec) && IsResourceFile(entry.path())) {
      files.push_back(entry.path());
    }
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (IsHidden(it->path())) {
        it.disable_recursion_pending();
        continue;
      }
      consider(*it);
    }
  } else {
    fs::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (!IsHidden(it->path())) consider(*it);
    }
  }
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir.string(), ": cannot list directory: ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

bool IsKnownKind(std::string_view kind) { return Contains(kKinds, kind); }

bool IsClientSideKind(std::string_view kind) { return Contains(kClientSideKinds, kind); }

absl::StatusOr<std::vector<ResourceDoc>> ParseResourceDocs(std::string_view text,
                                                           std::string_view source) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<ResourceDoc> docs, ParseUnchecked(text, source));
  PARLEY_RETURN_IF_ERROR(CheckUnique(docs));
  return docs;
}

absl::StatusOr<std::vector<ResourceDoc>> LoadResourceDocs(std::string_view path,
                                                          const LoadOptions& options) {
  const fs::path root{std::string(path)};
  std::error_code ec;
  const fs::file_status status = fs::status(root, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat(AbslView(path), ": no such file or directory"));
  }
  std::vector<fs::path> files;
  if (fs::is_directory(status)) {
    PARLEY_ASSIGN_OR_RETURN(files, ListResourceFiles(root, options.recursive));
  } else {
    files.push_back(root);
  }
  std::vector<ResourceDoc> all;
  for (const fs::path& file : files) {
    PARLEY_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    PARLEY_ASSIGN_OR_RETURN(std::vector<ResourceDoc> docs, ParseUnchecked(text, file.string()));
    std::move(docs.begin(), docs.end(), std::back_inserter(all));
  }
  PARLEY_RETURN_IF_ERROR(CheckUnique(all));
  return all;
}

std::vector<ResourceDoc> OrderForApply(std::vector<ResourceDoc> docs) {
  auto rank = [](const ResourceDoc& doc) {
    return std::find(kApplyOrder.begin(), kApplyOrder.end(), doc.kind) - kApplyOrder.begin();
  };
  std::stable_sort(docs.begin(), docs.end(), [&rank](const ResourceDoc& a, const ResourceDoc& b) {
    return rank(a) < rank(b);
  });
  return docs;
}

std::string Location(const ResourceDoc& doc) { return absl::StrCat(doc.source, ":", doc.line); }

std::string Reference(const ResourceDoc& doc) {
  if (doc.name.empty() && doc.kind == "dnc") {
    auto number = doc.spec.find("number");
    if (number != doc.spec.end() && number->is_string()) {
      return absl::StrCat("dnc/", number->get<std::string>());
    }
  }
  return absl::StrCat(doc.kind, "/", doc.name);
}

}  // namespace parley::docs
