// The worker registry entry `{prefix}worker:{id}` (DESIGN.md, "Redis layout"): a hash that the
// dispatcher's ListWorkers reads, refreshed by the worker's heartbeat and given a TTL so that a
// worker that died disappears by itself.
//
// Fields: worker_id, host, pid, capacity, active_calls, version, draining ("0"/"1"),
// heartbeat_ms, call_ids (comma-separated), admin_address, start_ms.
//
//   WorkerRegistry registry(redis, store.Key("worker:w1"), identity, absl::Seconds(15));
//   PARLEY_RETURN_IF_ERROR(registry.Publish({.active_calls = 2, .call_ids = {"c1", "c2"}}));
//   PARLEY_RETURN_IF_ERROR(registry.Remove());   // on a clean exit
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/redis/redis_pool.h"

namespace parley::worker {

struct WorkerIdentity {
  std::string worker_id;
  std::string host;
  int pid = 0;
  int capacity = 0;
  std::string version;
  std::string admin_address;
  absl::Time start_time;
};

struct WorkerLoad {
  int active_calls = 0;
  std::vector<std::string> call_ids;
  bool draining = false;
};

class WorkerRegistry final {
 public:
  WorkerRegistry(redis::RedisPool* redis, std::string key, WorkerIdentity identity,
                 absl::Duration ttl)
      : redis_(redis), key_(std::move(key)), identity_(std::move(identity)), ttl_(ttl) {}

  const std::string& key() const { return key_; }
  // Writes the whole entry with heartbeat_ms = `now` and resets its TTL. UNAVAILABLE when Redis
  // is down.
  absl::Status Publish(const WorkerLoad& load, absl::Time now = absl::Now());
  // Deletes the entry. UNAVAILABLE when Redis is down (the TTL removes it anyway).
  absl::Status Remove();

 private:
  redis::RedisPool* redis_;
  std::string key_;
  WorkerIdentity identity_;
  absl::Duration ttl_;
};

}  // namespace parley::worker
