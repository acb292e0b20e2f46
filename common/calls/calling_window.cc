#include "common/calls/calling_window.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/phone/phone.h"
#include "common/status/status.h"

namespace parley::calls {
namespace {

constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// "HH:MM" → minutes after midnight; "24:00" allowed as an end.
std::optional<int> ParseClock(const nlohmann::json& v) {
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

int Weekday(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

}  // namespace

absl::StatusOr<CallingWindow> CallingWindow::FromJson(const nlohmann::json& window) {
  CallingWindow w;
  if (window.is_null() || (window.is_object() && window.empty())) return w;
  if (!window.is_object()) return InvalidField("calling_window", "must be an object");
  w.always_open_ = false;
  if (window.contains("time_zone") && window["time_zone"].is_string()) {
    w.time_zone_ = window["time_zone"].get<std::string>();
    absl::TimeZone tz;
    if (!absl::LoadTimeZone(w.time_zone_, &tz)) {
      return InvalidField("calling_window.time_zone",
                          absl::StrCat("unknown IANA time zone \"", w.time_zone_, "\""));
    }
  }
  if (window.contains("days") && window["days"].is_array() && !window["days"].empty()) {
    w.days_.fill(false);
    for (size_t i = 0; i < window["days"].size(); ++i) {
      const nlohmann::json& d = window["days"][i];
      bool found = false;
      for (int k = 0; k < 7; ++k) {
        if (d.is_string() && d.get<std::string>() == kDays[k]) w.days_[k] = found = true;
      }
      if (!found) return InvalidField(absl::StrCat("calling_window.days[", i, "]"), "unknown day");
    }
  }
  std::optional<int> start = window.contains("start") ? ParseClock(window["start"]) : 0;
  std::optional<int> end = window.contains("end") ? ParseClock(window["end"]) : 1440;
  if (!start) return InvalidField("calling_window.start", "must be HH:MM");
  if (!end) return InvalidField("calling_window.end", "must be HH:MM");
  if (*end <= *start) return InvalidField("calling_window.end", "must be after start");
  w.start_minute_ = *start;
  w.end_minute_ = *end;
  return w;
}

CallingWindow CallingWindow::AlwaysOpen() { return CallingWindow(); }

bool CallingWindow::IsOpen(absl::Time t, const absl::TimeZone& tz) const {
  if (always_open_) return true;
  absl::CivilMinute local = absl::ToCivilMinute(t, tz);
  if (!days_[Weekday(absl::CivilDay(local))]) return false;
  int minute = local.hour() * 60 + local.minute();
  return minute >= start_minute_ && minute < end_minute_;
}

absl::Time CallingWindow::NextOpening(absl::Time t, const absl::TimeZone& tz) const {
  if (IsOpen(t, tz)) return t;
  absl::CivilDay day(absl::ToCivilDay(t, tz));
  for (int i = 0; i <= 8; ++i, ++day) {
    if (!days_[Weekday(day)]) continue;
    absl::CivilMinute opening = absl::CivilMinute(day) + start_minute_;
    // In a DST gap the opening may not exist; FromCivil picks the instant after the gap.
    absl::Time at = absl::FromCivil(opening, tz);
    if (at > t && IsOpen(at, tz)) return at;
    if (at > t) {
      // The civil opening fell into a gap and mapped outside the window: open at the first
      // minute that is inside it.
      for (absl::Time m = at; m < at + absl::Hours(3); m += absl::Minutes(1)) {
        if (IsOpen(m, tz)) return m;
      }
    }
  }
  return t;  // no open day at all: a malformed window; place the call now rather than never
}

absl::TimeZone ZoneForNumber(std::string_view e164, const std::string& fallback) {
  absl::TimeZone tz;
  std::vector<std::string> zones = phone::TimeZonesOf(e164);
  if (!zones.empty() && absl::LoadTimeZone(zones.front(), &tz)) return tz;
  if (absl::LoadTimeZone(fallback, &tz)) return tz;
  return absl::UTCTimeZone();
}

}  // namespace parley::calls
