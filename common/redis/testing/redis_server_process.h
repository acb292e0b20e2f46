// A private redis-server child process for tests that must stop and restart Redis — which they
// must never do to the shared server other tests are using in parallel.
//
//   PARLEY_ASSIGN_OR_RETURN(auto server, RedisServerProcess::Start());
//   auto pool = RedisPool::Create({.url = server->url()});
//   server->Kill();                       // SIGKILL, as a crash would
//   PARLEY_RETURN_IF_ERROR(server->Restart());  // same port, empty data
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace parley::redis::testing {

class RedisServerProcess final {
 public:
  // Starts `redis-server` (from PATH) without persistence on a free loopback port and returns once
  // it answers PING. UNAVAILABLE when it cannot be spawned or does not come up within 10 s.
  static absl::StatusOr<std::unique_ptr<RedisServerProcess>> Start();

  ~RedisServerProcess();  // kills the server if running
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:<port>/0

  // Sends SIGKILL and waits for the process to exit. No-op when not running.
  void Kill();

  // Starts the server again on the same port; fails like Start().
  absl::Status Restart();

 private:
  explicit RedisServerProcess(int port) : port_(port) {}
  absl::Status Spawn();

  int port_;
  pid_t pid_ = -1;
};

}  // namespace parley::redis::testing
