// Proto3 JSON for resource specs: a spec (a JSON object) is validated by parsing it into its *Spec
// message, and parse failures become INVALID_ARGUMENT errors that start with the field path.
//
//   parley::v1::TemplateSpec spec;
//   PARLEY_RETURN_IF_ERROR(parley::json::ParseSpec(StructToJson(resource.spec()), "template",
//   &spec));
//   // {"llm": {"temprature": 1}}       → "template.llm.temprature: unknown field"
//   // {"llm": {"temperature": "hot"}}  → "template.llm.temperature: expected a number, got
//   \"hot\""
//   // {"nodes": [{}, {"transitions": [{"to": 3}]}]} (GraphSpec, path "graph")
//   //                                  → "graph.nodes[1].transitions[0].to: expected a string, got
//   3"
//
// Parsing follows the proto3 JSON mapping (google::protobuf::util::JsonStringToMessage) with
// unknown fields rejected. Like every proto3 JSON parser it also accepts the lowerCamelCase
// spelling of a field ("maxTokens" for "max_tokens"), a single value where a list is expected, and
// numbers written as strings ("1.5"); semantic range checks are the caller's.
#pragma once

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/status.h"

namespace parley::json {

// Clears `out` and parses `spec` into it. OK on success; otherwise INVALID_ARGUMENT
// "<path>.<field path>: <reason>", where the field path names the offending field with list
// indexes and map keys ("template.llm.fallbacks[1].model", "graph.tools[0].http.headers.X-Key")
// and the reason is "unknown field" or "expected <what the field takes>, got <value>";
// "<path>: must be a JSON object" when `spec` is not an object.
absl::Status ParseSpec(const nlohmann::json& spec, std::string_view path,
                       google::protobuf::Message* out);

// Returns `message` in the proto3 JSON mapping with the proto (lower_snake_case) field names;
// fields at their default value are omitted, int64 values are strings and non-finite doubles are
// "NaN"/"Infinity" (the mapping's rules). Every parley.v1 message prints; for a message protobuf
// refuses to print (an Any of an unknown type) or whose strings are not UTF-8, returns null.
nlohmann::json MessageToJson(const google::protobuf::Message& message);

}  // namespace parley::json
