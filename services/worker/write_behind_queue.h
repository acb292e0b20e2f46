// Writes that must reach another service even when it (or its database) is away for a while: a
// call's last transcript turns and its outcome (state AppendTurns / CompleteCall) when state or
// Postgres is down as the call ends. Submit() tries the write at once; when it fails with
// UNAVAILABLE or DEADLINE_EXCEEDED the write is kept in memory and retried in the background, in
// submission order, with backoff, until it succeeds, fails otherwise, or grows too old. While
// anything is queued, later writes are queued behind it without a first try, so the writes of a
// call keep their order (turns before the outcome) and an outage costs no caller a deadline.
//
// What it does not do: survive the worker process (a worker killed during an outage loses what it
// held; docs/reliability.md says so).
//
//   WriteBehindQueue queue({.max_age = absl::Hours(1)});
//   absl::Status s = queue.Submit("complete " + call_id, [&] { return
//   state.CompleteCall(req).status(); });
//   // OK: written, or queued to be written; other errors: the write was refused for good.
//   queue.WaitEmpty(absl::Seconds(10));   // at shutdown
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace parley::worker {

struct WriteBehindOptions {
  absl::Duration first_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(5);
  // A write still failing this long after it was submitted is dropped (logged as an error).
  absl::Duration max_age = absl::Hours(1);
  // Writes held at most; beyond it Submit() fails with RESOURCE_EXHAUSTED.
  size_t capacity = 100000;
};

class WriteBehindQueue final {
 public:
  using Write = std::function<absl::Status()>;

  explicit WriteBehindQueue(WriteBehindOptions options = {});
  // Stops the retry thread; whatever is still queued is dropped (logged).
  ~WriteBehindQueue();
  WriteBehindQueue(const WriteBehindQueue&) = delete;
  WriteBehindQueue& operator=(const WriteBehindQueue&) = delete;

  // Runs `write` now (or queues it, see above). Returns OK when it succeeded or was queued; its
  // own error when it failed with anything but UNAVAILABLE/DEADLINE_EXCEEDED; RESOURCE_EXHAUSTED
  // when the queue is full. `what` names the write in logs. `write` must stay callable from the
  // retry thread (capture by value).
  absl::Status Submit(std::string what, Write write);

  // Writes waiting to be retried.
  size_t size() const;
  // Waits until nothing is queued; false when `timeout` passed first.
  bool WaitEmpty(absl::Duration timeout) const;

 private:
  struct Pending {
    std::string what;
    Write write;
    absl::Time submitted;
  };
  void Run();

  const WriteBehindOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace parley::worker
