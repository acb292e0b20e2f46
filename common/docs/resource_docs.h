// Resource documents: the YAML/JSON files that `parleyctl apply -f FILE|DIR` (and tests) load.
//
// A file holds one or more documents separated by `---`; JSON files work too (JSON is YAML).
// Each document describes one configuration resource of config-api:
//
//   kind: template                    # template, prompt, graph, agent, campaign, trunk,
//   name: payment-reminder-voice      #   credential, inbound_route or dnc
//   labels: {team: billing}           # optional, string values
//   spec:                             # the kind's *Spec message (protos/parley/v1/config.proto)
//     stt: {provider: pocketsphinx, language: en-US}
//
// `dnc` documents put a number on the do-not-call list: spec {number, campaign?, reason?,
// call_id?}, and need no name. A file may also hold a list of documents at the top level, and
// empty documents are skipped. Values are typed as yaml_json.h describes: only clear numbers,
// bools and nulls become JSON numbers, bools and null; "09:00", yes/no and +14155550100 stay
// strings. Whether a spec is valid is config-api's business; this only checks the envelope
// (kind, name, labels, spec) and reports every problem with the file and line:
//
//   examples/a.yaml:12: kind: unknown kind "tempalte" (want template, prompt, ...)
//
// Usage:
//   PARLEY_ASSIGN_OR_RETURN(std::vector<ResourceDoc> docs, LoadResourceDocs("deploy/examples"));
//   for (const ResourceDoc& doc : OrderForApply(std::move(docs))) {
//     // CreateResource / UpdateResource(allow_missing) with doc.kind, doc.name, doc.spec ...
//     std::cout << Reference(doc) << " applied (" << Location(doc) << ")\n";
//   }
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace parley::docs {

// The kinds a document may declare, as spelled in `kind:` (the proto's ResourceKind names in
// lower case without the prefix, plus `dnc`), in the order error messages list them.
inline constexpr std::array<std::string_view, 9> kKinds = {"template",   "prompt",        "graph",
                                                           "agent",      "campaign",      "trunk",
                                                           "credential", "inbound_route", "dnc"};

// One document of a resource file.
struct ResourceDoc {
  // One of kKinds.
  std::string kind;
  // The resource's name (lower-kebab-case, 1-63 characters); empty only for `dnc` documents.
  std::string name;
  // Free-form labels (`team: billing`); values that were YAML numbers or bools keep their text.
  std::map<std::string, std::string> labels;
  // The spec, a JSON object.
  nlohmann::json spec = nlohmann::json::object();
  // Where the document came from: the file path (or whatever name the caller gave the text).
  std::string source;
  // 1-based line at which the document's content starts in `source`.
  int line = 0;
};

// Kinds of documents that live beside resources but are read by clients, not config-api:
// simulated-callee personas (common/callee/persona.h) and agent test scenarios (`parleyctl test`,
// cli/parleyctl/scenario.h). The loader skips them, so a directory such as deploy/examples can
// hold them and still be applied as a whole.
inline constexpr std::array<std::string_view, 2> kClientSideKinds = {"persona", "scenario"};

// Whether `kind` is one of kKinds (exact, case-sensitive).
bool IsKnownKind(std::string_view kind);

// Whether `kind` is one of kClientSideKinds.
bool IsClientSideKind(std::string_view kind);

// Parses every document in `text`, in order, skipping documents of a client-side kind (whatever
// else they hold). `source` names the text in error messages.
// Returns the documents (possibly none, for an empty or comment-only text). Fails with
// INVALID_ARGUMENT "<source>:<line>: <field>: <problem>" on malformed YAML, a document that is not
// a mapping, an unknown top-level field, a missing or unknown kind, a missing (non-dnc) or
// malformed name, labels that are not a mapping of strings, a missing spec or one that is not a
// mapping, a dnc spec without a string `number` (or with fields other than number, campaign,
// reason, call_id), a YAML value yaml_json.h rejects, or two documents with the same kind and name.
absl::StatusOr<std::vector<ResourceDoc>> ParseResourceDocs(std::string_view text,
                                                           std::string_view source);

struct LoadOptions {
  // For a directory: also load files in its subdirectories.
  bool recursive = true;
};

// Loads `path`: a file (parsed whatever its extension), or a directory, whose *.yaml, *.yml and
// *.json files (recursively unless options.recursive is false; names starting with '.' are
// skipped) are loaded in order of their paths, so the result is deterministic. Each document's
// `source` is its file's path as reached from `path`. Returns every document, in file order.
// Fails with NOT_FOUND if `path` does not exist, FAILED_PRECONDITION if a file cannot be read, and
// as ParseResourceDocs does (also when two files define the same kind and name).
absl::StatusOr<std::vector<ResourceDoc>> LoadResourceDocs(std::string_view path,
                                                          const LoadOptions& options = {});

// `docs` stably sorted so that everything a resource references is created before it:
// credential, trunk, prompt, template, graph, agent, campaign, inbound_route, dnc. Documents of
// the same kind keep their order.
std::vector<ResourceDoc> OrderForApply(std::vector<ResourceDoc> docs);

// "<source>:<line>", for messages about a document ("deploy/examples/common.yaml:4").
std::string Location(const ResourceDoc& doc);

// "<kind>/<name>" ("template/offline-default"); for an unnamed dnc document "dnc/<number>".
std::string Reference(const ResourceDoc& doc);

}  // namespace parley::docs
