#include "services/state/live_state.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/redis/redis_script.h"
#include "common/status/status.h"

namespace parley::state {
namespace {

// KEYS[1] the hash; ARGV: mode ('open' | 'write'), attempt, version, ttl ms, then field/value
// pairs. One script so that the ordering check and the write are atomic.
const redis::RedisScript& WriteScript() {
  static const auto* kScript = new redis::RedisScript(R"lua(
    if ARGV[1] == 'open' then
      redis.call('DEL', KEYS[1])
    else
      local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
      local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
      local new_attempt, new_version = tonumber(ARGV[2]), tonumber(ARGV[3])
      if attempt > new_attempt or (attempt == new_attempt and version > new_version) then
        return 0
      end
    end
    redis.call('HSET', KEYS[1], 'attempt', ARGV[2], 'version', ARGV[3], unpack(ARGV, 5))
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return 1
  )lua");
  return *kScript;
}

// KEYS[1] the hash; ARGV[1] the attempt that ended. A later attempt's hash is left alone.
const redis::RedisScript& RemoveScript() {
  static const auto* kScript = new redis::RedisScript(R"lua(
    local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
    if attempt > tonumber(ARGV[1]) then return 0 end
    return redis.call('DEL', KEYS[1])
  )lua");
  return *kScript;
}

}  // namespace

LiveState::LiveState(redis::RedisPool* redis, LiveStateOptions options)
    : redis_(redis), options_(std::move(options)) {}

std::string LiveState::Key(std::string_view call_id) const {
  return absl::StrCat(options_.key_prefix, "conv:", AbslView(call_id));
}

absl::Status LiveState::Open(const LiveUpdate& update) { return Run("open", update); }

absl::Status LiveState::Write(const LiveUpdate& update) { return Run("write", update); }

absl::Status LiveState::Run(const char* mode, const LiveUpdate& update) {
  absl::Time now = absl::Now();
  std::vector<std::string> args = {
      mode,
      absl::StrCat(update.attempt),
      absl::StrCat(update.version),
      absl::StrCat(std::max<std::int64_t>(1, absl::ToInt64Milliseconds(options_.ttl))),
      "call_id",
      update.call_id,
      "agent",
      update.agent,
      "last_activity",
      absl::StrCat(absl::ToUnixMillis(update.last_activity.value_or(now)))};
  if (update.current_node) {
    args.push_back("current_node");
    args.push_back(*update.current_node);
  }
  if (std::string_view(mode) == "open") {
    args.push_back("started_at");
    args.push_back(absl::StrCat(absl::ToUnixMillis(now)));
  }
  return redis_->Eval(WriteScript(), {Key(update.call_id)}, args).status();
}

absl::Status LiveState::Remove(std::string_view call_id, int attempt) {
  return redis_->Eval(RemoveScript(), {Key(call_id)}, {absl::StrCat(attempt)}).status();
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> LiveState::Read(
    std::string_view call_id) {
  PARLEY_ASSIGN_OR_RETURN(redis::RedisReply reply, redis_->Command({"HGETALL", Key(call_id)}));
  return reply.AsMap();
}

}  // namespace parley::state
