// Test support: child processes (service binaries, servers) and free ports.
//
//   auto port = FreePort();
//   Subprocess svc({BinaryPath("services/config-api/parley-config-api"), "--listen=127.0.0.1:" +
//   port},
//                  {{"PARLEY_PG_URL", RequireEnv("PARLEY_PG_URL")}});
//   ...
//   svc.Signal(SIGTERM);
//   std::optional<int> code = svc.WaitExit(absl::Seconds(10));   // exit status, nullopt on timeout
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace parley::testing {

// A loopback TCP port that was free a moment ago, picked at random in [21000, 32000] (below the
// ephemeral range, so outgoing connections cannot take it meanwhile).
int FreePort();

// The value of environment variable `name`; aborts the test binary with a message naming the
// variable when it is unset (tests that need the local infrastructure are run by scripts/test).
std::string RequireEnv(const char* name);

// Absolute path of a file in the build tree: PARLEY_BUILD_DIR (set by CTest) + `relative`.
std::string BinaryPath(const std::string& relative);

class Subprocess final {
 public:
  // Spawns argv[0] with the current environment plus `env` (overriding). stdout/stderr go to
  // `log_path` when given, else are inherited. Aborts the test when the spawn fails.
  Subprocess(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
             std::string log_path = "");
  ~Subprocess();  // SIGKILL and reap if still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Exit code once the process ends (128+signal when killed), nullopt if still running after
  // `timeout`.
  std::optional<int> WaitExit(absl::Duration timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace parley::testing
