#include "services/worker/call_session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/status/status.h"
#include "services/worker/session_util.h"

namespace parley::worker {
namespace {

using internal::NowMs;
using internal::ToProto;
using internal::WithRetries;
using parley::v1::CallStatus;

// How long a job waits when its campaign is at max_concurrent_calls before it is tried again.
constexpr absl::Duration kCampaignFullDelay = absl::Seconds(2);
// How long a call waits before another try when state cannot be reached to start it.
constexpr absl::Duration kStateUnavailableDelay = absl::Seconds(3);

}  // namespace

const char* SessionEndName(SessionEnd end) {
  switch (end) {
    case SessionEnd::kFinished:
      return "finished";
    case SessionEnd::kStale:
      return "stale";
    case SessionEnd::kDeferred:
      return "deferred";
    case SessionEnd::kAbandoned:
      return "abandoned";
    case SessionEnd::kLost:
      return "lost";
    case SessionEnd::kError:
      return "error";
  }
  return "unknown";
}

CallSession::CallSession(const SessionEnv* env, calls::Job job)
    : env_(*env), job_(std::move(job)) {}

CallSession::CallSession(const SessionEnv* env, calls::Job job, std::unique_ptr<InboundLeg> inbound)
    : env_(*env), job_(std::move(job)), inbound_leg_(std::move(inbound)), inbound_(true) {}

CallSession::~CallSession() {
  TearDown("session destroyed");
  bool lost;
  {
    absl::MutexLock lock(&mu_);
    lost = lost_;
  }
  if (!lost) ReleaseSlot();
}

std::optional<calls::Fence> CallSession::fence() const {
  absl::MutexLock lock(&mu_);
  return fence_;
}

void CallSession::Cancel() {
  absl::MutexLock lock(&mu_);
  cancel_ = true;
}

void CallSession::Lose() {
  absl::MutexLock lock(&mu_);
  lost_ = true;
}

void CallSession::Drain(absl::Time hang_up_at) {
  absl::MutexLock lock(&mu_);
  if (!drain_at_.has_value() || hang_up_at < *drain_at_) drain_at_ = hang_up_at;
  wake_ = true;
}

void CallSession::OnLegEvent(const LegEvent& event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(event);
}

void CallSession::OnLegAudio(const audio::PcmFrame& frame) {
  absl::ReaderMutexLock lock(&audio_mu_);
  if (audio_open_ && pipeline_ != nullptr) pipeline_->OnAudio(frame);
}

void CallSession::EndCall(CallStatus outcome, std::string ended_reason) {
  absl::MutexLock lock(&mu_);
  if (!end_request_.has_value()) end_request_ = Outcome{outcome, std::move(ended_reason), {}};
}

void CallSession::TransferCall(std::string to) {
  absl::MutexLock lock(&mu_);
  if (end_request_.has_value()) return;
  end_request_ = Outcome{parley::v1::CALL_STATUS_COMPLETED, "transfer", {}};
  transfer_to_ = std::move(to);
}

absl::Status CallSession::AppendEvent(std::string type, std::map<std::string, std::string> detail) {
  {
    // Between the answer and its status event the pipeline already talks; what it reports waits
    // so the call's stream reads in_progress first.
    absl::MutexLock lock(&mu_);
    if (hold_events_) {
      held_events_.emplace_back(std::move(type), std::move(detail));
      return absl::OkStatus();
    }
  }
  std::optional<calls::Fence> f = fence();
  if (!f.has_value()) return absl::FailedPreconditionError("the attempt is not held");
  calls::CallEvent event;
  event.call_id = f->call_id;
  event.type = std::move(type);
  event.attempt = f->attempt;
  event.worker = f->worker;
  event.campaign = call_.campaign;
  event.detail = std::move(detail);
  return env_.store->AppendEvent(*f, std::move(event), NowMs());
}

bool CallSession::HasWork() const {
  return !events_.empty() || cancel_ || lost_ || end_request_.has_value() || wake_;
}

void CallSession::WaitForWork(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(this, &CallSession::HasWork), deadline);
  wake_ = false;
}

void CallSession::ReleaseSlot() {
  if (!slot_held_) return;
  slot_held_ = false;
  if (absl::Status s = env_.store->ReleaseSlot(call_.campaign, call_.call_id); !s.ok()) {
    log::Warn("cannot release campaign slot (it expires with its lease)",
              {{"error", s.ToString()}});
  }
}

SessionResult CallSession::Ended(SessionEnd end) { return Ended(end, Outcome{}); }

SessionResult CallSession::Ended(SessionEnd end, const Outcome& outcome) {
  if (end != SessionEnd::kLost) ReleaseSlot();
  {
    absl::MutexLock lock(&mu_);
    fence_.reset();
  }
  if (end != SessionEnd::kFinished) {
    log::Info("session ended", {{"end", SessionEndName(end)}, {"reason", outcome.reason}});
  }
  return {end, outcome.status, outcome.reason};
}

absl::Status CallSession::Transition(CallStatus status, std::map<std::string, std::string> detail) {
  std::optional<calls::Fence> f = fence();
  if (!f.has_value()) return absl::FailedPreconditionError("not claimed");
  return WithRetries([&] { return env_.store->Transition(*f, status, NowMs(), detail); });
}

SessionResult CallSession::Run() {
  log::Scope scope({{"call_id", job_.call_id},
                    {"worker_id", env_.worker_id},
                    {"attempt", absl::StrCat(job_.attempt)}});
  if (std::optional<SessionResult> r = Admit()) return *r;
  if (std::optional<SessionResult> r = Setup()) return *r;
  return Converse();
}

std::optional<SessionResult> CallSession::Admit() {
  absl::StatusOr<calls::CallRecord> call = env_.store->Get(job_.call_id);
  if (!call.ok()) {
    if (call.status().code() != absl::StatusCode::kNotFound) {
      log::Warn("cannot read call", {{"error", call.status().ToString()}});
      return Ended(SessionEnd::kError);
    }
    (void)env_.store->AckJob(job_.stream_id);
    return Ended(SessionEnd::kStale);
  }
  call_ = *std::move(call);
  if (call_.direction == "inbound" && !inbound_) {
    // Runs only where the caller is connected (Worker::RunInbound). The entry stays pending: the
    // reclaim path drops it once the call ended, or ends the call if that worker died.
    return Ended(SessionEnd::kStale);
  }
  if (calls::IsTerminal(call_.status) || call_.attempt != job_.attempt ||
      call_.status == parley::v1::CALL_STATUS_SCHEDULED) {
    (void)env_.store->AckJob(job_.stream_id);
    return Ended(SessionEnd::kStale);
  }
  absl::StatusOr<CachedConfig> config = env_.configs->Get(
      {.agent = call_.agent,
       .campaign = call_.campaign,
       .overrides_json = call_.overrides_json.empty() ? "{}" : call_.overrides_json});
  if (config.ok()) {
    config_ = *std::move(config);
    plan_ = PlanCall(call_, *config_.config);
  } else {
    config_status_ = config.status();
  }
  const int64_t lease_ms = absl::ToInt64Milliseconds(env_.lease);
  const int64_t now = NowMs();
  if (config_status_.ok() && !call_.campaign.empty()) {
    absl::StatusOr<bool> took = env_.store->TakeSlot(
        call_.campaign, call_.call_id, plan_.max_concurrent_calls, now + lease_ms, now);
    if (!took.ok()) return Ended(SessionEnd::kError);
    if (!*took && inbound_) {
      log::Warn("campaign full: inbound call runs over its limit", {{"campaign", call_.campaign}});
    } else if (!*took) {
      // Back in the delayed set for a moment: no attempt used, no capacity held, and no waiting
      // for a lease to expire before someone looks at it again.
      (void)env_.store->Defer(job_, env_.worker_id,
                              now + absl::ToInt64Milliseconds(kCampaignFullDelay), "campaign_full",
                              now);
      return Ended(SessionEnd::kDeferred, Outcome{.reason = "campaign_full"});
    }
    slot_held_ = *took;
  }
  absl::StatusOr<calls::Fence> fence = env_.store->Claim(job_, env_.worker_id, lease_ms, now);
  if (!fence.ok()) {
    if (fence.status().code() != absl::StatusCode::kFailedPrecondition) {
      return Ended(SessionEnd::kError);
    }
    ReleaseSlot();
    // Stale — unless another worker holds this very attempt with a live lease (it reclaimed the
    // job while we were slow to get here): the entry is theirs then, and acking it would leave
    // the call without a job should they die.
    absl::StatusOr<calls::CallRecord> now_call = env_.store->Get(job_.call_id);
    const bool held_elsewhere = now_call.ok() && now_call->attempt == job_.attempt &&
                                !calls::IsTerminal(now_call->status) && !now_call->owner.empty() &&
                                now_call->owner != env_.worker_id &&
                                now_call->lease_until_ms >= NowMs();
    if (!held_elsewhere && !job_.stream_id.empty()) (void)env_.store->AckJob(job_.stream_id);
    return Ended(SessionEnd::kStale);
  }
  absl::MutexLock lock(&mu_);
  fence_ = *std::move(fence);
  return std::nullopt;
}

std::optional<SessionResult> CallSession::Setup() {
  if (!config_status_.ok()) {
    return Finish({parley::v1::CALL_STATUS_FAILED,
                   "config_error",
                   {{"error", std::string(config_status_.message())}},
                   /*no_retry=*/true});
  }
  if (config_.source == ConfigSource::kDefaults && !config_.config->has_trunk()) {
    return Finish({parley::v1::CALL_STATUS_FAILED, "config_unavailable", {}});
  }
  parley::v1::StartCallRequest start;
  // The person on the line: for an inbound call the caller (when it gave its number).
  start.set_phone(inbound_ && !call_.from.empty() ? call_.from : call_.to);
  start.set_agent(call_.agent);
  start.set_call_id(call_.call_id);
  start.set_lead_id(call_.lead_id);
  start.set_campaign(call_.campaign);
  for (const std::string& key : plan_.durable_keys) start.add_durable_keys(key);
  start.set_attempt(call_.attempt);
  start.set_direction(call_.direction == "inbound" ? parley::v1::DIRECTION_INBOUND
                                                   : parley::v1::DIRECTION_OUTBOUND);
  start.set_worker_id(env_.worker_id);
  absl::StatusOr<parley::v1::StartCallResponse> started =
      WithRetries([&] { return env_.state->StartCall(start); });
  if (!started.ok() && internal::Transient(started.status()) && !inbound_) {
    // State (or its Postgres) is away and nothing was dialed: the call waits in the delayed set
    // and is tried again, rather than failing a call that was accepted.
    TearDown("state_unavailable");
    const int64_t now = NowMs();
    (void)env_.store->Defer(job_, env_.worker_id,
                            now + absl::ToInt64Milliseconds(kStateUnavailableDelay),
                            "state_unavailable", now);
    return Ended(SessionEnd::kDeferred, Outcome{.reason = "state_unavailable"});
  }
  if (!started.ok()) {
    const bool taken = started.status().code() == absl::StatusCode::kFailedPrecondition;
    return Finish({parley::v1::CALL_STATUS_FAILED,
                   taken ? "conversation_active" : "state_unavailable",
                   {{"error", std::string(started.status().message())}}});
  }
  state_started_ = true;
  state_ = started->state();
  PipelineContext context{&call_, config_.config.get(), state_, env_.worker_id, config_.config};
  absl::StatusOr<std::unique_ptr<CallPipeline>> pipeline = env_.pipelines->Create(context);
  if (!pipeline.ok()) {
    return Finish({parley::v1::CALL_STATUS_FAILED,
                   absl::StrCat("provider_error:", pipeline.status().message()),
                   {}});
  }
  {
    absl::MutexLock lock(&audio_mu_);
    pipeline_ = *std::move(pipeline);
  }
  bool cancel;
  bool lost;
  std::optional<absl::Time> drain_at;
  {
    absl::MutexLock lock(&mu_);
    cancel = cancel_;
    lost = lost_;
    drain_at = drain_at_;
  }
  if (lost) return Ended(SessionEnd::kLost, Outcome{.reason = "lease_lost"});
  if (cancel) return Finish({parley::v1::CALL_STATUS_CANCELED, "canceled", {}});
  if (drain_at.has_value() && absl::Now() >= *drain_at && !inbound_) {
    // Never dialed: hand the job to another worker (due at once) rather than fail the attempt.
    TearDown("worker_draining");
    (void)env_.store->Defer(job_, env_.worker_id, NowMs(), "worker_draining", NowMs());
    return Ended(SessionEnd::kAbandoned, Outcome{.reason = "worker_draining"});
  }
  if (absl::Status s = Transition(parley::v1::CALL_STATUS_DIALING); !s.ok()) {
    TearDown("not dialed");
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      Lose();
      return Ended(SessionEnd::kLost, Outcome{.reason = "lease_lost"});
    }
    return Ended(SessionEnd::kError);  // not dialed: the reclaim path runs it again
  }
  DialRequest dial{.call_id = call_.call_id,
                   .to = call_.to,
                   .from = plan_.from,
                   .agent = call_.agent,
                   .context = plan_.invite_context,
                   .ring_timeout = plan_.ring_timeout,
                   .max_duration = plan_.max_duration + absl::Minutes(1),
                   .listener = this};
  for (const auto& [name, secret] : config_.config->credentials()) {
    dial.credentials[name] = secret;
  }
  if (inbound_) {
    // Up already: its kAnswered (and whatever followed) reaches this session now.
    inbound_leg_->Attach(this);
    leg_ = std::move(inbound_leg_);
    pipeline_->Prepare();
    return std::nullopt;
  }
  absl::StatusOr<std::unique_ptr<CallLeg>> leg =
      env_.telephony->Dial(dial, config_.config->trunk());
  if (!leg.ok()) {
    return Finish({parley::v1::CALL_STATUS_FAILED,
                   "trunk_error",
                   {{"error", std::string(leg.status().message())}}});
  }
  leg_ = *std::move(leg);
  pipeline_->Prepare();
  return std::nullopt;
}

SessionResult CallSession::Converse() {
  std::optional<Outcome> outcome;
  absl::Time max_end = absl::InfiniteFuture();
  std::optional<absl::Time> drain_hangup_at;
  last_heartbeat_ = absl::Now();
  auto lose = [&] {
    leg_->Hangup(HangupCause::kError, "lease_lost");
    TearDown("lease_lost");
    return Ended(SessionEnd::kLost, Outcome{.reason = "lease_lost"});
  };
  while (!outcome.has_value()) {
    absl::Time deadline = std::min(max_end, last_heartbeat_ + env_.state_heartbeat);
    {
      absl::MutexLock lock(&mu_);
      if (drain_at_.has_value())
        deadline = std::min(deadline, drain_hangup_at.value_or(*drain_at_));
    }
    WaitForWork(deadline);
    std::deque<LegEvent> events;
    bool cancel;
    bool lost;
    std::optional<absl::Time> drain_at;
    std::optional<Outcome> end_request;
    std::string transfer_to;
    {
      absl::MutexLock lock(&mu_);
      events.swap(events_);
      transfer_to = transfer_to_;
      cancel = cancel_;
      lost = lost_;
      drain_at = drain_at_;
      end_request = end_request_;
    }
    if (lost) return lose();
    for (const LegEvent& e : events) {
      if (outcome.has_value()) break;
      absl::Status written;
      switch (e.type) {
        case LegEventType::kRinging:
          written = Transition(parley::v1::CALL_STATUS_RINGING);
          break;
        case LegEventType::kAnswered:
          answered_at_ = absl::Now();
          max_end = *answered_at_ + plan_.max_duration;
          // The greeting first: the callee is listening now, and the status write is a Redis
          // round trip that waits behind every other call's under a burst of answers. A lost
          // fence (FAILED_PRECONDITION) still ends the call below, after at most that round trip
          // of greeting.
          {
            absl::MutexLock lock(&mu_);
            hold_events_ = true;
          }
          pipeline_->OnAnswered(*this);
          written = Transition(parley::v1::CALL_STATUS_IN_PROGRESS,
                               {{"answer_rate", absl::StrCat(e.answer_rate)}});
          {
            std::vector<std::pair<std::string, std::map<std::string, std::string>>> held;
            {
              absl::MutexLock lock(&mu_);
              hold_events_ = false;
              held.swap(held_events_);
            }
            for (auto& [type, detail] : held) (void)AppendEvent(type, std::move(detail));
          }
          break;
        case LegEventType::kDtmf:
          pipeline_->OnDtmf(e.digit);
          (void)AppendEvent("dtmf", {{"digit", e.digit}});
          break;
        case LegEventType::kMark:
          pipeline_->OnMark(e.mark, e.mark_cleared);
          break;
        default: {  // terminal
          Outcome o;
          o.reason = e.reason;
          switch (e.type) {
            case LegEventType::kBusy:
              o.status = parley::v1::CALL_STATUS_BUSY;
              break;
            case LegEventType::kNoAnswer:
              o.status = parley::v1::CALL_STATUS_NO_ANSWER;
              break;
            case LegEventType::kDeclined:
              o.status = parley::v1::CALL_STATUS_DECLINED;
              break;
            case LegEventType::kHangup:
              o.status = parley::v1::CALL_STATUS_COMPLETED;
              break;
            default:  // kFailed, kMediaLost
              o.status = parley::v1::CALL_STATUS_FAILED;
              break;
          }
          if (e.sip_code != 0) o.detail["sip_code"] = absl::StrCat(e.sip_code);
          if (!e.detail.empty()) o.detail["detail"] = e.detail;
          outcome = o;
        }
      }
      if (written.code() == absl::StatusCode::kFailedPrecondition) return lose();
      if (!written.ok()) log::Warn("status not recorded", {{"error", written.ToString()}});
    }
    if (outcome.has_value()) break;
    if (cancel) {
      leg_->Hangup(answered_at_ ? HangupCause::kNormal : HangupCause::kCanceled, "canceled");
      outcome = Outcome{parley::v1::CALL_STATUS_CANCELED, "canceled", {}};
      break;
    }
    if (end_request.has_value()) {
      // Let the last words play, unless the callee hangs up first — in slices, so a lost lease
      // or a cancel still stops the call at once.
      bool interrupted = false;
      for (absl::Time until = absl::Now() + env_.end_call_audio_limit;
           !leg_->WaitAudioSent(absl::Milliseconds(100)) && absl::Now() < until;) {
        absl::MutexLock lock(&mu_);
        if (lost_ || cancel_) {
          interrupted = true;
          break;
        }
      }
      {
        absl::MutexLock lock(&mu_);
        for (const LegEvent& e : events_) {
          if (IsTerminal(e.type)) end_request.reset();
        }
      }
      // The callee's hang-up, a cancel or a lost lease is handled next round.
      if (!end_request.has_value() || interrupted) continue;
      if (!transfer_to.empty() && !Transfer(transfer_to, *end_request)) continue;
      leg_->Hangup(HangupCause::kNormal, end_request->reason);
      outcome = end_request;
      break;
    }
    const absl::Time now = absl::Now();
    if (drain_at.has_value() && now >= *drain_at) {
      if (!answered_at_.has_value()) {
        leg_->Hangup(HangupCause::kCanceled, "worker_draining");
        outcome = Outcome{parley::v1::CALL_STATUS_FAILED, "worker_draining", {}};
        break;
      }
      if (!drain_hangup_at.has_value()) {
        drain_hangup_at = now + env_.drain_grace;
        pipeline_->OnDrain();
      } else if (now >= *drain_hangup_at) {
        leg_->Hangup(HangupCause::kNormal, "worker_draining");
        outcome = Outcome{parley::v1::CALL_STATUS_COMPLETED, "worker_draining", {}};
        break;
      }
    }
    if (now >= max_end) {
      leg_->Hangup(HangupCause::kTimeout, "max_duration");
      outcome = Outcome{parley::v1::CALL_STATUS_COMPLETED, "max_duration", {}};
      break;
    }
    if (now >= last_heartbeat_ + env_.state_heartbeat) HeartbeatState();
  }
  return Finish(*std::move(outcome));
}

}  // namespace parley::worker
