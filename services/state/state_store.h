// StateStore: conversation memory, call history and transcripts in Postgres schema
// `conversation`, with the live state of calls in progress mirrored to Redis (live_state.h).
//
//   StateStore store(pg_pool, redis_pool, {.key_prefix = "parley:"});
//   PARLEY_RETURN_IF_ERROR(store.Migrate());
//   PARLEY_ASSIGN_OR_RETURN(StartedCall started, store.StartCall({.phone = "+14155552671",
//       .agent = "sales", .call_id = "c1"}));
//   PARLEY_ASSIGN_OR_RETURN(Conversation c, store.UpdateState("c1", 0, {{"verified", true}}));
//   PARLEY_ASSIGN_OR_RETURN(parley::v1::CallRecord record, store.CompleteCall({.call_id = "c1",
//       .outcome = parley::v1::CALL_STATUS_COMPLETED, .ended_reason = "callee_hangup"}));
//
// Model. Every call attempt that starts opens a `conversation_state` row for its (phone, agent);
// the newest row of a pair is the callee's memory. At most one row per pair is active — held by a
// call in progress — which a partial unique index enforces whatever the race. StartCall builds the
// new row from the newest one: durable keys copied, transient keys dropped, `call_count` counted.
//
// Decisions the issue leaves open:
//   - `call_count` counts calls (call ids), not dial attempts: attempt 2 of a call starts a fresh
//     conversation (transient keys reset) but does not count again.
//   - An active row is stale when its call attempt has ended, its heartbeat (StartCall, UpdateState
//     and Heartbeat all refresh it) is older than `stale_after`, or the same call started a later
//     attempt. Taking it over closes that attempt's history row as `failed`/`worker_lost` unless it
//     had ended; a late CompleteCall of that attempt may still record the real outcome, once.
//   - A live (non-stale) active row makes StartCall fail with FAILED_PRECONDITION naming its call:
//     retrying at once cannot help; the caller reschedules.
//   - The version counts changes of the state object: a patch that changes nothing, a heartbeat or
//     closing a conversation without a summary leave it as is.
//   - Redis is a best-effort mirror: it is written after the Postgres commit, and a Redis failure
//     is logged but does not fail the call (the record is already safe; the key's TTL bounds any
//     staleness).
//
// Errors: UNAVAILABLE when Postgres cannot be reached (retry later); ABORTED when a transaction
// kept conflicting (retry); INVALID_ARGUMENT / FAILED_PRECONDITION / NOT_FOUND as each method says.
// The store does not validate formats (E.164, names); the handler does, before calling.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pg/pg_pool.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/state.pb.h"
#include "services/state/live_state.h"

namespace parley::state {

// Largest patch UpdateState accepts, serialised as compact JSON.
inline constexpr std::size_t kMaxPatchBytes = 64 * 1024;
// Largest state a patch may produce, serialised as compact JSON.
inline constexpr std::size_t kMaxStateBytes = 1024 * 1024;

// Keys kept across calls whatever the graph declares.
const std::vector<std::string>& DefaultDurableKeys();

struct StoreOptions {
  // Prefix of the Redis keys (tests use a unique one).
  std::string key_prefix = "parley:";
  // An active conversation whose heartbeat is older than this may be taken over.
  absl::Duration stale_after = absl::Minutes(2);
  // TTL of the live Redis hash after its last write.
  absl::Duration live_ttl = absl::Minutes(5);
};

struct StartCallParams {
  std::string phone;  // E.164
  std::string agent;
  std::string call_id;
  int attempt = 1;  // >= 1
  std::string lead_id;
  std::string campaign;
  std::vector<std::string> durable_keys;  // besides DefaultDurableKeys()
  parley::v1::Direction direction = parley::v1::DIRECTION_OUTBOUND;
  std::string worker_id;
};

// One conversation_state row.
struct Conversation {
  std::string phone;
  std::string phone_masked;
  std::string agent;
  std::string call_id;  // the attempt that opened this row
  int attempt = 1;
  nlohmann::json state = nlohmann::json::object();
  std::int64_t version = 1;
  int call_count = 0;
  bool active = false;
  absl::Time first_call_time;
  absl::Time update_time;
};

struct StartedCall {
  Conversation conversation;
  // Call id of the stale conversation taken over; empty if none.
  std::string took_over_call_id;
  // True when this was a repeat of a StartCall already done for the same (call_id, attempt).
  bool repeated = false;
};

struct CompleteCallParams {
  std::string call_id;
  int attempt = 1;
  parley::v1::CallStatus outcome = parley::v1::CALL_STATUS_COMPLETED;  // terminal
  std::string ended_reason;
  std::string summary;
  std::map<std::string, double> metrics;
  std::optional<absl::Time> answer_time;
  std::optional<absl::Time> end_time;  // unset: now
};

enum class CallFilter { kPhone, kAgent, kCampaign };

struct CallQuery {
  CallFilter by = CallFilter::kPhone;
  std::string value;
  int page_size = 50;      // 1..1000
  std::string page_token;  // from the previous page of the same query
};

struct CallPage {
  std::vector<parley::v1::CallRecord> calls;  // newest first, full phone numbers
  std::string next_page_token;                // empty on the last page
};

struct AppendResult {
  int appended = 0;
  int duplicates = 0;
};

class StateStore final {
 public:
  // Registers the prepared statements; connects to nothing. Both pools must outlive the store.
  StateStore(pg::PgPool* pg, redis::RedisPool* redis, StoreOptions options = {});

  // Creates or updates schema `conversation` (idempotent, safe with concurrent replicas).
  absl::Status Migrate();

  // Opens the conversation of a call attempt and records the attempt in the call history (see the
  // file comment for the rules). Repeating it for the same (call_id, attempt) while that attempt
  // holds the conversation returns the current state with `repeated` set.
  // FAILED_PRECONDITION when another live call holds the conversation ("phone: a conversation with
  // agent \"a\" is in progress in call \"c\""), when the attempt already ended or lost its
  // conversation, when a later attempt of the call exists, or when the call id was started with
  // another phone or agent. ABORTED when concurrent starts kept colliding.
  absl::StatusOr<StartedCall> StartCall(const StartCallParams& params);

  // Deep-merges `patch` (RFC 7386) into the state of `call_id`'s active conversation and returns
  // the row after it; `attempt` 0 means whichever attempt is active. Concurrent patches serialise
  // on the row lock, so none is lost. INVALID_ARGUMENT "patch: must be a JSON object", "patch: …
  // larger than 64 KiB", "patch: the state would exceed 1 MiB", "call_id: unknown call \"x\"";
  // FAILED_PRECONDITION when the call exists but holds no active conversation (completed, taken
  // over, or `attempt` is not the active one).
  absl::StatusOr<Conversation> UpdateState(std::string_view call_id, int attempt,
                                           const nlohmann::json& patch);

  // The newest conversation of (phone, agent). NOT_FOUND when they never talked.
  absl::StatusOr<Conversation> GetState(std::string_view phone, std::string_view agent);

  // Refreshes the heartbeat of an active conversation and its live hash (with `current_node`
  // when not empty). NOT_FOUND when the attempt is unknown or no longer holds a conversation.
  absl::Status Heartbeat(std::string_view call_id, int attempt, std::string_view current_node);

  // Closes a call attempt: history row finished with outcome, reason, summary, metrics and
  // durations; its conversation made inactive, with `summary` stored as the durable key when not
  // empty; the live hash removed. A repeat returns the first result unchanged.
  // INVALID_ARGUMENT "call_id: unknown call \"x\" (attempt n)".
  absl::StatusOr<parley::v1::CallRecord> CompleteCall(const CompleteCallParams& params);

  // The history record of one attempt (the latest when `attempt` is unset). NOT_FOUND if absent.
  absl::StatusOr<parley::v1::CallRecord> GetCall(std::string_view call_id,
                                                 std::optional<int> attempt);

  // One page of history records, newest first. INVALID_ARGUMENT "page.page_token: …" for a token
  // that is malformed or was issued for another filter.
  absl::StatusOr<CallPage> ListCalls(const CallQuery& query);

  // Stores the turns whose seq is new for (call_id, attempt); counts the others as duplicates
  // and leaves them unchanged. Turns may arrive after CompleteCall (a final flush).
  // INVALID_ARGUMENT "call_id: unknown call \"x\" (attempt n)".
  absl::StatusOr<AppendResult> AppendTurns(std::string_view call_id, int attempt,
                                           const std::vector<parley::v1::Turn>& turns);

  // The turns of a call (only `attempt` when set), ordered by attempt then seq, each with its
  // attempt. NOT_FOUND when the call is unknown.
  absl::StatusOr<std::vector<parley::v1::Turn>> GetTranscript(std::string_view call_id,
                                                              std::optional<int> attempt);

  // The Redis mirror this store writes (for readers of the live hash, and tests).
  LiveState& live() { return live_; }

 private:
  // Mirrors a conversation to Redis; logs instead of failing (see the file comment).
  void MirrorLive(const Conversation& c, bool open, std::optional<std::string> node = {});

  pg::PgPool* pg_;
  LiveState live_;
  StoreOptions options_;
};

}  // namespace parley::state
