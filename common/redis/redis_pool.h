// A thread-safe pool of blocking hiredis connections: the one way Parley code talks to Redis.
//
// Connections are opened lazily, up to `max_connections`, and borrowed for the length of one call.
// A connection that sees an I/O error or timeout is closed and replaced on a later call, and idle
// connections are checked for a peer close before use, so the pool carries on by itself after a
// Redis restart. Every call is bounded by a timeout; none hangs on a dead server.
//
// Errors: UNAVAILABLE ("redis: ...") when Redis cannot be reached, the connection breaks, the call
// times out, the pool stays exhausted, or Redis answers LOADING/BUSY/MASTERDOWN/READONLY/TRYAGAIN
// (retry later); ALREADY_EXISTS for BUSYGROUP (XGROUP CREATE of an existing group); INTERNAL with
// Redis's message for any other error reply (wrong type, syntax, script error).
//
// Creating a pool sets SIGPIPE to SIG_IGN process-wide (if still SIG_DFL): hiredis writes with
// write(2), and a write to a closed socket must fail with EPIPE, not kill the process.
//
//   PARLEY_ASSIGN_OR_RETURN(auto pool, RedisPool::Create({.url = "redis://localhost:6379/0"}));
//   PARLEY_RETURN_IF_ERROR(pool->Command({"SET", "k", value}).status());
//   PARLEY_ASSIGN_OR_RETURN(RedisReply got, pool->Command({"GET", "k"}));
//   PARLEY_ASSIGN_OR_RETURN(std::vector<RedisReply> replies,
//                           pool->Pipeline({{"INCR", "a"}, {"INCR", "b"}}));
//   // Blocking read: give the call longer than the BLOCK time.
//   auto jobs = pool->Command({"XREADGROUP", "GROUP", "workers", me, "BLOCK", "5000", "COUNT",
//                              "1", "STREAMS", "parley:jobs", ">"},
//                             absl::Seconds(6));
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis/redis_script.h"
#include "common/redis/redis_url.h"
#include "common/redis/reply.h"

struct redisContext;

namespace parley::redis {

struct RedisOptions {
  std::string url;  // redis://[[username]:password@]host[:port][/db], see redis_url.h
  int max_connections = 16;
  absl::Duration connect_timeout = absl::Seconds(2);
  // Bounds every wait within a call: for a free connection, and each socket write and read.
  absl::Duration command_timeout = absl::Seconds(2);
};

class RedisPool final {
 public:
  // Returns a pool for `options.url` without connecting (call Ping() to check the server at
  // startup). INVALID_ARGUMENT for a malformed URL, a non-positive max_connections or timeout.
  static absl::StatusOr<std::unique_ptr<RedisPool>> Create(RedisOptions options);

  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // Runs one command, binary-safe (each argv element may hold any bytes), and returns its reply.
  // `timeout` replaces options.command_timeout for this call — give blocking commands (XREADGROUP
  // BLOCK, BLPOP) more than their block time. INVALID_ARGUMENT for an empty argv; otherwise fails
  // as the file comment says. An error reply is a status, never a kError RedisReply.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv,
                                     std::optional<absl::Duration> timeout = std::nullopt);

  // Sends all `cmds` in one round trip on one connection and returns one reply per command, in
  // order. A command Redis rejects comes back as a Type::kError element; the call itself fails only
  // when the connection does (UNAVAILABLE; some commands may then have run) or a command is empty
  // (INVALID_ARGUMENT). Not a transaction — wrap in MULTI/EXEC for atomicity.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& cmds);

  // Runs `script` with EVALSHA, loading it first if Redis does not have it (NOSCRIPT), and returns
  // the script's reply. Fails like Command; an error raised by the script is INTERNAL.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  // OK when Redis answers PING within the command timeout; UNAVAILABLE otherwise.
  absl::Status Ping();

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  class Lease;

  RedisPool(RedisOptions options, RedisUrl url);

  // Borrows an idle connection or opens a new one, waiting until `deadline` when all
  // max_connections are in use. UNAVAILABLE when the pool stays exhausted or connecting fails.
  absl::StatusOr<Lease> Acquire(absl::Time deadline);
  absl::StatusOr<ContextPtr> Connect();
  void Release(ContextPtr context, bool healthy);

  // Sends one command; error replies come back as kError replies, I/O failures as UNAVAILABLE.
  absl::StatusOr<RedisReply> Execute(const std::vector<std::string>& argv,
                                     std::optional<absl::Duration> timeout);

  const RedisOptions options_;
  const RedisUrl url_;

  absl::Mutex mu_;
  std::vector<ContextPtr> idle_ ABSL_GUARDED_BY(mu_);
  // Connections that exist or are being opened: idle ones plus borrowed ones.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace parley::redis
