// Real-time pacing of audio frames: frame n of a run is due at start + n·period on a steady clock,
// so the error of each sleep never accumulates (no drift), and a late frame does not delay the
// ones after it. When the sender runs dry (no frame for longer than `max_lag` past its due time),
// the next frame starts a new run at once instead of bursting to catch up.
//
//   FramePacer pacer(absl::Milliseconds(20));
//   for (const Audio& frame : frames) {
//     std::this_thread::sleep_until(pacer.Due(FramePacer::Clock::now()));
//     stream->Write(frame);
//     pacer.Sent(FramePacer::Clock::now());
//   }
//
// Not thread-safe; one pacer per sending direction.
#pragma once

#include <chrono>
#include <cstdint>

#include "absl/time/time.h"

namespace parley::media {

class FramePacer final {
 public:
  using Clock = std::chrono::steady_clock;

  // `late_after`: a frame sent later than this past its due time counts as late.
  explicit FramePacer(absl::Duration period = absl::Milliseconds(20),
                      absl::Duration max_lag = absl::Milliseconds(60),
                      absl::Duration late_after = absl::Milliseconds(10));

  // When the next frame is due. Starts a new run at `now` when none is running or the due time
  // is more than max_lag in the past.
  Clock::time_point Due(Clock::time_point now);
  // True when the last Due() started a new run (the first frame, or the first after a pause).
  bool starts_run() const { return starts_run_; }
  // Records that the due frame went out at `sent_at` and moves to the next one. Returns how late
  // it was (zero or positive).
  Clock::duration Sent(Clock::time_point sent_at);
  // The next Due starts a new run (e.g. after Clear dropped the queued audio).
  void Restart() { running_ = false; }

  int64_t frames() const { return frames_; }
  int64_t late_frames() const { return late_frames_; }
  // Largest lateness seen, in microseconds.
  int64_t max_late_us() const { return max_late_us_; }

 private:
  Clock::duration period_;
  Clock::duration max_lag_;
  Clock::duration late_after_;
  bool running_ = false;
  bool starts_run_ = false;
  Clock::time_point start_;
  int64_t index_ = 0;  // frame index within the current run
  int64_t frames_ = 0;
  int64_t late_frames_ = 0;
  int64_t max_late_us_ = 0;
};

}  // namespace parley::media
