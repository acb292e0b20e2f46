#include "common/media/frame_pacer.h"

#include <algorithm>

namespace parley::media {

FramePacer::FramePacer(absl::Duration period, absl::Duration max_lag, absl::Duration late_after)
    : period_(absl::ToChronoNanoseconds(period)),
      max_lag_(absl::ToChronoNanoseconds(max_lag)),
      late_after_(absl::ToChronoNanoseconds(late_after)) {}

FramePacer::Clock::time_point FramePacer::Due(Clock::time_point now) {
  Clock::time_point due = start_ + index_ * period_;
  starts_run_ = false;
  if (!running_ || now - due > max_lag_) {
    starts_run_ = true;
    running_ = true;
    start_ = now;
    index_ = 0;
    due = now;
  }
  return due;
}

FramePacer::Clock::duration FramePacer::Sent(Clock::time_point sent_at) {
  Clock::time_point due = start_ + index_ * period_;
  Clock::duration late = std::max(Clock::duration::zero(), sent_at - due);
  ++index_;
  ++frames_;
  if (late > late_after_) ++late_frames_;
  max_late_us_ = std::max<int64_t>(
      max_late_us_, std::chrono::duration_cast<std::chrono::microseconds>(late).count());
  return late;
}

}  // namespace parley::media
