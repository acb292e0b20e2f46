// ScriptBatcher: group commit for a Lua script that many threads run at once with their own
// arguments. Concurrent callers share one EVALSHA: a caller that finds fewer than `max_runs` runs
// in flight starts one at once with every caller queued behind it (up to `max_batch`), and the
// others wait for their share of the reply. A lone caller waits for nothing; under load, Redis
// handles one request — one read, one script call, one reply — for many callers.
//
// Two ways in:
//   - Run blocks until the caller's share of a run's reply is there;
//   - RunAsync never waits: it queues the arguments and returns; a leader calls `done` with the
//     reply. The batcher's own threads (`max_runs` of them, started by the first RunAsync) lead
//     runs whenever callers are queued and a run slot is free. This is what lets a gRPC callback
//     handler admit a call without a thread parked per request: a few threads talk to Redis, and
//     the threads serving requests never wait on it (gRPC's callback threads are few; one parked
//     on Redis is one fewer serving requests).
// A leader keeps leading while callers are queued, so a queued caller is never left without one.
// `done` runs on the leader's thread, outside the batcher's lock; it must not block for long.
//
// The script receives ARGV = head…, then per caller: n, the caller's n values; it returns an
// array with one element per caller, in order (CallStore's Create script, call_scripts.cc). No
// KEYS: such a script derives its keys from its arguments (one Redis instance, not a cluster).
//
//   ScriptBatcher batcher(pool, CreateScript(), {.max_batch = 64, .max_runs = 2});
//   PARLEY_ASSIGN_OR_RETURN(RedisReply mine, batcher.Run(head, {call_id, now, …}));
//   batcher.RunAsync(head, {call_id, now, …}, [](absl::StatusOr<RedisReply> mine) { … });
//
// Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/redis/redis_pool.h"
#include "common/redis/redis_script.h"

namespace parley::calls {

struct BatchOptions {
  int max_batch = 64;  // callers per run; 1 = no batching
  int max_runs = 2;    // runs in flight at once
};

class ScriptBatcher final {
 public:
  using Done = std::function<void(absl::StatusOr<redis::RedisReply>)>;

  // `redis` and `script` must outlive the batcher.
  ScriptBatcher(redis::RedisPool* redis, const redis::RedisScript& script, BatchOptions options);
  // Runs what is queued, then stops the batcher's threads.
  ~ScriptBatcher();

  // Runs the script with `head` (the same for every caller — the first caller of a run's is used)
  // and this caller's `args`, and returns this caller's element of the reply. Fails like
  // RedisPool::Eval — for every caller of the run — or INTERNAL when the reply is not one element
  // per caller.
  absl::StatusOr<redis::RedisReply> Run(const std::vector<std::string>& head,
                                        std::vector<std::string> args);

  // The same, delivered to `done` (exactly once, perhaps before RunAsync returns, perhaps on
  // another caller's thread). `head` must equal every other caller's (it is copied by the leader).
  void RunAsync(const std::vector<std::string>& head, std::vector<std::string> args, Done done);

 private:
  struct Pending;

  // Leads runs while callers are queued and a run slot is free. Returns with mu_ held.
  void LeadLocked(const std::vector<std::string>& head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A batcher thread: leads runs for RunAsync's callers until stopped.
  void LeaderLoop();

  redis::RedisPool* redis_;
  const redis::RedisScript& script_;
  const BatchOptions options_;
  absl::Mutex mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  int runs_ ABSL_GUARDED_BY(mu_) = 0;
  // RunAsync's head (the same for every caller), and the threads that lead for RunAsync.
  std::vector<std::string> async_head_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> leaders_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace parley::calls
