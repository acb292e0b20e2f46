#include "services/worker/voice/circuit_breaker.h"

#include "absl/strings/str_cat.h"

namespace parley::worker {

bool CircuitBreaker::Allow(std::string* why) {
  absl::MutexLock lock(&mu_);
  if (!open_) return true;
  absl::Time now = options_->now();
  if (now >= open_until_ && !probe_in_flight_) {
    probe_in_flight_ = true;  // half-open: this call is the probe
    return true;
  }
  if (why != nullptr) {
    *why = absl::StrCat("circuit open after ", consecutive_failures_,
                        " consecutive failures (last: ", last_error_, ")");
    if (probe_in_flight_) {
      absl::StrAppend(why, "; a probe is in flight");
    } else {
      absl::StrAppend(why, "; next probe in ",
                      absl::FormatDuration(absl::Ceil(open_until_ - now, absl::Seconds(1))));
    }
  }
  return false;
}

void CircuitBreaker::Record(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) {
    absl::MutexLock lock(&mu_);
    probe_in_flight_ = false;  // the probe proved nothing; the next call probes again
    return;
  }
  absl::MutexLock lock(&mu_);
  probe_in_flight_ = false;
  if (status.ok()) {
    consecutive_failures_ = 0;
    open_ = false;
    last_error_.clear();
    return;
  }
  ++consecutive_failures_;
  last_error_ = std::string(status.message().substr(0, 200));
  if (open_ || consecutive_failures_ >= options_->failures_to_open) {
    open_ = true;
    open_until_ = options_->now() + options_->open_for;
  }
}

CircuitBreaker::State CircuitBreaker::state() {
  absl::MutexLock lock(&mu_);
  if (!open_) return State::kClosed;
  return options_->now() >= open_until_ ? State::kHalfOpen : State::kOpen;
}

CircuitBreaker* CircuitBreakers::For(const std::string& key) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<CircuitBreaker>& breaker = breakers_[key];
  if (breaker == nullptr) breaker = std::make_unique<CircuitBreaker>(&options_);
  return breaker.get();
}

}  // namespace parley::worker
