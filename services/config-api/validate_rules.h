// Internal to parley_config_validation: the field-level checks validate.cc and validate_graph.cc
// share. Every check returns OK or INVALID_ARGUMENT "<path>: <reason>"; paths are built with
// Field() and Index() ("graph.nodes[2].transitions[0].to"). Not a public API: use validate.h.
// The namespace keeps these short names apart from the rest of parley::config.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "parley/v1/config.pb.h"

namespace parley::config::validate_internal {

// ----- paths and messages -----

// InvalidField(path, reason).
absl::Status Invalid(const std::string& path, const std::string& reason);
// "path.name".
std::string Field(const std::string& path, std::string_view name);
// "path[i]".
std::string Index(const std::string& path, int i);
// `s` as a JSON string literal, for messages: "whispr" (quotes included, escapes applied).
std::string Quote(std::string_view s);

// ----- predicates -----

// Empty or only whitespace.
bool IsBlank(std::string_view s);
// `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, 1-63 characters.
bool IsResourceName(std::string_view s);
// Node, intent and tool names: 1-64 of `[A-Za-z0-9_-]` (what LLM function-calling APIs accept).
bool IsToken(std::string_view s);
// `[A-Za-z_][A-Za-z0-9_]*`: a conversation-state key.
bool IsIdentifier(std::string_view s);
// Dotted identifiers; segments after the first may start with a digit (`items.0`).
bool IsVariableName(std::string_view s);
// `scheme://authority...` with a scheme from `schemes`, a non-empty authority and no blanks.
bool IsUrl(std::string_view s, std::initializer_list<std::string_view> schemes);
// "sip:..." or "sips:..." with something after the colon and no blanks.
bool IsSipUri(std::string_view s);
// A DNS name or an IPv4/IPv6 address (brackets allowed around IPv6).
bool IsHost(std::string_view s);
// "host:port" or "[ipv6]:port", port in [1, 65535].
bool IsHostPort(std::string_view s);
// A literal IPv4 or IPv6 address.
bool IsIpAddress(std::string_view s);
// A BCP-47-shaped tag: a 2-8 letter primary subtag, then '-'-separated 1-8 alphanumerics.
bool IsLanguageTag(std::string_view s);
// Looks like an IANA zone name (no absolute or parent paths, not "localtime").
bool IsZoneName(std::string_view s);
// Two upper-case ASCII letters.
bool IsRegionCode(std::string_view s);
// Minutes since midnight of "HH:MM" (00:00-23:59, and 24:00 when `allow_24`), else nullopt.
std::optional<int> ClockMinutes(std::string_view s, bool allow_24);

// ----- checks -----

absl::Status RealInRange(const std::string& path, double v, double lo, double hi);
absl::Status IntInRange(const std::string& path, int64_t v, int64_t lo, int64_t hi);
absl::Status AtLeast(const std::string& path, int64_t v, int64_t lo);
// A resource name at `path`: "required" when empty, "... is not a valid name" when malformed.
absl::Status CheckResourceName(const std::string& path, std::string_view value);
// The name of a referenced resource; empty is OK unless `required`.
absl::Status CheckRef(const std::string& path, std::string_view value, bool required);
// An E.164 number; empty is OK unless `required`.
absl::Status CheckE164(const std::string& path, std::string_view value, bool required);
// `{variables}` in a text are well-formed (see PromptVariables).
absl::Status CheckTextVariables(const std::string& path, std::string_view text);

// ----- composite checks (validate_graph.cc) -----

// Tool definitions: unique names, known kinds, and each kind's settings.
absl::Status CheckTools(const google::protobuf::RepeatedPtrField<parley::v1::ToolSpec>& tools,
                        const std::string& path);
// A whole GraphSpec, paths starting "graph.".
absl::Status CheckGraph(const parley::v1::GraphSpec& graph);

}  // namespace parley::config::validate_internal
