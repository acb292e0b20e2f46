// DncIndex: the do-not-call list as a Redis set, so the dispatcher can refuse a listed number
// inside the same Lua script that writes the call (CallStore::Create with check_dnc) — no RPC and
// no extra round trip per call.
//
// Postgres (config-api, table config.dnc) is the source of truth; this set is derived from it:
//   - config-api's AddDnc/RemoveDnc change the set inside the Postgres transaction that writes the
//     row, before it commits, so a number is in the set before AddDnc returns;
//   - config-api rebuilds the whole set from Postgres at startup and periodically (Replace), under
//   a
//     lock that holds off those writes, so a lost Redis or a failed write heals;
//   - the set carries a marker member written only by Replace. A set without it (Redis lost its
//     data, someone deleted the key, the index was never built) is "not known": CallStore::Create
//     then writes nothing and the dispatcher asks config-api instead (CheckDnc over Postgres). An
//     empty list is a set holding only the marker, never a missing key.
//   - Persistence: a Redis that comes back from a crash with older data (RDB snapshots only, or an
//     OS crash under appendfsync everysec) may hold a complete-looking set that misses the last
//     entries; the rebuild that follows the restart (within DncReconcilerOptions::watch) repairs
//     it. Run Redis with AOF to keep that window closed (scripts/infra does).
//
// Layout: one SET at `key` (default "<prefix>dnc"); members "<campaign>:<number>", with campaign ""
// for a global entry (":+14155552671") — campaign names are lower-kebab-case, so ':' cannot occur
// in them — plus kCompleteMember.
//
//   DncIndex index(redis_pool, "parley:dnc");
//   PARLEY_RETURN_IF_ERROR(index.Replace(all_entries_from_postgres));
//   PARLEY_RETURN_IF_ERROR(index.Add("+14155552671", ""));        // global
//   PARLEY_RETURN_IF_ERROR(index.Remove("+14155552671", "spring"));  // per campaign
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/redis_pool.h"

namespace parley::calls {

// The index key for a Redis key prefix: "<prefix>dnc".
std::string DncIndexKey(std::string_view prefix);

// The member for an entry: "<campaign>:<number>".
std::string DncMember(std::string_view number, std::string_view campaign);

// The marker member: present only in a set that Replace built.
inline constexpr char kDncCompleteMember[] = "!complete";

class DncIndex final {
 public:
  // (number, campaign) pairs; campaign "" = global.
  using Entries = std::vector<std::pair<std::string, std::string>>;

  // `redis` must outlive the index.
  DncIndex(redis::RedisPool* redis, std::string key);

  const std::string& key() const { return key_; }

  // Adds / removes one entry (idempotent). UNAVAILABLE when Redis cannot be reached.
  absl::Status Add(std::string_view number, std::string_view campaign);
  absl::Status Remove(std::string_view number, std::string_view campaign);

  // Replaces the whole set with `entries` plus the marker, atomically for readers (built under a
  // scratch key, then renamed over the index). UNAVAILABLE when Redis cannot be reached (the
  // index is then left as it was).
  absl::Status Replace(const Entries& entries);

  // The Redis server's run_id (INFO server): it changes whenever Redis restarts, so a rebuild can
  // follow a restart at once. UNAVAILABLE when Redis cannot be reached.
  absl::StatusOr<std::string> ServerRunId();

  // Whether the set holds the marker (the index is usable). For tests and probes.
  absl::StatusOr<bool> Complete();
  // Whether the entry is in the set. For tests.
  absl::StatusOr<bool> Contains(std::string_view number, std::string_view campaign);

 private:
  redis::RedisPool* redis_;
  std::string key_;
};

}  // namespace parley::calls
