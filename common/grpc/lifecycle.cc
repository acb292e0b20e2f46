#include "common/grpc/lifecycle.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <map>

#include "common/log/log.h"

namespace parley::grpcx {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int signal = 0;
  while (true) {
    if (sigwait(&set, &signal) != 0) continue;
    if (signal == SIGHUP) continue;  // reserved for config reload; ignored for now
    return signal;
  }
}

void RaiseTermination() { kill(getpid(), SIGTERM); }

DependencyWatcher::DependencyWatcher(std::vector<DependencyProbe> probes,
                                     std::function<void(bool)> on_result, absl::Duration interval)
    : probes_(std::move(probes)),
      on_result_(std::move(on_result)),
      interval_(interval),
      thread_([this] { Run(); }) {}

DependencyWatcher::~DependencyWatcher() {
  stop_.Notify();
  thread_.join();
}

bool DependencyWatcher::healthy() const {
  absl::MutexLock lock(&mu_);
  return healthy_;
}

void DependencyWatcher::Run() {
  std::map<std::string, bool> last;  // per probe, to log only changes
  do {
    bool all_ok = true;
    for (const DependencyProbe& probe : probes_) {
      absl::Status status = probe.check();
      auto it = last.find(probe.name);
      if (it == last.end() || it->second != status.ok()) {
        if (status.ok()) {
          log::Info("dependency up", {{"dependency", probe.name}});
        } else {
          log::Warn("dependency down", {{"dependency", probe.name}, {"error", status.ToString()}});
        }
        last[probe.name] = status.ok();
      }
      all_ok = all_ok && status.ok();
    }
    {
      absl::MutexLock lock(&mu_);
      healthy_ = all_ok;
    }
    on_result_(all_ok);
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace parley::grpcx
