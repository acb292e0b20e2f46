// ScriptBatcher: group commit for a Lua script that many threads run at once with their own
// arguments. Concurrent callers share one EVALSHA: a caller that finds fewer than `max_runs` runs
// in flight starts one at once with every caller queued behind it (up to `max_batch`), and the
// others wait for their share of the reply. A lone caller waits for nothing; under load, Redis
// handles one request — one read, one script call, one reply — for many callers.
//
// The script receives ARGV = head…, then per caller: n, the caller's n values; it returns an
// array with one element per caller, in order (CallStore's Create script, call_scripts.cc). No
// KEYS: such a script derives its keys from its arguments (one Redis instance, not a cluster).
//
//   ScriptBatcher batcher(pool, CreateScript(), {.max_batch = 64, .max_runs = 2});
//   PARLEY_ASSIGN_OR_RETURN(RedisReply mine, batcher.Run(head, {call_id, now, …}));
//
// Thread-safe.
#pragma once

#include <deque>
#include <string>
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
  // `redis` and `script` must outlive the batcher.
  ScriptBatcher(redis::RedisPool* redis, const redis::RedisScript& script, BatchOptions options);

  // Runs the script with `head` (the same for every caller — the first caller of a run's is used)
  // and this caller's `args`, and returns this caller's element of the reply. Fails like
  // RedisPool::Eval — for every caller of the run — or INTERNAL when the reply is not one element
  // per caller.
  absl::StatusOr<redis::RedisReply> Run(const std::vector<std::string>& head,
                                        std::vector<std::string> args);

 private:
  struct Pending;

  redis::RedisPool* redis_;
  const redis::RedisScript& script_;
  const BatchOptions options_;
  absl::Mutex mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  int runs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace parley::calls
