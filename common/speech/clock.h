// An injectable source of the current time, so the voice pipeline's timers (endpointing, silence
// timeouts, pacing) run on the wall clock in production and on a hand-driven clock in tests.
//
//   FakeClock clock;                       // starts at the Unix epoch unless told otherwise
//   Endpointer endpointer(options, &clock);
//   endpointer.OnSpeechEnd();
//   clock.Advance(absl::Milliseconds(500));
//   EXPECT_TRUE(endpointer.Poll());
//
// Production code takes a `Clock*` and is handed `SystemClock::Get()`.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace parley::speech {

// The current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current time; never fails.
  virtual absl::Time Now() = 0;
};

// The wall clock (absl::Now()).
class SystemClock final : public Clock {
 public:
  // The process-wide instance; never null, never destroyed.
  static SystemClock* Get();
  absl::Time Now() override { return absl::Now(); }
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  // Moves the clock forward by `d` (a negative `d` moves it back, for tests of clock skew).
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // Sets the clock to `t`.
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::speech
