// A campaign's retry policy (config.proto RetryPolicy) applied to an unsuccessful attempt.
//
//   RetryPolicy policy = RetryPolicy::FromJson(campaign["retry_policy"], call.max_attempts);
//   RetryDecision d = policy.Decide(CallStatus::CALL_STATUS_BUSY, /*attempt=*/1, now, window,
//   zone);
//   // d.retry_at_ms = now + backoff, moved to the next window opening when outside it.
#pragma once

#include <nlohmann/json.hpp>
#include <set>

#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/calls/calling_window.h"

namespace parley::calls {

class RetryPolicy final {
 public:
  // From a RetryPolicy spec object; absent fields take the defaults (retry busy, no_answer,
  // failed; 3 attempts; 300 s × 2^(n-1) up to 86400 s). `max_attempts_override` > 0 (the call's
  // own max_attempts) wins over the policy's. An unknown status name in retry_on is ignored
  // (config-api validates specs).
  static RetryPolicy FromJson(const nlohmann::json& policy, int max_attempts_override = 0);

  int max_attempts() const { return max_attempts_; }
  // Delay before the n-th retry (n ≥ 1).
  absl::Duration Backoff(int retry) const;

  // No retry (0) when `outcome` is not retried, or `attempt` was the last allowed; else the time
  // of the next attempt: now + backoff, then the next opening of `window` in `tz`.
  RetryDecision Decide(CallStatus outcome, int attempt, absl::Time now, const CallingWindow& window,
                       const absl::TimeZone& tz) const;

 private:
  std::set<CallStatus> retry_on_;
  int max_attempts_ = 3;
  double initial_s_ = 300;
  double multiplier_ = 2;
  double max_s_ = 86400;
};

}  // namespace parley::calls
