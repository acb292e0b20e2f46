// LiveState: the Redis mirror of conversations in progress, `<prefix>conv:{call_id}`, read by the
// worker's hot path (DESIGN.md, "Redis layout"). Postgres stays the record; this hash only says
// where a live conversation is right now.
//
// Hash fields: call_id, agent, attempt, version (of the conversation state), current_node (when
// known), last_activity (unix ms), started_at (unix ms). Every write refreshes the TTL, so a key
// whose call died without CompleteCall disappears by itself.
//
//   LiveState live(redis_pool, {.key_prefix = "parley:", .ttl = absl::Minutes(5)});
//   PARLEY_RETURN_IF_ERROR(live.Open({.call_id = "c1", .attempt = 1, .agent = "sales",
//                                     .version = 1}));
//   PARLEY_RETURN_IF_ERROR(live.Write({.call_id = "c1", .attempt = 1, .agent = "sales",
//                                      .version = 2, .current_node = "verify"}));
//   PARLEY_ASSIGN_OR_RETURN(auto fields, live.Read("c1"));   // {"current_node": "verify", ...}
//   PARLEY_RETURN_IF_ERROR(live.Remove("c1", 1));
//
// Writes are ordered by (attempt, version): a write carrying an older attempt or version than the
// hash holds is dropped, so concurrent writers that reach Redis out of order cannot move the live
// state backwards, and a stale worker of attempt 1 cannot overwrite attempt 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis/redis_pool.h"

namespace parley::state {

struct LiveStateOptions {
  // Prefix of every key; tests use a unique one to stay apart.
  std::string key_prefix = "parley:";
  // Lifetime of a key after its last write.
  absl::Duration ttl = absl::Minutes(5);
};

// One write of the live hash.
struct LiveUpdate {
  std::string call_id;
  int attempt = 1;
  std::string agent;
  std::int64_t version = 0;
  // Written when set; an unset node leaves the stored one.
  std::optional<std::string> current_node;
  // Defaults to now.
  std::optional<absl::Time> last_activity;
};

class LiveState final {
 public:
  // Does not connect; `redis` must outlive this object.
  LiveState(redis::RedisPool* redis, LiveStateOptions options = {});

  // The key of `call_id`'s live hash: "<prefix>conv:<call_id>".
  std::string Key(std::string_view call_id) const;

  // Replaces the hash with a fresh one for a newly started attempt (whatever an earlier attempt
  // left is dropped). UNAVAILABLE when Redis cannot be reached.
  absl::Status Open(const LiveUpdate& update);

  // Sets the update's fields unless the hash holds a newer attempt or version (then does nothing
  // and still returns OK); creates the hash when absent. UNAVAILABLE when Redis cannot be reached.
  absl::Status Write(const LiveUpdate& update);

  // Deletes the hash unless it already belongs to a later attempt than `attempt`. OK when there was
  // nothing to delete; UNAVAILABLE when Redis cannot be reached.
  absl::Status Remove(std::string_view call_id, int attempt);

  // The hash's fields; empty when there is no live conversation. UNAVAILABLE as above.
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> Read(std::string_view call_id);

 private:
  absl::Status Run(const char* mode, const LiveUpdate& update);

  redis::RedisPool* redis_;
  LiveStateOptions options_;
};

}  // namespace parley::state
