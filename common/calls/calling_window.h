// Calling windows: when a campaign may place calls, in the callee's local time
// (config.proto CallingWindow). Pure functions of time; DST-safe (civil time via absl).
//
//   PARLEY_ASSIGN_OR_RETURN(CallingWindow w, CallingWindow::FromJson(campaign["calling_window"]));
//   absl::Time next = w.NextOpening(absl::Now(), zone);  // now when inside the window
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace parley::calls {

class CallingWindow final {
 public:
  // From a CallingWindow spec object ({time_zone, days, start, end}); an absent/null window is
  // "always open". INVALID_ARGUMENT "calling_window.<field>: …" for a malformed one.
  static absl::StatusOr<CallingWindow> FromJson(const nlohmann::json& window);
  static CallingWindow AlwaysOpen();

  bool always_open() const { return always_open_; }
  // The window's own zone name (used when the callee's zone is unknown).
  const std::string& time_zone() const { return time_zone_; }

  // True when `t` is inside the window in zone `tz`.
  bool IsOpen(absl::Time t, const absl::TimeZone& tz) const;
  // `t` itself when open, else the next instant the window opens in `tz` (within 8 days).
  absl::Time NextOpening(absl::Time t, const absl::TimeZone& tz) const;

 private:
  bool always_open_ = true;
  std::string time_zone_ = "UTC";
  std::array<bool, 7> days_{true, true, true, true, true, true, true};  // Monday = 0
  int start_minute_ = 0;   // minutes after local midnight
  int end_minute_ = 1440;  // exclusive
};

// The zone to apply a window in for `e164`: the number's own zone when it has exactly one (or a
// first, most likely one) per common/phone, else `fallback` (the campaign's zone). Unknown zone
// names fall back to UTC.
absl::TimeZone ZoneForNumber(std::string_view e164, const std::string& fallback);

}  // namespace parley::calls
