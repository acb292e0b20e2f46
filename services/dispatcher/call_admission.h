// CallAdmitter: the rules a call must pass before it is queued (DESIGN.md, "An outbound call"),
// shared by CreateCall and each row of CreateCalls. Returns absl statuses; the handler maps them.
//
// Order of the checks (the first failure is returned):
//   1. the request's own fields, no I/O (CheckCreateCallRequest): `to` present, `agent` or
//      `campaign` present and well-formed, `context`/`overrides` ≤ 64 KiB as JSON, `max_attempts`
//      in [1, 20], `from` E.164, `schedule_at` a valid time at most a year ahead, lengths of
//      `idempotency_key` (≤ 128) and `lead_id` (≤ 128)  → INVALID_ARGUMENT "<field>: …";
//   2. a known idempotency key returns its call as it is (created=false), before anything can have
//      changed since the first request (a number put on the DNC list after the call was accepted
//      does not turn a retry of the same request into an error);
//   3. campaign, then agent, exist in config-api → NOT_FOUND "campaign: campaign \"x\" not found";
//      a campaign's agent must be the request's agent when both are given → INVALID_ARGUMENT
//      "agent: …";
//   4. `to` normalised to E.164 with the campaign's region, else `default_region`
//      → INVALID_ARGUMENT "to: not a valid number for region US";
//   5. non-empty `overrides` must validate merged over the template → INVALID_ARGUMENT
//      "overrides: …";
//   6. outbound calls only: the DNC list → the call is recorded REJECTED/`dnc` and the result is
//      FAILED_PRECONDITION "dnc: …". Checked inside step 8's script against the DNC index that
//      config-api keeps in Redis (common/calls/dnc_index.h; written before AddDnc returns), so
//      it costs no round trip and a number listed before the call started is always refused.
//      When the index is not complete (Redis lost it, config-api has no Redis) the script writes
//      nothing and the admitter asks config-api (CheckDnc, Postgres) and writes again;
//   7. outbound calls of a campaign with a calling window: the window in the callee's zone
//      (calls::ZoneForNumber: the number's zone, else the window's). Outside it the call is
//      scheduled for the next opening, or, with `reject_outside_window`, recorded
//      REJECTED/`outside_calling_window` → FAILED_PRECONDITION "outside_calling_window: …";
//   8. one atomic CallStore::Create (DNC check, then hash, first event, job or delayed entry,
//      idempotency key — or the rejected call when 6 or 7 refuse it).
//
// Decisions the API leaves open, as made here:
//   - `context` is stored as given; the agent's and campaign's default contexts are merged under it
//     when the call runs (so the stored call shows what the client sent);
//   - `from` is stored as given ("" = the campaign's or agent's caller id, resolved at dial time);
//   - `max_attempts` unset: the campaign's retry policy (default 3), 1 without a campaign;
//   - a `schedule_at` in the past means now.
//
//   CallAdmitter admitter(&store, &config, {.default_region = "US"});
//   PARLEY_ASSIGN_OR_RETURN(Admission a, admitter.Admit(request));
//   // a.call.status: QUEUED, or SCHEDULED with a.call.due_ms
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/dispatcher.pb.h"
#include "services/dispatcher/config_client.h"

namespace parley::dispatcher {

class WorkQueue;

struct AdmissionOptions {
  // ISO 3166 region for numbers without a country code when the call has no campaign (or the
  // campaign sets no region).
  std::string default_region = "US";
  // The clock; absl::Now when empty (tests pin it to a DST change).
  std::function<absl::Time()> clock;
  // Bound on `context` and on `overrides`, each serialised as JSON.
  size_t max_context_bytes = 64 * 1024;
  // How far ahead `schedule_at` may be.
  absl::Duration max_schedule_ahead = absl::Hours(24 * 366);
};

struct Admission {
  calls::CallRecord call;
  // False when an idempotency key named an existing call, returned as it is.
  bool created = false;
};

// Check 1 above: INVALID_ARGUMENT "<field>: <reason>" for the first field that is wrong. The JSON
// of `context` and `overrides` ("{}" when empty), serialised for the size check, is left in
// `context_json` / `overrides_json` when they are given, so the caller need not serialise again.
absl::Status CheckCreateCallRequest(const parley::v1::CreateCallRequest& request, absl::Time now,
                                    const AdmissionOptions& options,
                                    std::string* context_json = nullptr,
                                    std::string* overrides_json = nullptr);

// A new unique call id ("c_" + 24 hex digits, 96 random bits).
std::string NewCallId();

class CallAdmitter final {
 public:
  // `store` and `config` must outlive the admitter.
  CallAdmitter(calls::CallStore* store, ConfigClient* config, AdmissionOptions options = {});

  // Runs the checks above and admits the call. Besides the errors listed there: UNAVAILABLE when
  // Redis or config-api is down (nothing was recorded — the client may retry, ideally with an
  // idempotency key); FAILED_PRECONDITION "campaign: …" for a campaign whose stored spec cannot be
  // used. A returned call is durably recorded.
  absl::StatusOr<Admission> Admit(const parley::v1::CreateCallRequest& request);

  // Admit without parking the calling thread: the checks run here on what is at hand (config
  // specs in the cache) and the Create joins a shared script run (CallStore::CreateAsync), whose
  // leader calls `done`. Whatever would wait — a spec not cached, overrides to validate, the DNC
  // fallback, a failed check of a request with an idempotency key (looked up first, as Admit
  // does) — runs Admit's blocking path on `slow`. `done` gets what Admit would return, exactly
  // once, perhaps before AdmitAsync returns; `request` must stay valid until then.
  using AdmitDone = std::function<void(absl::StatusOr<Admission>)>;
  void AdmitAsync(const parley::v1::CreateCallRequest& request, WorkQueue* slow, AdmitDone done);

  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }

 private:
  // The answer for a call an idempotency key already names.
  static absl::StatusOr<Admission> FromExisting(calls::CallRecord call);

  // Checks 1–7, and the call to create.
  struct Prepared {
    calls::CallRecord call;
    calls::CreateChecks checks;
    std::string window_why;  // why the window refused the call, when it did
    int64_t now_ms = 0;
    bool existing = false;  // `call` is the one the idempotency key names: return it as is
  };
  // With `may_block` false, nothing that would wait is asked (no idempotency lookup — the Create
  // script answers a known key — and only cached specs): nullopt when a step would have to wait.
  absl::StatusOr<std::optional<Prepared>> Prepare(const parley::v1::CreateCallRequest& request,
                                                  bool may_block);
  // Step 8's result → the answer. Blocks (config-api, a second Create) only for dnc_unknown.
  absl::StatusOr<Admission> Conclude(const Prepared& prepared, calls::CreateResult result);

  calls::CallStore* store_;
  ConfigClient* config_;
  AdmissionOptions options_;
};

// FAILED_PRECONDITION for a call that was recorded REJECTED: "<ended_reason>: <why> (call <id>)".
// Used again when an idempotency key names a rejected call, so a retry sees the same answer.
absl::Status RejectedStatus(const calls::CallRecord& call, std::string_view why);

}  // namespace parley::dispatcher
