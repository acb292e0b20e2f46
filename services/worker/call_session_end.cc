// CallSession's ending: tearing down the pipeline and the leg, and recording the outcome.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "services/worker/call_session.h"
#include "services/worker/session_util.h"

namespace parley::worker {

using internal::RetryUntil;
using internal::ToProto;
using internal::WithRetries;

void CallSession::HeartbeatState() {
  last_heartbeat_ = absl::Now();
  parley::v1::HeartbeatRequest request;
  request.set_call_id(call_.call_id);
  request.set_attempt(call_.attempt);
  if (absl::Status s = env_.state->Heartbeat(request); !s.ok()) {
    log::Warn("state heartbeat failed", {{"error", s.ToString()}});
  }
}

bool CallSession::Transfer(const std::string& to, Outcome& outcome) {
  // The leg waits for the outcome (the target ringing): on a thread of its own, so that a cancel
  // or a lost lease still ends the call at once — hanging up the leg ends its wait.
  TransferResult result;
  absl::Notification done;
  std::thread transfer([&] {
    result = leg_->Transfer(to, env_.transfer_timeout);
    done.Notify();
  });
  bool interrupted = false;
  while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    absl::MutexLock lock(&mu_);
    if (lost_ || cancel_) {
      interrupted = true;
      break;
    }
  }
  if (interrupted) leg_->Hangup(HangupCause::kCanceled, "transfer interrupted");
  transfer.join();
  if (interrupted) return false;
  if (result.status.code() == absl::StatusCode::kUnimplemented) return true;
  if (result.sip_code != 0) outcome.detail["sip_code"] = absl::StrCat(result.sip_code);
  if (result.status.ok()) {
    outcome.reason = "transferred";
    return true;
  }
  log::Warn("transfer failed", {{"call_id", call_.call_id}, {"error", result.status.ToString()}});
  std::map<std::string, std::string> detail{{"error", std::string(result.status.message())}};
  if (result.sip_code != 0) detail["sip_code"] = absl::StrCat(result.sip_code);
  (void)AppendEvent("transfer_failed", std::move(detail));
  outcome.reason = "transfer_failed";
  return true;
}

PipelineReport CallSession::TearDown(std::string_view ended_reason) {
  if (report_.has_value()) return *report_;
  {
    absl::MutexLock lock(&audio_mu_);  // waits for a frame being delivered
    audio_open_ = false;
  }
  PipelineReport report;
  if (pipeline_ != nullptr) report = pipeline_->Stop(ended_reason);
  if (inbound_leg_ != nullptr) {
    // An answered inbound call whose set-up failed before the leg was attached: hang up now, not
    // when the finished session is reaped (the caller would hear silence meanwhile).
    inbound_leg_->Hangup(HangupCause::kError, std::string(ended_reason));
    inbound_leg_.reset();
  }
  if (leg_ != nullptr) {
    leg_->Hangup(HangupCause::kError, std::string(ended_reason));  // no-op when already ended
    LegStats stats = leg_->Stats();
    leg_.reset();  // joins the leg's threads
    report.metrics["frames_sent"] = static_cast<double>(stats.frames_sent);
    report.metrics["late_frames_pct"] =
        stats.frames_sent > 0 ? 100.0 * stats.late_frames / stats.frames_sent : 0;
    report.metrics["max_late_ms"] = stats.max_late_us / 1000.0;
    report.metrics["frames_received"] = static_cast<double>(stats.frames_received);
    report.metrics["frames_concealed"] = static_cast<double>(stats.frames_concealed);
    if (stats.first_audio_us >= 0) report.metrics["first_audio_ms"] = stats.first_audio_us / 1000.0;
  }
  report_ = report;
  return report;
}

SessionResult CallSession::Finish(Outcome outcome) {
  PipelineReport report = TearDown(outcome.reason);
  std::optional<calls::Fence> f = fence();
  if (!f.has_value()) return Ended(SessionEnd::kError, outcome);
  const absl::Time now = absl::Now();
  calls::RetryDecision retry;
  if (!outcome.no_retry) {
    retry = DecideRetry(call_, config_status_.ok() ? config_.config.get() : nullptr, outcome.status,
                        now);
  }
  // The history record first, so that whoever sees the terminal event can read the report. A
  // renewal just before checks that the attempt is still ours (a stale worker writes nothing),
  // and holds it for long enough to write the history and then the Redis record: with only the
  // usual lease, a slow Postgres write could outlast it, another worker would reclaim the call as
  // failed/worker_lost in Redis while the history said completed. (Were this worker to die right
  // here, the call is reclaimed after kFinishLease instead of one lease.)
  constexpr absl::Duration kFinishLease = absl::Seconds(30);
  absl::StatusOr<bool> still_ours = WithRetries([&] {
    return env_.store->Renew(*f, absl::ToInt64Milliseconds(std::max(env_.lease, kFinishLease)),
                             absl::ToUnixMillis(now));
  });
  if (!still_ours.ok() && still_ours.status().code() == absl::StatusCode::kFailedPrecondition) {
    Lose();
    return Ended(SessionEnd::kLost, outcome);
  }
  if (state_started_) {
    parley::v1::CompleteCallRequest complete;
    complete.set_call_id(call_.call_id);
    complete.set_attempt(call_.attempt);
    complete.set_outcome(outcome.status);
    complete.set_ended_reason(outcome.reason);
    complete.set_summary(report.summary);
    for (const auto& [k, v] : report.metrics) (*complete.mutable_metrics())[k] = v;
    if (answered_at_.has_value()) *complete.mutable_answer_time() = ToProto(*answered_at_);
    *complete.mutable_end_time() = ToProto(now);
    // State (or its Postgres) away: the outcome is kept and written once it is back; the call
    // itself ends now (its Redis record and the job do not wait for Postgres).
    absl::Status completed = env_.state->CompleteCallOrDefer(complete);
    if (!completed.ok()) log::Warn("state CompleteCall failed", {{"error", completed.ToString()}});
  }
  // Redis away as the call ends: keep trying for a lease (the attempt is ours that long), so a
  // completed call is not later reclaimed and recorded as failed/worker_lost.
  const absl::Time patience = absl::Now() + env_.lease;
  absl::StatusOr<calls::CallRecord> finished = RetryUntil(patience, [&] {
    return env_.store->FinishAttempt(*f, outcome.status, outcome.reason, retry,
                                     absl::ToUnixMillis(now), outcome.detail);
  });
  if (!finished.ok()) {
    if (finished.status().code() == absl::StatusCode::kFailedPrecondition) {
      Lose();
      return Ended(SessionEnd::kLost, outcome);
    }
    log::Error("cannot finish attempt", {{"error", finished.status().ToString()}});
    return Ended(SessionEnd::kError, outcome);
  }
  slot_held_ = false;  // FinishAttempt released it
  if (env_.metrics != nullptr) {
    env_.metrics
        ->Counter("parley_worker_calls_total", "Call attempts ended, by outcome",
                  {{"outcome", std::string(calls::StatusName(outcome.status))}})
        .Increment();
  }
  if (!job_.stream_id.empty()) {  // an inbound call has no job entry of its own
    absl::Status acked = RetryUntil(std::max(patience, absl::Now() + absl::Seconds(1)),
                                    [&] { return env_.store->AckJob(job_.stream_id); });
    if (!acked.ok()) log::Warn("cannot ack job", {{"error", acked.ToString()}});
  }
  log::Info("call attempt ended",
            {{"outcome", std::string(calls::StatusName(outcome.status))},
             {"ended_reason", outcome.reason},
             {"retry_in", retry.retry_at_ms > 0
                              ? absl::FormatDuration(absl::FromUnixMillis(retry.retry_at_ms) - now)
                              : "never"}});
  return Ended(SessionEnd::kFinished, outcome);
}

}  // namespace parley::worker
