// CallSession: one dial attempt, owned from the job to its acknowledgement (DESIGN.md, "An
// outbound call, end to end", "Call lifecycle", "Redis layout" — lease and reclaim).
//
// Run() goes through, on the calling thread:
//   1. the job's call (CallStore::Get) and its runtime config (through the cache);
//   2. the campaign's concurrency slot — when the campaign is full the job is deferred
//      (CallStore::Defer: acked, the call waits two seconds in the delayed set, its attempt
//      unused), so a full campaign costs no capacity (kDeferred);
//   3. Claim with a lease (status `assigned`); the worker's renew loop extends it from now on;
//   4. the pipeline (PipelineFactory) and state StartCall (durable memory loaded);
//   5. `dialing` → Telephony::Dial → `ringing` → `in_progress` on answer, the pipeline hosted
//      until one side hangs up;
//   6. the pipeline's report, state CompleteCall (first, so whoever sees the terminal event can
//      read the record), CallStore::FinishAttempt with the outcome and the campaign's retry
//      decision, and the job's ack.
// Every status change goes through CallStore, fenced by the attempt: when the fence is lost
// (Lose(), or a write answered "stale") the session hangs up at once and writes nothing more —
// not even the ack, so the job stays with whoever reclaimed it.
//
// Outcomes (status/ended_reason): the leg's terminal event (busy/busy, no_answer/no_answer or
// ring_timeout or abandoned, declined/declined, failed/trunk_error|invalid_number,
// completed/callee_hangup, failed/media_lost); the pipeline's EndCall (completed/agent_hangup, …); Cancel →
// canceled/canceled; the duration limit → completed/max_duration; drain → completed or
// failed/worker_draining (answered or not); no usable config → failed/config_error (not retried)
// or failed/config_unavailable; state refusing the conversation → failed/conversation_active.
//
// An inbound call (inbound.h) comes with its leg, answered already: the session is started
// with it (Worker::RunInbound; the job has no stream entry), goes `assigned → dialing →
// in_progress` at once (or `dialing → no_answer/abandoned` when the caller hung up before the
// answer went out), never defers (a full campaign does not hold up a caller who is on the
// line) and never dials. The call's own stream entry (the dispatcher queues one for every call)
// is left pending by whichever worker reads it — never run there — until the reclaim path drops
// it once the call ended, or ends the call failed/worker_lost if its worker died.
//
//   CallSession session(&env, job);
//   std::thread t([&] { SessionResult r = session.Run(); });
//   session.Cancel();                        // e.g. from the control channel
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "services/worker/call_plan.h"
#include "services/worker/config_cache.h"
#include "services/worker/inbound.h"
#include "services/worker/pipeline.h"
#include "services/worker/service_clients.h"
#include "services/worker/telephony.h"

namespace parley::metrics {
class Metrics;
}

namespace parley::worker {

// What every session of a worker shares; outlives them all.
struct SessionEnv {
  calls::CallStore* store = nullptr;
  RuntimeConfigCache* configs = nullptr;
  StateClient* state = nullptr;
  Telephony* telephony = nullptr;
  PipelineFactory* pipelines = nullptr;
  std::string worker_id;
  absl::Duration lease = absl::Seconds(15);
  // After a drain deadline the pipeline gets this long to say goodbye before the hang-up.
  absl::Duration drain_grace = absl::Seconds(5);
  // After the pipeline's EndCall, queued audio may play this long before the hang-up.
  absl::Duration end_call_audio_limit = absl::Seconds(30);
  // How long a transfer (PipelineHost::TransferCall) may wait for its outcome: the target
  // ringing and answering. The session's loop waits with it.
  absl::Duration transfer_timeout = absl::Seconds(45);
  absl::Duration state_heartbeat = absl::Seconds(30);
  metrics::Metrics* metrics = nullptr;  // optional
};

enum class SessionEnd {
  kFinished,   // the attempt ended (FinishAttempt written) and the job was acknowledged
  kStale,      // the job no longer matched its call (old attempt, ended, canceled): acked
  kDeferred,   // the campaign had no free slot: deferred, back in a moment
  kAbandoned,  // the worker drained before dialing: deferred for another worker at once
  kLost,       // the fence was lost: stopped without another write
  kError,      // Redis failed: left pending; the reclaim path takes it up
};
const char* SessionEndName(SessionEnd end);

struct SessionResult {
  SessionEnd end = SessionEnd::kError;
  parley::v1::CallStatus outcome = parley::v1::CALL_STATUS_UNSPECIFIED;
  std::string ended_reason;
};

class CallSession final : public LegListener, public PipelineHost {
 public:
  CallSession(const SessionEnv* env, calls::Job job);
  // An inbound call's session, with the leg that came in (see the file comment).
  CallSession(const SessionEnv* env, calls::Job job, std::unique_ptr<InboundLeg> inbound);
  ~CallSession() override;
  CallSession(const CallSession&) = delete;
  CallSession& operator=(const CallSession&) = delete;

  // Runs the job to its end as the file comment says. Call once.
  SessionResult Run();

  // Thread-safe controls.
  // The call was canceled (control channel, or Renew's cancel flag): hang up, finish `canceled`.
  void Cancel();
  // The lease is gone: hang up at once, write nothing more.
  void Lose();
  // The worker drains: finish by `hang_up_at` (a later call can only move it earlier).
  void Drain(absl::Time hang_up_at);

  const calls::Job& job() const { return job_; }
  // The fence once the attempt is claimed (for Renew), nullopt before and after.
  std::optional<calls::Fence> fence() const;

  // LegListener.
  void OnLegEvent(const LegEvent& event) override;
  void OnLegAudio(const audio::PcmFrame& frame) override;

  // PipelineHost.
  CallLeg& leg() override { return *leg_; }
  void EndCall(parley::v1::CallStatus outcome, std::string ended_reason) override;
  void TransferCall(std::string to) override;
  absl::Status AppendEvent(std::string type, std::map<std::string, std::string> detail) override;

 private:
  struct Outcome {
    parley::v1::CallStatus status = parley::v1::CALL_STATUS_UNSPECIFIED;
    std::string reason;
    std::map<std::string, std::string> detail;
    bool no_retry = false;  // the retry policy must not apply (a config error will not heal)
  };

  // Steps of Run; each returns the session's end once it is decided.
  std::optional<SessionResult> Admit();
  std::optional<SessionResult> Setup();
  SessionResult Converse();
  // The pipeline's TransferCall, once its last words played: the leg transfers the callee to
  // `to` (waiting up to transfer_timeout) and `outcome` (completed/"transfer") becomes
  // "transferred", or "transfer_failed" after a "transfer_failed" event. A leg that cannot
  // transfer leaves it as it is: the engine's "transfer" event is all that happens. False when
  // a cancel or a lost lease interrupted it (the leg is hung up; the loop handles the rest).
  bool Transfer(const std::string& to, Outcome& outcome);
  // Ends the attempt: the pipeline's report, FinishAttempt (+ retry decision), CompleteCall, ack.
  SessionResult Finish(Outcome outcome);
  // Stops audio delivery, the pipeline and the leg (in that order); returns the report (with the
  // leg's statistics). Idempotent.
  PipelineReport TearDown(std::string_view ended_reason);
  SessionResult Ended(SessionEnd end, const Outcome& outcome);
  SessionResult Ended(SessionEnd end);
  // A fenced status change; FAILED_PRECONDITION when the fence is lost.
  absl::Status Transition(parley::v1::CallStatus status,
                          std::map<std::string, std::string> detail = {});
  void ReleaseSlot();
  void HeartbeatState();
  // Waits until something needs the session's attention or `deadline`.
  void WaitForWork(absl::Time deadline);
  bool HasWork() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const SessionEnv& env_;
  const calls::Job job_;
  calls::CallRecord call_;
  CachedConfig config_;
  absl::Status config_status_;
  CallPlan plan_;
  bool slot_held_ = false;
  bool state_started_ = false;
  google::protobuf::Struct state_;
  std::unique_ptr<CallPipeline> pipeline_;
  std::unique_ptr<CallLeg> leg_;
  std::unique_ptr<InboundLeg> inbound_leg_;  // until Setup attaches it
  const bool inbound_ = false;               // started with inbound_leg_
  std::optional<PipelineReport> report_;     // once torn down
  // Guards audio delivery to the pipeline: OnLegAudio holds it shared; TearDown closes it.
  absl::Mutex audio_mu_;
  bool audio_open_ ABSL_GUARDED_BY(audio_mu_) = true;
  std::optional<absl::Time> answered_at_;
  absl::Time last_heartbeat_;

  mutable absl::Mutex mu_;
  std::optional<calls::Fence> fence_ ABSL_GUARDED_BY(mu_);
  std::deque<LegEvent> events_ ABSL_GUARDED_BY(mu_);
  bool cancel_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Time> drain_at_ ABSL_GUARDED_BY(mu_);
  std::optional<Outcome> end_request_ ABSL_GUARDED_BY(mu_);
  std::string transfer_to_ ABSL_GUARDED_BY(mu_);  // set with end_request_ by TransferCall
  bool wake_ ABSL_GUARDED_BY(mu_) = false;        // Drain moved the deadline
  // While the answer's status event is being written: pipeline events wait here.
  bool hold_events_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> held_events_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::worker
