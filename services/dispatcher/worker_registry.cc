#include "services/dispatcher/worker_registry.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status/status.h"
#include "services/dispatcher/call_conversion.h"

namespace parley::dispatcher {
namespace {

int64_t Int(const absl::flat_hash_map<std::string, std::string>& hash, const char* key) {
  auto it = hash.find(key);
  int64_t value = 0;
  if (it == hash.end() || !absl::SimpleAtoi(it->second, &value)) return 0;
  return value;
}

std::string Str(const absl::flat_hash_map<std::string, std::string>& hash, const char* key) {
  auto it = hash.find(key);
  return it == hash.end() ? std::string() : it->second;
}

}  // namespace

parley::v1::WorkerInfo WorkerFromHash(const absl::flat_hash_map<std::string, std::string>& hash,
                                      const std::string& key_id) {
  parley::v1::WorkerInfo info;
  std::string id = Str(hash, "worker_id");
  info.set_worker_id(id.empty() ? key_id : id);
  info.set_host(Str(hash, "host"));
  info.set_pid(static_cast<int32_t>(Int(hash, "pid")));
  info.set_capacity(static_cast<int32_t>(Int(hash, "capacity")));
  info.set_active_calls(static_cast<int32_t>(Int(hash, "active_calls")));
  info.set_version(Str(hash, "version"));
  std::string draining = Str(hash, "draining");
  info.set_draining(draining == "1" || draining == "true");
  if (int64_t ms = Int(hash, "heartbeat_ms"); ms > 0) {
    *info.mutable_heartbeat_time() = MillisToTimestamp(ms);
  }
  if (int64_t ms = Int(hash, "start_ms"); ms > 0)
    *info.mutable_start_time() = MillisToTimestamp(ms);
  info.set_admin_address(Str(hash, "admin_address"));
  for (absl::string_view id_view : absl::StrSplit(Str(hash, "call_ids"), ',', absl::SkipEmpty())) {
    info.add_call_ids(std::string(id_view));
  }
  return info;
}

WorkerRegistry::WorkerRegistry(redis::RedisPool* redis, std::string prefix)
    : redis_(redis), prefix_(std::move(prefix)) {}

absl::StatusOr<std::vector<parley::v1::WorkerInfo>> WorkerRegistry::List() {
  const std::string key_prefix = prefix_ + "worker:";
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    PARLEY_ASSIGN_OR_RETURN(
        redis::RedisReply reply,
        redis_->Command({"SCAN", cursor, "MATCH", key_prefix + "*", "COUNT", "500"}));
    if (!reply.is_array() || reply.elements.size() != 2) {
      return absl::InternalError("redis: unexpected SCAN reply");
    }
    PARLEY_ASSIGN_OR_RETURN(cursor, reply.elements[0].AsString());
    PARLEY_ASSIGN_OR_RETURN(std::vector<std::string> batch, reply.elements[1].AsStrings());
    for (std::string& key : batch) {
      // `worker:{id}` only: skip anything nested below it (`worker:{id}:…`).
      if (key.find(':', key_prefix.size()) == std::string::npos) keys.push_back(std::move(key));
    }
  } while (cursor != "0");
  // SCAN may return a key more than once.
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (keys.empty()) return std::vector<parley::v1::WorkerInfo>{};

  std::vector<std::vector<std::string>> commands;
  commands.reserve(keys.size());
  for (const std::string& key : keys) commands.push_back({"HGETALL", key});
  PARLEY_ASSIGN_OR_RETURN(std::vector<redis::RedisReply> replies, redis_->Pipeline(commands));
  std::vector<parley::v1::WorkerInfo> workers;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error() || !replies[i].is_array() || replies[i].elements.empty()) continue;
    absl::StatusOr<absl::flat_hash_map<std::string, std::string>> hash = replies[i].AsMap();
    if (!hash.ok()) continue;
    workers.push_back(WorkerFromHash(*hash, keys[i].substr(key_prefix.size())));
  }
  std::sort(workers.begin(), workers.end(),
            [](const auto& a, const auto& b) { return a.worker_id() < b.worker_id(); });
  return workers;
}

}  // namespace parley::dispatcher
