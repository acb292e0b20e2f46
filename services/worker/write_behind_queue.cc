#include "services/worker/write_behind_queue.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace parley::worker {
namespace {

bool Transient(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

WriteBehindQueue::WriteBehindQueue(WriteBehindOptions options)
    : options_(options), thread_([this] { Run(); }) {}

WriteBehindQueue::~WriteBehindQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  if (!queue_.empty()) {
    log::Error("writes dropped at shutdown",
               {{"count", absl::StrCat(queue_.size())}, {"first", queue_.front().what}});
  }
}

absl::Status WriteBehindQueue::Submit(std::string what, Write write) {
  {
    absl::MutexLock lock(&mu_);
    if (!queue_.empty()) {  // an outage is on: keep the order, spare the caller a deadline
      if (queue_.size() >= options_.capacity) {
        return absl::ResourceExhaustedError(absl::StrCat("write-behind queue full: ", what));
      }
      queue_.push_back({std::move(what), std::move(write), absl::Now()});
      return absl::OkStatus();
    }
  }
  absl::Status status = write();
  if (!Transient(status)) return status;
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= options_.capacity) {
    return absl::ResourceExhaustedError(absl::StrCat("write-behind queue full: ", what));
  }
  log::Warn("write deferred until its service answers",
            {{"what", what}, {"error", status.ToString()}});
  queue_.push_back({std::move(what), std::move(write), absl::Now()});
  return absl::OkStatus();
}

size_t WriteBehindQueue::size() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool WriteBehindQueue::WaitEmpty(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return queue_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

void WriteBehindQueue::Run() {
  absl::Duration backoff = options_.first_backoff;
  absl::MutexLock lock(&mu_);
  for (;;) {
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
    mu_.Await(absl::Condition(&ready));
    if (stopping_) return;
    Pending head = queue_.front();  // a copy: Submit may push meanwhile
    mu_.Unlock();
    absl::Status status = head.write();
    mu_.Lock();
    if (Transient(status) && absl::Now() - head.submitted < options_.max_age) {
      // Still away: wait, unless told to stop.
      auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = options_.first_backoff;
    queue_.pop_front();
    if (status.ok()) {
      log::Info(
          "deferred write done",
          {{"what", head.what}, {"late_by", absl::FormatDuration(absl::Now() - head.submitted)}});
    } else {
      log::Error("deferred write dropped", {{"what", head.what}, {"error", status.ToString()}});
    }
  }
}

}  // namespace parley::worker
