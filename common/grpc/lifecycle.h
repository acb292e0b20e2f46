// Process lifecycle helpers for service main()s: termination signals and dependency probes.
//
//   BlockTerminationSignals();                      // first thing in main, before any thread
//   DependencyWatcher deps({{"postgres", [&] { return pg->Ping(); }}},
//                          [&](bool ok) { server.health().SetAll(ok); });
//   int sig = WaitForTerminationSignal();           // SIGTERM or SIGINT
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace parley::grpcx {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads started afterwards inherit the
// mask, so only WaitForTerminationSignal() sees them.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (after BlockTerminationSignals()) and returns its number.
int WaitForTerminationSignal();

// Sends SIGTERM to this process: how a service stops itself from another thread (e.g. after a
// Drain RPC finished).
void RaiseTermination();

struct DependencyProbe {
  std::string name;
  std::function<absl::Status()> check;
};

// Runs every probe at an interval on its own thread and reports whether all answered. The callback
// runs on every round (so a status that flips is reported at once). Stops on destruction.
class DependencyWatcher final {
 public:
  DependencyWatcher(std::vector<DependencyProbe> probes, std::function<void(bool all_ok)> on_result,
                    absl::Duration interval = absl::Seconds(1));
  ~DependencyWatcher();
  DependencyWatcher(const DependencyWatcher&) = delete;
  DependencyWatcher& operator=(const DependencyWatcher&) = delete;

  // Result of the last round (false before the first one finishes).
  bool healthy() const;

 private:
  void Run();

  std::vector<DependencyProbe> probes_;
  std::function<void(bool)> on_result_;
  absl::Duration interval_;
  absl::Notification stop_;
  mutable absl::Mutex mu_;
  bool healthy_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace parley::grpcx
