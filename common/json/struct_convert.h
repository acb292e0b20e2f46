// Conversion between google.protobuf.Struct / Value (how specs, overrides and conversation state
// travel in the API) and nlohmann::json (how Parley's code reads and edits them).
//
//   nlohmann::json spec = parley::json::StructToJson(resource.spec());
//   spec["llm"]["temperature"] = 0.3;
//   PARLEY_ASSIGN_OR_RETURN(*resource.mutable_spec(), parley::json::JsonToStruct(spec, "spec"));
//
// Numbers: a Struct number is always a double. StructToJson writes whole doubles within ±2^53 as
// JSON integers, so `3` survives a round trip as `3` and not `3.0`; other doubles stay doubles.
// JsonToValue turns every JSON number into a double, so integers beyond ±2^53 lose precision (the
// same happens in any proto3 JSON Struct). Non-finite doubles (NaN, ±inf), which JSON cannot
// represent, become null in JSON.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"

namespace parley::json {

// Deepest nesting of objects and arrays JsonToStruct/JsonToValue accept. Every JSON level is two
// protobuf message levels (Struct → Value), and protobuf refuses to parse messages nested deeper
// than 100 levels; 32 keeps any converted value well inside that limit.
inline constexpr int kMaxStructDepth = 32;

// Returns the JSON object equivalent of `value`. Never fails.
nlohmann::json StructToJson(const google::protobuf::Struct& value);

// Returns the JSON equivalent of `value` (an unset Value, kind not set, becomes null). Never fails.
nlohmann::json ValueToJson(const google::protobuf::Value& value);

// OK when `value` survives StructToJson and JsonToStruct unchanged; otherwise INVALID_ARGUMENT
// "field.a.b: …" for nesting deeper than kMaxStructDepth (JsonToStruct would refuse it when the
// value is read back) or a non-finite number (JSON has none: it would come back null). For a
// Struct that arrives in a request and is stored as JSON. Allocates nothing unless it fails.
absl::Status CheckStructRoundTrips(const google::protobuf::Struct& value, std::string_view field);

// Returns `object` as a Struct. INVALID_ARGUMENT "field: must be a JSON object" when `object` is
// not an object, "field.a.b: …" when a nested value cannot be represented (binary values, nesting
// deeper than kMaxStructDepth).
absl::StatusOr<google::protobuf::Struct> JsonToStruct(const nlohmann::json& object,
                                                      std::string_view field = "value");

// Returns `value` (any JSON value) as a Value. INVALID_ARGUMENT with the field path as
// JsonToStruct.
absl::StatusOr<google::protobuf::Value> JsonToValue(const nlohmann::json& value,
                                                    std::string_view field = "value");

}  // namespace parley::json
