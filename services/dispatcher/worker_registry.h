// WorkerRegistry: reads the live workers from Redis, for DispatcherService.ListWorkers.
//
// Each worker keeps a hash `{prefix}worker:{id}` (refreshed by its heartbeat, with a TTL, so a dead
// worker's entry disappears by itself) with the fields
//   worker_id, host, pid, capacity, active_calls, version, draining ("1"/"true"), heartbeat_ms,
//   call_ids (comma-separated), and optionally admin_address, start_ms.
// The registry finds them with SCAN (never KEYS: it must not block Redis) and reads them in one
// pipeline.
//
//   WorkerRegistry registry(redis.get(), "parley:");
//   PARLEY_ASSIGN_OR_RETURN(std::vector<parley::v1::WorkerInfo> workers, registry.List());
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/worker.pb.h"

namespace parley::dispatcher {

class WorkerRegistry final {
 public:
  // `prefix` is the store's key prefix ("parley:").
  WorkerRegistry(redis::RedisPool* redis, std::string prefix);

  // The workers whose registry hash exists, ordered by worker id. Hashes that vanished between
  // SCAN and HGETALL are skipped, as are keys of another type under the same pattern.
  // UNAVAILABLE when Redis is down.
  absl::StatusOr<std::vector<parley::v1::WorkerInfo>> List();

 private:
  redis::RedisPool* redis_;
  std::string prefix_;
};

// One registry hash → WorkerInfo; `key_id` (from the key name) is used when the hash lacks
// worker_id. Unparsable numbers read as 0. Exposed for tests.
parley::v1::WorkerInfo WorkerFromHash(const absl::flat_hash_map<std::string, std::string>& hash,
                                      const std::string& key_id);

}  // namespace parley::dispatcher
