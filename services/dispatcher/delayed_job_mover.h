// DelayedJobMover: the background thread that turns due scheduled calls (schedule_at, the next
// opening of a calling window, a retry's backoff) into jobs, by calling CallStore::PromoteDue
// every `interval` (DESIGN.md, "Redis layout": `delayed`).
//
// Each promotion is one Lua script that removes the entry from `delayed` and adds the job, so any
// number of dispatcher replicas may run a mover at once: an entry is promoted by exactly one of
// them, never twice. A round that promotes `batch` entries is followed at once by another, so a
// backlog (a window opening on 10,000 calls) drains at Redis speed, not one batch per interval.
// Redis errors are logged (once per outage, not once per round) and retried on the next round.
//
//   DelayedJobMover mover(&store, {.interval = absl::Milliseconds(200)});
//   mover.Start();
//   ... serve ...
//   mover.Stop();   // also on destruction
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"

namespace parley::dispatcher {

struct MoverOptions {
  absl::Duration interval = absl::Milliseconds(200);
  // Entries promoted per PromoteDue call (one script run; keeps each run short).
  int batch = 500;
  // The clock; absl::Now when empty.
  std::function<absl::Time()> clock;
};

class DelayedJobMover final {
 public:
  // `store` must outlive the mover.
  DelayedJobMover(calls::CallStore* store, MoverOptions options = {});
  ~DelayedJobMover();
  DelayedJobMover(const DelayedJobMover&) = delete;
  DelayedJobMover& operator=(const DelayedJobMover&) = delete;

  // Starts the thread; a second call does nothing.
  void Start();
  // Stops the thread and waits for it (at most one round). Idempotent.
  void Stop();

  // One pass: promotes every due entry (in batches). Returns how many were promoted, or the
  // store's error (UNAVAILABLE when Redis is down). The thread calls this; tests may too.
  absl::StatusOr<int> RunOnce();

  // Entries promoted by this mover since it was built.
  int64_t promoted() const { return promoted_.load(); }

 private:
  void Loop();

  calls::CallStore* store_;
  MoverOptions options_;
  std::atomic<int64_t> promoted_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace parley::dispatcher
