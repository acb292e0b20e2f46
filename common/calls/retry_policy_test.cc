#include "common/calls/retry_policy.h"

#include <gtest/gtest.h>

namespace parley::calls {
namespace {

TEST(RetryPolicyTest, DefaultsRetryBusyNoAnswerFailedThreeTimes) {
  RetryPolicy p = RetryPolicy::FromJson(nlohmann::json());
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto open = CallingWindow::AlwaysOpen();
  RetryDecision d = p.Decide(parley::v1::CALL_STATUS_BUSY, 1, now, open, absl::UTCTimeZone());
  EXPECT_EQ(d.retry_at_ms, absl::ToUnixMillis(now + absl::Seconds(300)));
  d = p.Decide(parley::v1::CALL_STATUS_NO_ANSWER, 2, now, open, absl::UTCTimeZone());
  EXPECT_EQ(d.retry_at_ms, absl::ToUnixMillis(now + absl::Seconds(600)));
  EXPECT_EQ(p.Decide(parley::v1::CALL_STATUS_FAILED, 3, now, open, absl::UTCTimeZone()).retry_at_ms,
            0);
  EXPECT_EQ(
      p.Decide(parley::v1::CALL_STATUS_COMPLETED, 1, now, open, absl::UTCTimeZone()).retry_at_ms,
      0);
  EXPECT_EQ(
      p.Decide(parley::v1::CALL_STATUS_DECLINED, 1, now, open, absl::UTCTimeZone()).retry_at_ms, 0);
}

TEST(RetryPolicyTest, PolicyFieldsAndCallOverride) {
  RetryPolicy p = RetryPolicy::FromJson(nlohmann::json::parse(R"({
      "retry_on": ["voicemail"], "max_attempts": 5,
      "backoff": {"initial_delay_s": 60, "multiplier": 3, "max_delay_s": 500}})"));
  EXPECT_EQ(p.max_attempts(), 5);
  EXPECT_EQ(p.Backoff(1), absl::Seconds(60));
  EXPECT_EQ(p.Backoff(2), absl::Seconds(180));
  EXPECT_EQ(p.Backoff(3), absl::Seconds(500));  // capped
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto open = CallingWindow::AlwaysOpen();
  EXPECT_GT(
      p.Decide(parley::v1::CALL_STATUS_VOICEMAIL, 1, now, open, absl::UTCTimeZone()).retry_at_ms,
      0);
  EXPECT_EQ(p.Decide(parley::v1::CALL_STATUS_BUSY, 1, now, open, absl::UTCTimeZone()).retry_at_ms,
            0);
  EXPECT_EQ(RetryPolicy::FromJson(nlohmann::json(), /*max_attempts_override=*/1).max_attempts(), 1);
}

TEST(RetryPolicyTest, RetryLandsInsideTheCallingWindow) {
  absl::TimeZone ny;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &ny));
  auto window = *CallingWindow::FromJson(nlohmann::json::parse(
      R"({"time_zone": "America/New_York", "start": "09:00", "end": "20:00"})"));
  RetryPolicy p = RetryPolicy::FromJson(nlohmann::json());
  absl::Time late = absl::FromCivil(absl::CivilMinute(2026, 11, 18, 19, 58), ny);
  RetryDecision d = p.Decide(parley::v1::CALL_STATUS_BUSY, 1, late, window, ny);
  EXPECT_EQ(absl::ToCivilMinute(absl::FromUnixMillis(d.retry_at_ms), ny),
            absl::CivilMinute(2026, 11, 19, 9, 0));
}

}  // namespace
}  // namespace parley::calls
