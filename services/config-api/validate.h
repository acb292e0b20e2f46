// Validation of configuration resources (protos/parley/v1/config.proto, the *Spec messages).
//
// A spec is first parsed into its kind's *Spec message (proto3 JSON, unknown fields rejected),
// then checked against the semantic rules stated in the field comments: known provider names
// (common/providers), numeric ranges, E.164 numbers, IANA time zones, calling windows, prompt
// variables, graph structure and transition conditions, names of referenced resources. Whether
// referenced resources exist is not checked here (see references.h); everything else is.
//
// Every failure is INVALID_ARGUMENT whose message starts with the full field path, the resource
// kind first:
//   template.llm.temperature: must be in [0, 2]
//   graph.nodes[2].transitions[0].to: node "bok" does not exist
//   campaign.calling_window.time_zone: unknown IANA time zone "Mars/Base"
//   name: must be 1-63 characters ...                      (the resource name itself)
// The first violation found is reported.
//
//   PARLEY_RETURN_IF_ERROR(ValidateSpec(resource.kind(), resource.name(), spec_json));
//   ...
//   nlohmann::json merged = json::MergePatch(template_spec, campaign_overrides);
//   PARLEY_RETURN_IF_ERROR(ValidateTemplate(merged));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "parley/v1/config.pb.h"

namespace parley::config {

// Checks a resource name: 1-63 characters matching `[a-z0-9]([a-z0-9-]*[a-z0-9])?`.
// INVALID_ARGUMENT "name: ..." otherwise.
absl::Status ValidateName(std::string_view name);

// Validates one resource: its name (ValidateName) and its spec (a JSON object in the schema of
// the kind's *Spec message). OK if valid; INVALID_ARGUMENT with the field path otherwise
// ("kind: ..." for RESOURCE_KIND_UNSPECIFIED or an unknown kind).
//
// Campaign `overrides` are checked as far as they can be without the template they patch: schema,
// provider names and ranges of the fields they set. Cross-field rules (endpointing max >= min, a
// voicemail message for "leave_message") are checked on the merged template (ValidateTemplate).
//
// Graphs: unique node, intent and tool names; `start_node` and every `terminal_nodes` entry and
// transition target exist; a terminal node is reachable from the start node; every intent and
// tool named is defined (tools `set_state`, `end_call` and `transfer` always are); conditions parse
// (common/graph/condition.h); a transition after one with neither condition nor intent is
// rejected, as it could never be taken.
//
// Calling windows need `start` and `end` ("HH:MM", 00:00-23:59; `end` may be "24:00"), with `end`
// after `start`.
//
// Credentials are validated as by ValidateCredential(name, spec, /*creating=*/true).
absl::Status ValidateSpec(parley::v1::ResourceKind kind, std::string_view name,
                          const nlohmann::json& spec);

// Validates a credential: name, `provider` required, and `secret` required when `creating` (an
// update may omit it to keep the stored secret). The read-only `hint` and `last_tested_ok` are
// accepted and ignored. OK if valid; INVALID_ARGUMENT "credential.…: …" otherwise.
absl::Status ValidateCredential(std::string_view name, const nlohmann::json& spec, bool creating);

// Validates an effective template (the template after campaign and call overrides were merged
// into it), with field paths starting "template.". OK if valid; INVALID_ARGUMENT otherwise.
absl::Status ValidateTemplate(const nlohmann::json& merged_template);

// The `{variables}` a prompt, greeting, voicemail message or scripted line uses, in order of first
// appearance without duplicates. `{{` and `}}` are literal braces. A variable name is a dotted
// path of letters, digits and '_' not starting with a digit (`customer_name`, `invoice.total`).
// INVALID_ARGUMENT "<what is wrong> at column N" (no field path) for a '{' or '}' that does not
// form a variable or a literal brace.
absl::StatusOr<std::vector<std::string>> PromptVariables(std::string_view text);

}  // namespace parley::config
