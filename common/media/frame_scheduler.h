// Sends the due audio frames of many streams from a few threads: each stream (a call leg) says
// when it next has a frame due, and one of the scheduler's threads calls it back then. One thread
// per core serves every call of a process, instead of a sending thread per call that sleeps and
// wakes once per 20 ms frame; and a thread that wakes sends every frame due within `early` of
// now, so at a hundred calls it wakes a few times per frame period, not a hundred.
//
//   auto scheduler = std::make_shared<FrameScheduler>();     // one per process
//   FrameScheduler::Slot slot = scheduler->Add(&leg);        // leg implements Client
//   scheduler->Wake(slot, FrameScheduler::Clock::now());     // audio was queued: call me now
//   ...  leg.RunDue(now) sends what is due and returns when it next wants to run
//   scheduler->Remove(slot);                                 // before the leg goes away
//
// Thread-safe. A client's RunDue is never called on two threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace parley::media {

class FrameScheduler final {
 public:
  using Clock = std::chrono::steady_clock;

  class Client {
   public:
    virtual ~Client() = default;
    // Sends what is due at `now` (possibly nothing yet) and returns when it next wants to run,
    // or nullopt while it has nothing queued (it calls Wake when it has). Runs on a scheduler
    // thread; may block briefly (a write).
    virtual std::optional<Clock::time_point> RunDue(Clock::time_point now) = 0;
  };

  // Where a client is served; from Add, for Wake and Remove.
  struct Slot {
    Client* client = nullptr;
    int shard = 0;
  };

  // `threads` sending threads (at least 1; 0 means one per core). A client is run up to `early`
  // before the time it asked for.
  explicit FrameScheduler(int threads = 0, Clock::duration early = std::chrono::milliseconds(2));
  ~FrameScheduler();  // joins the threads; every client must have been removed
  FrameScheduler(const FrameScheduler&) = delete;
  FrameScheduler& operator=(const FrameScheduler&) = delete;

  Clock::duration early() const { return early_; }

  // Serves `client` from now on (nothing scheduled yet). Never fails.
  Slot Add(Client* client);
  // Runs the client at `at` (or sooner: an earlier time it is already due at wins).
  void Wake(const Slot& slot, Clock::time_point at);
  // Stops serving the client; when it returns, its RunDue is not running and will not be called.
  // Must not be called from the client's own RunDue.
  void Remove(const Slot& slot);

 private:
  struct Shard {
    absl::Mutex mu;
    std::set<std::pair<Clock::time_point, Client*>> due ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<Client*, std::optional<Clock::time_point>> clients ABSL_GUARDED_BY(mu);
    std::vector<Client*> running ABSL_GUARDED_BY(mu);
    bool stop ABSL_GUARDED_BY(mu) = false;
    std::thread thread;
  };
  void Loop(Shard& shard);
  static void Schedule(Shard& shard, Client* client, Clock::time_point at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const Clock::duration early_;
  std::vector<std::unique_ptr<Shard>> shards_;
  absl::Mutex next_mu_;
  size_t next_ ABSL_GUARDED_BY(next_mu_) = 0;
};

}  // namespace parley::media
