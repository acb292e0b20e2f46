#include "services/worker/registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace parley::worker {

absl::Status WorkerRegistry::Publish(const WorkerLoad& load, absl::Time now) {
  std::vector<std::vector<std::string>> commands = {
      {"HSET",          key_,
       "worker_id",     identity_.worker_id,
       "host",          identity_.host,
       "pid",           absl::StrCat(identity_.pid),
       "capacity",      absl::StrCat(identity_.capacity),
       "active_calls",  absl::StrCat(load.active_calls),
       "version",       identity_.version,
       "draining",      load.draining ? "1" : "0",
       "heartbeat_ms",  absl::StrCat(absl::ToUnixMillis(now)),
       "call_ids",      absl::StrJoin(load.call_ids, ","),
       "admin_address", identity_.admin_address,
       "start_ms",      absl::StrCat(absl::ToUnixMillis(identity_.start_time))},
      {"PEXPIRE", key_, absl::StrCat(absl::ToInt64Milliseconds(ttl_))}};
  absl::StatusOr<std::vector<redis::RedisReply>> replies = redis_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const redis::RedisReply& r : *replies) {
    if (r.is_error()) return absl::InternalError(absl::StrCat("registry: ", r.str));
  }
  return absl::OkStatus();
}

absl::Status WorkerRegistry::Remove() { return redis_->Command({"DEL", key_}).status(); }

}  // namespace parley::worker
