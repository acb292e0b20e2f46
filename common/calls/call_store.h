// CallStore: the live state of every call in Redis, and the only code that changes it
// (DESIGN.md, "Redis layout", "Call lifecycle"). Dispatcher and worker both use it; every change
// is one Lua script, so each step is atomic and fenced.
//
// Keys (prefix default "parley:"):
//   jobs                    Stream, group "workers": one entry per dial attempt {call_id, attempt}
//   delayed                 ZSET member "<call_id>" score = due time (ms): scheduled attempts
//   call:{id}               HASH: the call (fields in CallRecord)
//   call:{id}:events        Stream of this call's events; `events` = every call's events
//   idem:{key}              STRING call id, TTL 24 h
//   campaign:{c}:active     ZSET member call id, score = slot lease expiry (ms)
//   calls:created           ZSET member call id, score = creation time (ListCalls index)
//   campaign:{c}:calls      ZSET the same per campaign
//   worker:{w}:control      Pub/Sub channel: "cancel <call_id> <attempt>"
//
// Fencing: every write by a worker names the attempt and the worker that owns it; a write whose
// attempt or owner no longer matches is refused (kStale), so a worker that stalled and woke up
// cannot overwrite the new owner's state. An attempt that reached `dialing` is never run again:
// reclaiming it ends it `failed/worker_lost` and hands the call to the retry policy.
//
//   CallStore store(redis_pool);
//   PARLEY_ASSIGN_OR_RETURN(CreateResult r, store.Create(call, now_ms));
//   PARLEY_ASSIGN_OR_RETURN(Fence f, store.Claim(job, "w1", lease_ms, now_ms));
//   PARLEY_RETURN_IF_ERROR(store.Transition(f, parley::v1::CALL_STATUS_DIALING, now_ms));
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/calls/script_batcher.h"
#include "common/redis/redis_pool.h"
#include "common/redis/redis_script.h"
#include "parley/v1/common.pb.h"

namespace parley::calls {

using parley::v1::CallStatus;

// Lower-case name of a status as stored and as used in retry policies: "queued", "no_answer", …
std::string_view StatusName(CallStatus status);
std::optional<CallStatus> ParseStatus(std::string_view name);
// completed, busy, no_answer, declined, voicemail, failed, canceled, rejected.
bool IsTerminal(CallStatus status);

// The call hash. Times are Unix milliseconds; 0 = unset.
struct CallRecord {
  std::string call_id;
  CallStatus status = parley::v1::CALL_STATUS_QUEUED;
  int attempt = 1;
  int max_attempts = 1;
  std::string to;    // E.164
  std::string from;  // E.164 or ""
  std::string agent;
  std::string campaign;               // "" for none
  std::string context_json = "{}";    // call context (JSON object)
  std::string overrides_json = "{}";  // per-call template overrides (JSON merge patch)
  std::string direction = "outbound";
  std::string lead_id;
  std::string idempotency_key;
  std::string owner;  // worker id holding the current attempt, "" when none
  int64_t lease_until_ms = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t due_ms = 0;       // when the current attempt may start (scheduled calls)
  int64_t answered_ms = 0;  // when the current attempt was answered (in_progress)
  int64_t ended_ms = 0;     // when the call reached its final state
  std::string ended_reason;
  bool cancel_requested = false;
  std::string cancel_reason;  // the operator's text when a cancel was requested
  // Highest attempt that reached `dialing` (0 = none): such an attempt is never dialed again.
  int dialed_attempt = 0;
};

// What the retry policy decided for an unsuccessful attempt (retry_policy.h): 0 = no retry.
struct RetryDecision {
  int64_t retry_at_ms = 0;
};

// One event of a call's stream.
struct CallEvent {
  std::string event_id;  // Redis stream id
  std::string call_id;
  std::string type = "status";  // "status", "node", "provider_fallback", "dtmf", "turn", …
  CallStatus status = parley::v1::CALL_STATUS_UNSPECIFIED;
  std::string ended_reason;
  int attempt = 0;
  std::string worker;
  std::string campaign;
  int64_t time_ms = 0;
  std::map<std::string, std::string> detail;
};

// What a worker holds while it runs an attempt; every fenced write carries it.
struct Fence {
  std::string call_id;
  int attempt = 0;
  std::string worker;
  // The job's stream entry: Renew keeps it from looking idle, so only a dead owner's job is
  // reclaimed. "" when the attempt did not come from the stream.
  std::string job_id;
};

struct CreateResult {
  CallRecord call;
  // False: the idempotency key named an existing call, returned as is (or, with dnc_unknown,
  // nothing was written and `call` is the one given).
  bool created = false;
  // The new call was recorded REJECTED/dnc: "global" or "campaign", the list that holds the
  // number. "" otherwise.
  std::string dnc_list;
  // CreateChecks::dnc was asked but the DNC index is not complete (dnc_index.h): nothing was
  // written; check the number another way and call Create again without the check.
  bool dnc_unknown = false;
};

// What Create checks inside its script, before writing.
struct CreateChecks {
  // Refuse a number on the DNC index (global, or for the call's campaign): the call is recorded
  // REJECTED with ended_reason `dnc` instead of queued.
  bool dnc = false;
  // Non-empty: record the call REJECTED with this ended_reason instead of queuing it (after the
  // DNC check, which wins).
  std::string reject_reason;
};

// A due job read from the stream.
struct Job {
  std::string stream_id;
  std::string call_id;
  int attempt = 0;
};

enum class ReclaimAction {
  kRunAgain,    // the attempt had not reached dialing: hand it to a new owner as is
  kWorkerLost,  // it had: ended failed/worker_lost (then the retry policy decides)
  kDrop,        // nothing to do (already terminal, or a stale duplicate entry): just ack it
  kAlive,       // the owner still holds a valid lease: leave the job pending, don't ack it
};

struct StoreOptions {
  std::string prefix = "parley:";
  int64_t idempotency_ttl_s = 24 * 3600;
  int64_t global_events_maxlen = 1000000;     // approximate trimming of `events`
  int64_t call_events_ttl_s = 7 * 24 * 3600;  // call hash and its events expire after the end
  // The DNC index Create checks (dnc_index.h); "" = DncIndexKey(prefix).
  std::string dnc_key;
  // Group commit of Create: concurrent Creates share one script run, up to `max_create_batch`
  // calls each, with at most `max_create_runs` runs in flight. A Create that finds a run free
  // starts one at once, so a lone call waits for nothing; under load the runs grow, and Redis
  // handles one request (one read, one script call, one reply) for many calls. 1 = no batching.
  int max_create_batch = 64;
  int max_create_runs = 2;
};

// Parses one stream entry ([id, [field, value, …]]) of a call event stream.
CallEvent ParseEventEntry(const redis::RedisReply& entry);

class CallStore final {
 public:
  explicit CallStore(redis::RedisPool* redis, StoreOptions options = {});

  const StoreOptions& options() const { return options_; }
  std::string Key(std::string_view suffix) const;  // prefix + suffix

  // Creates the consumer group `workers` on `jobs` if missing (idempotent).
  absl::Status EnsureGroup();

  // Atomically: the call hash, its first event (`queued`, or `scheduled` when due_ms > now), the
  // job (stream entry, or the delayed entry when due_ms > now), the indexes and the idempotency
  // key. With an idempotency key that already names a call, returns that call (created=false) and
  // writes nothing. With `checks` the call may instead be recorded REJECTED (see CreateChecks and
  // CreateResult). Concurrent Creates may run in one script (StoreOptions::max_create_batch), each
  // exactly as if alone, in arrival order. `call.created_ms`/`updated_ms` are set here. UNAVAILABLE
  // when Redis is down; ALREADY_EXISTS when the call id is taken.
  absl::StatusOr<CreateResult> Create(CallRecord call, int64_t now_ms,
                                      const CreateChecks& checks = {});

  // Create without waiting for other callers' runs: `done` gets what Create would return, exactly
  // once — on this thread when it leads the script run (or fails early), else on the thread of
  // the caller that leads it (ScriptBatcher::RunAsync). `done` must not block for long.
  using CreateDone = std::function<void(absl::StatusOr<CreateResult>)>;
  void CreateAsync(CallRecord call, int64_t now_ms, const CreateChecks& checks, CreateDone done);

  // Records a call that was never queued (status `rejected`, e.g. DNC) with its event. Honours
  // the idempotency key like Create: a retried request gets the same rejected call back.
  absl::StatusOr<CreateResult> CreateRejected(CallRecord call, std::string_view ended_reason,
                                              int64_t now_ms);

  // The call an idempotency key names, or nullopt.
  absl::StatusOr<std::optional<CallRecord>> FindByIdempotencyKey(std::string_view key);

  // Id of the newest event of the global stream ("0-0" when empty): a fixed starting point for
  // "only new events" readers.
  absl::StatusOr<std::string> LastEventId();

  // NOT_FOUND when absent.
  absl::StatusOr<CallRecord> Get(std::string_view call_id);

  // Newest first; `campaign` "" = all; statuses empty = any. `cursor` is an opaque token.
  struct Page {
    std::vector<CallRecord> calls;
    std::string next_cursor;
  };
  absl::StatusOr<Page> List(std::string_view campaign, const std::vector<CallStatus>& statuses,
                            int page_size, std::string_view cursor);

  // Events of one call after `after_id` ("0" = from the start, "$" = only new), blocking up to
  // `block_ms` (0 = don't block) when there are none.
  absl::StatusOr<std::vector<CallEvent>> ReadEvents(std::string_view call_id,
                                                    std::string_view after_id, int count,
                                                    int block_ms);
  // The same over the global `events` stream.
  absl::StatusOr<std::vector<CallEvent>> ReadAllEvents(std::string_view after_id, int count,
                                                       int block_ms);

  // Appends a non-status event ("node", "provider_fallback", "dtmf", …) for a fenced attempt.
  absl::Status AppendEvent(const Fence& fence, CallEvent event, int64_t now_ms);

  // --- jobs (worker side) ---

  // XREADGROUP: up to `count` new jobs for consumer `worker`, blocking up to `block_ms`.
  absl::StatusOr<std::vector<Job>> ReadJobs(std::string_view worker, int count, int block_ms);
  // XACK + XDEL of a job entry.
  absl::Status AckJob(std::string_view stream_id);
  // XAUTOCLAIM: pending jobs idle longer than `min_idle_ms`, now owned by `worker`.
  absl::StatusOr<std::vector<Job>> ClaimStaleJobs(std::string_view worker, int64_t min_idle_ms,
                                                  int count);

  // Takes the attempt for `worker`: OK when the call's attempt is `attempt`, it is queued (or
  // assigned with an expired lease, or owned by `worker` already) and not canceled; sets status
  // `assigned`, owner and lease. FAILED_PRECONDITION "stale" when the job no longer matches the
  // call (an older attempt, a terminal call, a live owner) — ack it and move on.
  absl::StatusOr<Fence> Claim(const Job& job, std::string_view worker, int64_t lease_ms,
                              int64_t now_ms);

  // Decides what to do with a job taken over by ClaimStaleJobs. kRunAgain: the attempt never
  // reached dialing and its lease expired — Claim it and run it. kWorkerLost: it had reached
  // dialing — it is now ended `failed/worker_lost`, or scheduled again when `retry` says so
  // (compute the decision for outcome failed with the call's retry policy). kDrop: stale — ack.
  // kAlive: the owner's lease is still valid — leave the job pending.
  absl::StatusOr<ReclaimAction> Reclaim(const Job& job, int64_t now_ms, const RetryDecision& retry);

  // Puts a job back without using up its attempt (the campaign has no free slot, or a drain ended
  // before dialing): acks the stream entry, and the call waits in `delayed` until `due_ms`
  // (status `scheduled`, event detail `reason`). The call must be queued, or assigned to
  // `worker`. FAILED_PRECONDITION "stale" otherwise (another owner, canceled, dialed).
  absl::Status Defer(const Job& job, std::string_view worker, int64_t due_ms,
                     std::string_view reason, int64_t now_ms);

  // Extends the lease (and the campaign slot) of a live attempt. FAILED_PRECONDITION "lost" when
  // the fence no longer holds (reclaimed, canceled, ended) — the worker must stop the call.
  // Returns whether a cancel was requested.
  absl::StatusOr<bool> Renew(const Fence& fence, int64_t lease_ms, int64_t now_ms);

  // A non-terminal status change of a fenced attempt (dialing, ringing, in_progress).
  // `dialing` also records dialed_attempt. FAILED_PRECONDITION "stale" when the fence fails or the
  // transition goes backwards / the call is already terminal.
  absl::Status Transition(const Fence& fence, CallStatus status, int64_t now_ms,
                          const std::map<std::string, std::string>& detail = {});

  // --- campaign concurrency ---

  // Takes (or refreshes) a slot of `campaign` for the call: expired leases are dropped first;
  // returns false when `max_concurrent` slots are held by other live calls. max 0 = unlimited.
  absl::StatusOr<bool> TakeSlot(std::string_view campaign, std::string_view call_id,
                                int max_concurrent, int64_t lease_until_ms, int64_t now_ms);
  absl::Status ReleaseSlot(std::string_view campaign, std::string_view call_id);
  // Live slots (leases not expired) of a campaign.
  absl::StatusOr<int> ActiveSlots(std::string_view campaign, int64_t now_ms);

  // --- ending an attempt ---

  // Ends the fenced attempt with a terminal outcome. When `retry.retry_at_ms` > 0 the call is not
  // ended: it becomes `scheduled` with attempt + 1, due at retry_at_ms (delayed set), and the
  // event carries the outcome and `retry_at`. Releases the campaign slot. FAILED_PRECONDITION
  // "stale" when the fence fails.
  absl::StatusOr<CallRecord> FinishAttempt(const Fence& fence, CallStatus outcome,
                                           std::string_view ended_reason,
                                           const RetryDecision& retry, int64_t now_ms,
                                           const std::map<std::string, std::string>& detail = {});

  // Cancels a call (ended_reason `canceled`, `reason` in the event's detail):
  // queued/scheduled/assigned → `canceled` at once (its job is dropped when read);
  // dialing/ringing/in_progress → cancel_requested set and "cancel <id> <attempt>" published to
  // the owner's control channel (the worker hangs up and finishes the attempt `canceled`).
  // Terminal → returned unchanged. NOT_FOUND when absent.
  absl::StatusOr<CallRecord> Cancel(std::string_view call_id, std::string_view reason,
                                    int64_t now_ms);

  // Moves due entries of `delayed` to `jobs` (status scheduled → queued, with an event); atomic
  // per entry, so several dispatchers may run it at once without duplicating a job.
  // Returns how many were promoted.
  absl::StatusOr<int> PromoteDue(int64_t now_ms, int limit);

 private:
  redis::RedisPool* redis_;
  StoreOptions options_;
  // Concurrent Creates share script runs; the head is the arguments common to every call.
  ScriptBatcher create_batcher_;
  std::vector<std::string> create_head_;
};

}  // namespace parley::calls
