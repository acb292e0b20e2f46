// WorkQueue: a fixed set of threads running submitted tasks in order of submission — where the
// dispatcher's callback handlers send work that must block (a config-api lookup, a Redis
// round trip outside a shared run), so gRPC's threads never wait on it.
//
//   WorkQueue slow(8);
//   slow.Submit([&] { done(admitter.Admit(request)); });
//
// Thread-safe. The destructor runs every task already submitted, then joins the threads.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace parley::dispatcher {

class WorkQueue final {
 public:
  // Starts `threads` threads (at least 1).
  explicit WorkQueue(int threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `task`; a free thread runs it.
  void Submit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace parley::dispatcher
