#include "services/config-api/dnc_reconciler.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace parley::config {

DncReconciler::DncReconciler(ConfigStore* store, calls::DncIndex* index,
                             DncReconcilerOptions options)
    : store_(store), index_(index), options_(options) {}

DncReconciler::~DncReconciler() { Stop(); }

absl::Status DncReconciler::Reconcile() {
  size_t count = 0;
  absl::Status s =
      store_->SnapshotDnc([&](const std::vector<std::pair<std::string, std::string>>& entries) {
        count = entries.size();
        return index_->Replace(entries);
      });
  if (s.ok()) log::Debug("dnc index rebuilt", {{"entries", absl::StrCat(count)}});
  return s;
}

void DncReconciler::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void DncReconciler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void DncReconciler::Loop() {
  bool failing = false;
  while (true) {
    absl::Status s = Reconcile();
    if (!s.ok() && !failing) {
      log::Warn("dnc index rebuild failed; the dispatcher asks config-api per call until it works",
                {{"error", std::string(s.message())}});
    }
    if (s.ok() && failing) log::Info("dnc index rebuilt", {});
    failing = !s.ok();
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping),
                             failing ? options_.retry : options_.period)) {
      return;
    }
  }
}

}  // namespace parley::config
