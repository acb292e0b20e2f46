#include "common/calls/calling_window.h"

#include <gtest/gtest.h>

namespace parley::calls {
namespace {

absl::TimeZone Zone(const char* name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz));
  return tz;
}

absl::Time At(const absl::TimeZone& tz, int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), tz);
}

CallingWindow Weekdays9To20() {
  return *CallingWindow::FromJson(nlohmann::json::parse(
      R"({"time_zone": "America/New_York", "days": ["mon","tue","wed","thu","fri"],
          "start": "09:00", "end": "20:00"})"));
}

TEST(CallingWindowTest, OpenInsideClosedOutside) {
  auto ny = Zone("America/New_York");
  CallingWindow w = Weekdays9To20();
  EXPECT_TRUE(w.IsOpen(At(ny, 2026, 11, 18, 9, 0), ny));  // Wednesday 09:00
  EXPECT_TRUE(w.IsOpen(At(ny, 2026, 11, 18, 19, 59), ny));
  EXPECT_FALSE(w.IsOpen(At(ny, 2026, 11, 18, 20, 0), ny));  // end is exclusive
  EXPECT_FALSE(w.IsOpen(At(ny, 2026, 11, 21, 12, 0), ny));  // Saturday
}

TEST(CallingWindowTest, NextOpeningSkipsTheWeekend) {
  auto ny = Zone("America/New_York");
  CallingWindow w = Weekdays9To20();
  absl::Time friday_night = At(ny, 2026, 11, 20, 21, 30);
  EXPECT_EQ(w.NextOpening(friday_night, ny), At(ny, 2026, 11, 23, 9, 0));  // Monday 09:00
  absl::Time inside = At(ny, 2026, 11, 18, 10, 0);
  EXPECT_EQ(w.NextOpening(inside, ny), inside);
}

TEST(CallingWindowTest, NextOpeningAcrossDstChangesIsAtLocalOpeningTime) {
  auto ny = Zone("America/New_York");
  CallingWindow w = Weekdays9To20();
  // Spring forward: Sunday 2026-03-08 02:00 → 03:00. From Saturday night to Monday 09:00 EDT.
  absl::Time saturday = At(ny, 2026, 3, 7, 22, 0);
  absl::Time monday = w.NextOpening(saturday, ny);
  EXPECT_EQ(absl::ToCivilMinute(monday, ny), absl::CivilMinute(2026, 3, 9, 9, 0));
  EXPECT_EQ(monday - saturday, absl::Hours(34));  // 35 wall-clock hours minus the lost hour
  // Fall back: Sunday 2026-11-01 02:00 → 01:00.
  saturday = At(ny, 2026, 10, 31, 22, 0);
  monday = w.NextOpening(saturday, ny);
  EXPECT_EQ(absl::ToCivilMinute(monday, ny), absl::CivilMinute(2026, 11, 2, 9, 0));
  EXPECT_EQ(monday - saturday, absl::Hours(36));
}

TEST(CallingWindowTest, WindowAppliesInTheCalleesZone) {
  auto london = Zone("Europe/London");
  CallingWindow w = Weekdays9To20();
  // 08:30 in London is 03:30 in New York: the window in London time is what matters.
  absl::Time t = At(london, 2026, 11, 18, 8, 30);
  EXPECT_EQ(w.NextOpening(t, london), At(london, 2026, 11, 18, 9, 0));
  EXPECT_EQ(ZoneForNumber("+442079460958", "America/New_York").name(), "Europe/London");
  EXPECT_EQ(ZoneForNumber("+14155552671", "UTC").name(), "America/Los_Angeles");
  EXPECT_EQ(ZoneForNumber("+80012345678", "America/Chicago").name(), "America/Chicago");
}

TEST(CallingWindowTest, AbsentWindowIsAlwaysOpenAndBadOnesAreRejected) {
  auto w = CallingWindow::FromJson(nlohmann::json());
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->always_open());
  EXPECT_FALSE(CallingWindow::FromJson(nlohmann::json::parse(R"({"start": "9am"})")).ok());
  EXPECT_FALSE(
      CallingWindow::FromJson(nlohmann::json::parse(R"({"start": "10:00", "end": "09:00"})")).ok());
  EXPECT_FALSE(
      CallingWindow::FromJson(nlohmann::json::parse(R"({"time_zone": "Mars/Base"})")).ok());
  EXPECT_FALSE(CallingWindow::FromJson(nlohmann::json::parse(R"({"days": ["thurs"]})")).ok());
}

}  // namespace
}  // namespace parley::calls
