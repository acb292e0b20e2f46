// YAML to JSON, the way Parley's hand-written configuration files mean it.
//
// Resource documents (resource_docs.h), simulated-callee personas and test scenarios are YAML,
// and everything downstream of them is JSON. This converts parsed YAML (yaml-cpp) to
// nlohmann::json with YAML 1.2 core-schema typing, so that a value is only a number, a bool or
// null when it clearly is one:
//   - quoted scalars and block scalars (| and >) are always strings: "09:00", '0123', "true";
//   - unquoted true/false (also True, TRUE, False, FALSE) are bools; null, Null, NULL, ~ and an
//     empty value are null;
//   - unquoted decimal numbers are numbers: 42 and -7 are integers, 0.5, -1.5e3 and .5 doubles;
//   - everything else is a string, including what YAML 1.1 would have turned into something
//     else: yes/no/on/off, sexagesimal 09:00 and 1:30, octal-looking 0123, hex 0x1F, 1_000,
//     .inf/.nan, and any number written with a leading '+' (so an unquoted E.164 number such as
//     +14155550100 stays a string).
// Explicit core tags are honoured (!!str 12 is "12", !!int "12" is 12), merge keys (<<: *anchor)
// are expanded, and duplicate keys are an error rather than silently dropped.
//
//   PARLEY_ASSIGN_OR_RETURN(std::vector<nlohmann::json> docs,
//                           ParseYamlAsJson(text, "personas/busy.yaml"));
//   for (const nlohmann::json& doc : docs) { ... }
#pragma once

#include <yaml-cpp/yaml.h>

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace parley::docs {

// The JSON value of an unquoted, untagged YAML scalar (see the rules above). Never fails: text
// that is not clearly a bool, null or number is returned as a string.
nlohmann::json ResolvePlainScalar(std::string_view text);

// Parses `text` as a YAML stream: every document, in order, including empty ones (as null
// nodes). `source` names the text in errors (a file path). Fails with INVALID_ARGUMENT
// "<source>:<line>: malformed YAML: <parser message>" (line 1-based) on a syntax error.
absl::StatusOr<std::vector<YAML::Node>> ParseYamlStream(std::string_view text,
                                                        std::string_view source);

// Converts one parsed YAML node (and everything under it) to JSON. Fails with INVALID_ARGUMENT
// "<source>:<line>: <what>" on a mapping key that is not a string, a duplicate key, a merge key
// whose value is not a mapping (or list of mappings), an unsupported tag (!foo), a value that
// does not match its explicit tag (!!int abc), nesting deeper than 100 levels or a document that
// expands to more than 1,000,000 values (an alias bomb).
absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, std::string_view source);

// ParseYamlStream followed by YamlToJson on each document; empty documents are skipped. Fails as
// those do.
absl::StatusOr<std::vector<nlohmann::json>> ParseYamlAsJson(std::string_view text,
                                                            std::string_view source);

}  // namespace parley::docs
