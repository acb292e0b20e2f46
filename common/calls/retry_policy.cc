#include "common/calls/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace parley::calls {

RetryPolicy RetryPolicy::FromJson(const nlohmann::json& policy, int max_attempts_override) {
  RetryPolicy p;
  p.retry_on_ = {parley::v1::CALL_STATUS_BUSY, parley::v1::CALL_STATUS_NO_ANSWER,
                 parley::v1::CALL_STATUS_FAILED};
  if (policy.is_object()) {
    if (policy.contains("retry_on") && policy["retry_on"].is_array()) {
      p.retry_on_.clear();
      for (const nlohmann::json& s : policy["retry_on"]) {
        if (!s.is_string()) continue;
        if (auto status = ParseStatus(s.get<std::string>())) p.retry_on_.insert(*status);
      }
    }
    if (policy.contains("max_attempts") && policy["max_attempts"].is_number_integer() &&
        policy["max_attempts"].get<int>() > 0) {
      p.max_attempts_ = policy["max_attempts"].get<int>();
    }
    const nlohmann::json& backoff =
        policy.contains("backoff") ? policy["backoff"] : nlohmann::json();
    if (backoff.is_object()) {
      if (backoff.contains("initial_delay_s") && backoff["initial_delay_s"].is_number() &&
          backoff["initial_delay_s"].get<double>() > 0) {
        p.initial_s_ = backoff["initial_delay_s"].get<double>();
      }
      if (backoff.contains("multiplier") && backoff["multiplier"].is_number() &&
          backoff["multiplier"].get<double>() >= 1) {
        p.multiplier_ = backoff["multiplier"].get<double>();
      }
      if (backoff.contains("max_delay_s") && backoff["max_delay_s"].is_number() &&
          backoff["max_delay_s"].get<double>() > 0) {
        p.max_s_ = backoff["max_delay_s"].get<double>();
      }
    }
  }
  if (max_attempts_override > 0) p.max_attempts_ = max_attempts_override;
  return p;
}

absl::Duration RetryPolicy::Backoff(int retry) const {
  double s = initial_s_ * std::pow(multiplier_, std::max(0, retry - 1));
  return absl::Seconds(std::min(s, max_s_));
}

RetryDecision RetryPolicy::Decide(CallStatus outcome, int attempt, absl::Time now,
                                  const CallingWindow& window, const absl::TimeZone& tz) const {
  if (!retry_on_.contains(outcome) || attempt >= max_attempts_) return {};
  absl::Time at = window.NextOpening(now + Backoff(attempt), tz);
  return {.retry_at_ms = absl::ToUnixMillis(at)};
}

}  // namespace parley::calls
