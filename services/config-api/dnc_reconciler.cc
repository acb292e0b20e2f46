#include "services/config-api/dnc_reconciler.h"

#include <algorithm>
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
  absl::Time next = absl::InfinitePast();  // rebuild at once
  while (true) {
    // A Redis that restarted may hold no index, or an older one: rebuild now, not at `next`.
    absl::StatusOr<std::string> run_id = index_->ServerRunId();
    const bool restarted = run_id.ok() && !built_run_id_.empty() && *run_id != built_run_id_;
    if (restarted) log::Info("redis restarted: rebuilding the dnc index", {});
    if (restarted || absl::Now() >= next) {
      absl::Status s = run_id.ok() ? Reconcile() : run_id.status();
      if (!s.ok() && !failing) {
        log::Warn(
            "dnc index rebuild failed; the dispatcher asks config-api per call until it works",
            {{"error", std::string(s.message())}});
      }
      if (s.ok() && failing) log::Info("dnc index rebuilt", {});
      failing = !s.ok();
      if (s.ok()) built_run_id_ = *run_id;
      next = absl::Now() + (failing ? options_.retry : options_.period);
    }
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping),
                             std::min(options_.watch, next - absl::Now()))) {
      return;
    }
  }
}

}  // namespace parley::config
