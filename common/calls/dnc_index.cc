#include "common/calls/dnc_index.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status.h"

namespace parley::calls {
namespace {

// Members per SADD while building the scratch set.
constexpr size_t kBatch = 1000;

// KEYS: scratch, index. The scratch key carried a TTL (so a crashed rebuild leaves nothing behind);
// the index must not.
const redis::RedisScript& SwapScript() {
  static const redis::RedisScript* script = new redis::RedisScript(R"lua(
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
return 'ok'
)lua");
  return *script;
}

}  // namespace

std::string DncIndexKey(std::string_view prefix) { return absl::StrCat(AbslView(prefix), "dnc"); }

std::string DncMember(std::string_view number, std::string_view campaign) {
  return absl::StrCat(AbslView(campaign), ":", AbslView(number));
}

DncIndex::DncIndex(redis::RedisPool* redis, std::string key)
    : redis_(redis), key_(std::move(key)) {}

absl::Status DncIndex::Add(std::string_view number, std::string_view campaign) {
  return redis_->Command({"SADD", key_, DncMember(number, campaign)}).status();
}

absl::Status DncIndex::Remove(std::string_view number, std::string_view campaign) {
  return redis_->Command({"SREM", key_, DncMember(number, campaign)}).status();
}

absl::Status DncIndex::Replace(const Entries& entries) {
  thread_local absl::BitGen gen;
  const std::string scratch =
      absl::StrFormat("%s:rebuild:%016x", key_, absl::Uniform<uint64_t>(gen));
  std::vector<std::vector<std::string>> cmds;
  cmds.push_back({"DEL", scratch});
  cmds.push_back({"SADD", scratch, kDncCompleteMember});
  cmds.push_back({"EXPIRE", scratch, "3600"});
  for (size_t i = 0; i < entries.size(); i += kBatch) {
    std::vector<std::string> sadd = {"SADD", scratch};
    for (size_t j = i; j < entries.size() && j < i + kBatch; ++j) {
      sadd.push_back(DncMember(entries[j].first, entries[j].second));
    }
    cmds.push_back(std::move(sadd));
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<redis::RedisReply> replies, redis_->Pipeline(cmds));
  for (const redis::RedisReply& r : replies) {
    if (r.is_error()) {
      (void)redis_->Command({"DEL", scratch});
      return absl::InternalError(absl::StrCat("redis: building the DNC index: ", r.str));
    }
  }
  return redis_->Eval(SwapScript(), {scratch, key_}, {}).status();
}

absl::StatusOr<std::string> DncIndex::ServerRunId() {
  PARLEY_ASSIGN_OR_RETURN(redis::RedisReply r, redis_->Command({"INFO", "server"}));
  constexpr std::string_view kField = "run_id:";
  size_t at = r.str.find(kField);
  if (at == std::string::npos) return absl::InternalError("redis: INFO server has no run_id");
  size_t end = r.str.find_first_of("\r\n", at);
  at += kField.size();
  return r.str.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

absl::StatusOr<bool> DncIndex::Complete() {
  PARLEY_ASSIGN_OR_RETURN(redis::RedisReply r,
                          redis_->Command({"SISMEMBER", key_, kDncCompleteMember}));
  return r.integer == 1;
}

absl::StatusOr<bool> DncIndex::Contains(std::string_view number, std::string_view campaign) {
  PARLEY_ASSIGN_OR_RETURN(redis::RedisReply r,
                          redis_->Command({"SISMEMBER", key_, DncMember(number, campaign)}));
  return r.integer == 1;
}

}  // namespace parley::calls
