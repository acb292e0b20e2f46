#include "services/worker/worker.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/redis/redis_url.h"
#include "services/worker/session_util.h"

namespace parley::worker {
using internal::ToProto;

Worker::Worker(WorkerOptions options, WorkerDeps deps)
    : options_(std::move(options)),
      deps_(deps),
      registry_(deps.redis, deps.store->Key("worker:" + options_.identity.worker_id),
                options_.identity, options_.registry_ttl) {
  env_.store = deps_.store;
  env_.configs = deps_.configs;
  env_.state = deps_.state;
  env_.telephony = deps_.telephony;
  env_.pipelines = deps_.pipelines;
  env_.worker_id = options_.identity.worker_id;
  env_.lease = options_.lease;
  env_.drain_grace = options_.drain_grace;
  env_.metrics = deps_.metrics;
}

Worker::~Worker() {
  bool wait;
  {
    absl::MutexLock lock(&mu_);
    wait = started_ && !drained_;
  }
  if (wait) {
    Drain(absl::ZeroDuration());
    WaitDrained();
  }
}

absl::Status Worker::Start() {
  if (options_.identity.capacity <= 0) {
    return absl::InvalidArgumentError("max_calls: must be positive");
  }
  absl::StatusOr<redis::RedisUrl> url = redis::ParseRedisUrl(options_.redis_url);
  if (!url.ok()) return url.status();
  if (absl::Status s = deps_.store->EnsureGroup(); !s.ok()) {
    // Not fatal: Redis may come up later; the job loop creates the group then.
    log::Warn("cannot create the jobs consumer group yet", {{"error", s.ToString()}});
  }
  control_ = std::make_unique<ControlChannel>(
      *url, deps_.store->Key("worker:" + options_.identity.worker_id + ":control"),
      [this](const std::string& call_id, int attempt) { OnCancel(call_id, attempt); });
  control_->Start();
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  Heartbeat();
  job_thread_ = std::thread([this] { JobLoop(); });
  renew_thread_ = std::thread([this] { RenewLoop(); });
  house_thread_ = std::thread([this] { HouseLoop(); });
  log::Info("worker started", {{"worker_id", options_.identity.worker_id},
                               {"capacity", absl::StrCat(options_.identity.capacity)},
                               {"lease", absl::FormatDuration(options_.lease)}});
  return absl::OkStatus();
}

bool Worker::WaitControlSubscribed(absl::Duration timeout) {
  return control_ != nullptr && control_->WaitSubscribed(timeout);
}

int Worker::FreeSlots() const {
  return options_.identity.capacity - static_cast<int>(sessions_.size()) - inbound_reserved_;
}

bool Worker::ReserveInbound() {
  Reap();
  absl::MutexLock lock(&mu_);
  if (!started_ || draining_ || stop_ || FreeSlots() <= 0) return false;
  ++inbound_reserved_;
  return true;
}

void Worker::ReleaseInbound() {
  absl::MutexLock lock(&mu_);
  if (inbound_reserved_ > 0) --inbound_reserved_;
}

void Worker::RunInbound(const std::string& call_id, int attempt, std::unique_ptr<InboundLeg> leg) {
  absl::MutexLock lock(&mu_);
  if (inbound_reserved_ > 0) --inbound_reserved_;
  if (stop_) return;  // no reservation was held: the leg hangs up as it goes
  calls::Job job{.stream_id = "", .call_id = call_id, .attempt = attempt};
  auto session = std::make_shared<CallSession>(&env_, std::move(job), std::move(leg));
  // Started even while draining: the caller is on the line, and a draining worker lets its
  // calls finish.
  StartSessionThread(std::move(session));
}

bool Worker::AllDone() const {
  if (!draining_ || inbound_reserved_ > 0) return false;
  for (const auto& [id, running] : sessions_) {
    if (!running->done) return false;
  }
  return true;
}

int Worker::active_sessions() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& [id, running] : sessions_) n += running->done ? 0 : 1;
  return n;
}

bool Worker::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

void Worker::StartSession(const calls::Job& job) {
  for (const auto& [id, running] : sessions_) {
    if (!running->done && running->session->job().stream_id == job.stream_id) return;
  }
  StartSessionThread(std::make_shared<CallSession>(&env_, job));
}

void Worker::StartSessionThread(std::shared_ptr<CallSession> session) {
  auto running = std::make_unique<Running>();
  running->session = std::move(session);
  if (draining_) running->session->Drain(drain_at_);
  Running* r = running.get();
  running->thread = std::thread([this, r] {
    SessionResult result = r->session->Run();
    if (deps_.metrics != nullptr) {
      deps_.metrics
          ->Counter("parley_worker_sessions_total", "Call sessions by how they ended",
                    {{"end", SessionEndName(result.end)}})
          .Increment();
    }
    absl::MutexLock lock(&mu_);
    r->done = true;
  });
  sessions_[next_session_++] = std::move(running);
}

void Worker::Reap() {
  std::vector<std::unique_ptr<Running>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second->done) {
        finished.push_back(std::move(it->second));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& running : finished) running->thread.join();
}

void Worker::JobLoop() {
  const int block_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.read_block));
  for (;;) {
    Reap();
    int want;
    {
      absl::MutexLock lock(&mu_);
      auto can_read = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return draining_ || stop_ || FreeSlots() > 0;
      };
      mu_.AwaitWithTimeout(absl::Condition(&can_read), absl::Seconds(1));
      if (draining_ || stop_) return;
      want = std::min(FreeSlots(), 16);
    }
    if (want <= 0) continue;
    if (options_.ready && !options_.ready()) {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return draining_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Seconds(1));
      continue;
    }
    absl::StatusOr<std::vector<calls::Job>> jobs =
        deps_.store->ReadJobs(options_.identity.worker_id, want, block_ms);
    if (!jobs.ok()) {
      if (absl::StrContains(jobs.status().message(), "NOGROUP")) {
        (void)deps_.store->EnsureGroup();  // Redis lost the group (restart without persistence)
      } else {
        log::Warn("cannot read jobs", {{"error", jobs.status().ToString()}});
      }
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return draining_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Seconds(1));
      continue;
    }
    absl::MutexLock lock(&mu_);
    if (draining_ || stop_) {
      // Read just as the drain began: leave them pending; another worker reclaims them.
      if (!jobs->empty())
        log::Info("draining: left jobs pending", {{"jobs", absl::StrCat(jobs->size())}});
      return;
    }
    for (const calls::Job& job : *jobs) StartSession(job);
  }
}

void Worker::RenewLoop() {
  const absl::Duration interval = std::max(options_.lease / 3, absl::Milliseconds(100));
  const int64_t lease_ms = absl::ToInt64Milliseconds(options_.lease);
  for (;;) {
    std::vector<std::pair<std::shared_ptr<CallSession>, calls::Fence>> held;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stop_), interval)) return;
      for (const auto& [id, running] : sessions_) {
        if (running->done) continue;
        if (std::optional<calls::Fence> f = running->session->fence()) {
          held.emplace_back(running->session, *std::move(f));
        }
      }
    }
    for (auto& [session, fence] : held) {
      absl::StatusOr<bool> cancel =
          deps_.store->Renew(fence, lease_ms, absl::ToUnixMillis(absl::Now()));
      if (!cancel.ok()) {
        if (cancel.status().code() == absl::StatusCode::kFailedPrecondition) {
          log::Warn("lease lost", {{"call_id", fence.call_id}});
          session->Lose();
        } else {
          log::Warn("cannot renew lease",
                    {{"call_id", fence.call_id}, {"error", cancel.status().ToString()}});
        }
      } else if (*cancel) {
        session->Cancel();
      }
    }
  }
}

void Worker::HouseLoop() {
  for (;;) {
    bool draining;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || heartbeat_now_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Seconds(1));
      if (stop_) return;
      draining = draining_;
    }
    Heartbeat();
    if (!draining) {
      Reclaim();
      // Workers promote due jobs too (deferred by a full campaign, retries): it is one atomic
      // script, safe next to the dispatchers' movers, and keeps deferred work moving even when
      // no dispatcher runs.
      if (absl::StatusOr<int> promoted =
              deps_.store->PromoteDue(absl::ToUnixMillis(absl::Now()), 100);
          !promoted.ok()) {
        log::Warn("promoting due jobs failed", {{"error", promoted.status().ToString()}});
      }
    }
  }
}

void Worker::Heartbeat() {
  WorkerLoad load;
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (!heartbeat_now_ && now < last_heartbeat_ + options_.heartbeat) return;
    heartbeat_now_ = false;
    load.draining = draining_;
    for (const auto& [id, running] : sessions_) {
      if (running->done) continue;
      if (std::optional<calls::Fence> f = running->session->fence()) {
        load.call_ids.push_back(f->call_id);
      }
    }
    load.active_calls = static_cast<int>(load.call_ids.size());
    last_heartbeat_ = now;
  }
  if (deps_.metrics != nullptr) {
    deps_.metrics->Gauge("parley_worker_active_calls", "Calls this worker owns")
        .Set(load.active_calls);
  }
  if (absl::Status s = registry_.Publish(load, now); !s.ok()) {
    log::Warn("registry heartbeat failed", {{"error", s.ToString()}});
  }
}

void Worker::Reclaim() {
  // After Redis was unreachable, every owner missed its renewals too: give them a lease to renew
  // (or to record the end of a call) before taking their jobs, else a call that is alive, or
  // that completed during the outage, is reclaimed and ended failed/worker_lost.
  if (!deps_.redis->Ping().ok()) {
    redis_back_at_ = absl::InfiniteFuture();
    return;
  }
  if (redis_back_at_ == absl::InfiniteFuture()) redis_back_at_ = absl::Now();
  if (absl::Now() < redis_back_at_ + options_.lease) return;
  absl::StatusOr<std::vector<calls::Job>> jobs = deps_.store->ClaimStaleJobs(
      options_.identity.worker_id, absl::ToInt64Milliseconds(options_.lease),
      options_.reclaim_batch);
  if (!jobs.ok()) {
    log::Warn("cannot claim stale jobs", {{"error", jobs.status().ToString()}});
    return;
  }
  for (const calls::Job& job : *jobs) {
    absl::StatusOr<calls::CallRecord> call = deps_.store->Get(job.call_id);
    if (!call.ok()) {
      if (call.status().code() == absl::StatusCode::kNotFound) {
        (void)deps_.store->AckJob(job.stream_id);
      }
      continue;
    }
    // The retry decision in case the attempt turns out to be lost (it reached dialing).
    absl::StatusOr<CachedConfig> config = deps_.configs->Get(
        {.agent = call->agent,
         .campaign = call->campaign,
         .overrides_json = call->overrides_json.empty() ? "{}" : call->overrides_json});
    calls::CallRecord as_attempt = *call;
    as_attempt.attempt = job.attempt;
    const absl::Time now = absl::Now();
    calls::RetryDecision retry =
        DecideRetry(as_attempt, config.ok() ? config->config.get() : nullptr,
                    parley::v1::CALL_STATUS_FAILED, now);
    absl::StatusOr<calls::ReclaimAction> action =
        deps_.store->Reclaim(job, absl::ToUnixMillis(now), retry);
    if (!action.ok()) {
      log::Warn("cannot reclaim job",
                {{"call_id", job.call_id}, {"error", action.status().ToString()}});
      continue;
    }
    if (deps_.metrics != nullptr) {
      static constexpr const char* kNames[] = {"run_again", "worker_lost", "drop", "alive"};
      deps_.metrics
          ->Counter("parley_worker_reclaimed_total", "Stale jobs taken over, by what was done",
                    {{"action", kNames[static_cast<int>(*action)]}})
          .Increment();
    }
    switch (*action) {
      case calls::ReclaimAction::kRunAgain: {
        absl::MutexLock lock(&mu_);
        // Without capacity it stays pending here and comes back after another lease time.
        if (!draining_ && !stop_ && FreeSlots() > 0) StartSession(job);
        break;
      }
      case calls::ReclaimAction::kWorkerLost: {
        log::Warn("call lost with its worker", {{"call_id", job.call_id},
                                                {"attempt", absl::StrCat(job.attempt)},
                                                {"owner", call->owner},
                                                {"retried", retry.retry_at_ms > 0 ? "yes" : "no"}});
        parley::v1::CompleteCallRequest complete;
        complete.set_call_id(job.call_id);
        complete.set_attempt(job.attempt);
        complete.set_outcome(parley::v1::CALL_STATUS_FAILED);
        complete.set_ended_reason("worker_lost");
        // No state record when the lost worker never got that far: nothing to close then.
        (void)deps_.state->CompleteCall(complete);
        (void)deps_.store->AckJob(job.stream_id);
        break;
      }
      case calls::ReclaimAction::kDrop:
        (void)deps_.store->AckJob(job.stream_id);
        break;
      case calls::ReclaimAction::kAlive:
        break;
    }
  }
}

void Worker::OnCancel(const std::string& call_id, int attempt) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, running] : sessions_) {
    const calls::Job& job = running->session->job();
    if (!running->done && job.call_id == call_id && job.attempt == attempt) {
      log::Info("cancel requested", {{"call_id", call_id}});
      running->session->Cancel();
    }
  }
}

void Worker::Drain(std::optional<absl::Duration> deadline) {
  absl::MutexLock lock(&mu_);
  const absl::Time at = absl::Now() + deadline.value_or(options_.drain_deadline);
  if (!draining_ || at < drain_at_) drain_at_ = at;
  if (!draining_) {
    log::Info("draining", {{"deadline_in", absl::FormatDuration(drain_at_ - absl::Now())}});
  }
  draining_ = true;
  heartbeat_now_ = true;
  for (const auto& [id, running] : sessions_) running->session->Drain(drain_at_);
}

void Worker::WaitDrained() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || drained_) return;
    mu_.Await(absl::Condition(this, &Worker::AllDone));
  }
  Reap();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (job_thread_.joinable()) job_thread_.join();
  if (renew_thread_.joinable()) renew_thread_.join();
  if (house_thread_.joinable()) house_thread_.join();
  control_.reset();
  if (absl::Status s = registry_.Remove(); !s.ok()) {
    log::Warn("cannot remove the registry entry (its TTL will)", {{"error", s.ToString()}});
  }
  absl::MutexLock lock(&mu_);
  drained_ = true;
  log::Info("drained");
}

parley::v1::WorkerInfo Worker::Info() const {
  parley::v1::WorkerInfo info;
  const WorkerIdentity& id = options_.identity;
  info.set_worker_id(id.worker_id);
  info.set_host(id.host);
  info.set_pid(id.pid);
  info.set_capacity(id.capacity);
  info.set_version(id.version);
  info.set_admin_address(id.admin_address);
  *info.mutable_start_time() = ToProto(id.start_time);
  absl::MutexLock lock(&mu_);
  info.set_draining(draining_);
  if (last_heartbeat_ != absl::InfinitePast()) {
    *info.mutable_heartbeat_time() = ToProto(last_heartbeat_);
  }
  for (const auto& [n, running] : sessions_) {
    if (running->done) continue;
    if (std::optional<calls::Fence> f = running->session->fence()) {
      info.add_call_ids(f->call_id);
    }
  }
  info.set_active_calls(info.call_ids_size());
  return info;
}

}  // namespace parley::worker
