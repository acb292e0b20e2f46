// JSON merge patches (RFC 7386) and parsing of JSON objects received as text.
//
// MergePatch is Parley's one "deep merge": config-api merges a template with a campaign's
// overrides and a call's overrides with it (template → campaign → call), and the state service
// applies `set_state` patches to a conversation's state with it. Objects merge recursively, a null
// in the patch deletes the key, and anything else in the patch (arrays included) replaces the
// target's value whole.
//
//   PARLEY_ASSIGN_OR_RETURN(nlohmann::json patch,
//                           parley::json::ParseJsonObject(request.patch_json(), "patch_json"));
//   state = parley::json::MergePatch(std::move(state), patch);
//   // {"a": {"b": 1, "c": 2}} patched with {"a": {"b": null, "d": [3]}} → {"a": {"c": 2, "d":
//   [3]}}
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"

namespace parley::json {

// Returns `target` with `patch` applied, exactly as RFC 7386 §2 defines it:
//   - `patch` not an object → the result is `patch` (a null patch yields null);
//   - `patch` an object → a non-object `target` is first replaced by {}; then for each member of
//     `patch`, a null value removes the key from the target, any other value replaces the key's
//     value with MergePatch(target[key], value) (so nested objects merge, and nulls nested inside
//     a new object are dropped).
// Never fails. Pass `target` by std::move to patch it in place without a copy.
nlohmann::json MergePatch(nlohmann::json target, const nlohmann::json& patch);

// Parses `text` as a JSON object. INVALID_ARGUMENT "field: not valid JSON (parse error at line 1,
// column 5: …)" when it does not parse, "field: must be a JSON object" when it parses to anything
// but an object. The parse error never quotes the input (it may hold a secret).
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view field);

}  // namespace parley::json
