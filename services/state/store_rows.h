// Internal to StateStore (state_store.cc, call_history.cc): how rows of schema `conversation` map
// to Parley's types, and the SQL fragments both files use. Not for use outside services/state.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/pg/pg_pool.h"
#include "parley/v1/state.pb.h"
#include "services/state/state_store.h"

namespace parley::state::internal {

// Timestamps travel as bigint microseconds since the epoch: (extract(epoch FROM t) * 1000000)
// out, ('epoch'::timestamptz + $n::bigint * interval '1 microsecond') in.

// Columns of a conversation_state row, read by ConversationFromRow.
inline constexpr char kConversationColumns[] =
    "phone, phone_masked, agent, call_id, attempt, state::text, version, active, call_count, "
    "(extract(epoch FROM first_call_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint";

// Columns of a calls row, read by CallFromRow.
inline constexpr char kCallColumns[] =
    "call_id, attempt, status, ended_reason, agent, campaign, phone_masked, phone, direction, "
    "worker_id, (extract(epoch FROM started_at) * 1000000)::bigint, "
    "(extract(epoch FROM answered_at) * 1000000)::bigint, "
    "(extract(epoch FROM ended_at) * 1000000)::bigint, ring_ms, talk_ms, summary, metrics::text, "
    "lead_id";
inline constexpr int kCallColumnCount = 18;

// Reads kConversationColumns starting at column `first`.
Conversation ConversationFromRow(const pqxx::row& row, int first = 0);
// Reads kCallColumns starting at column `first`; the record holds the full phone number.
parley::v1::CallRecord CallFromRow(const pqxx::row& row, int first = 0);

// Enum values as stored: the lower-case proto name without its prefix ("outbound", "agent").
// Call statuses use common/calls' StatusName / ParseStatus, the names the live store uses too.
std::string DirectionName(parley::v1::Direction direction);
std::string RoleName(parley::v1::Role role);
parley::v1::Role ParseRole(std::string_view name);

// INVALID_ARGUMENT "call_id: unknown call \"x\"" (with " (attempt n)" when given).
absl::Status UnknownCall(std::string_view call_id, std::optional<int> attempt = std::nullopt);

// The current node of a conversation, when its state names one.
std::optional<std::string> CurrentNode(const nlohmann::json& state);

// Registers the statements of call_history.cc.
void PrepareHistoryStatements(pg::PgPool& pg);

}  // namespace parley::state::internal
