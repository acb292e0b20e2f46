// DncReconciler: rebuilds the Redis DNC index (common/calls/dnc_index.h) from Postgres, the source
// of truth — once at startup, then every `period`, and within `watch` of Redis restarting (its
// run_id changes) — so a Redis that lost its data or came back with older data, an index key
// someone deleted, or an entry whose Redis write failed after its Postgres write heals by itself.
//
// Each rebuild reads every entry under an exclusive advisory lock (ConfigStore::SnapshotDnc) and
// swaps the new set in before releasing it, so an AddDnc/RemoveDnc on any replica either lands in
// the snapshot or writes the index after the swap; none is lost. Until the first rebuild succeeds
// the index carries no completeness marker, and the dispatcher asks config-api per call instead.
//
//   DncReconciler reconciler(&store, &index, {.period = absl::Minutes(5)});
//   reconciler.Start();   // first rebuild at once, retried every `retry` until it succeeds
//   ...
//   reconciler.Stop();
#pragma once

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/calls/dnc_index.h"
#include "services/config-api/config_store.h"

namespace parley::config {

struct DncReconcilerOptions {
  absl::Duration period = absl::Minutes(5);  // between successful rebuilds
  absl::Duration retry = absl::Seconds(5);   // after a failed one (Postgres or Redis down)
  absl::Duration watch = absl::Seconds(1);   // how often Redis's run_id is looked at
};

class DncReconciler final {
 public:
  // `store` and `index` must outlive the reconciler.
  DncReconciler(ConfigStore* store, calls::DncIndex* index, DncReconcilerOptions options = {});
  ~DncReconciler();  // Stop()
  DncReconciler(const DncReconciler&) = delete;
  DncReconciler& operator=(const DncReconciler&) = delete;

  // One rebuild now. UNAVAILABLE when Postgres or Redis cannot be reached (the index keeps what
  // it had); the error of the snapshot otherwise. Thread-safe; also what the loop runs.
  absl::Status Reconcile();

  // Starts / stops the background loop (Stop waits for a rebuild in progress). Idempotent.
  void Start();
  void Stop();

 private:
  void Loop();

  ConfigStore* store_;
  calls::DncIndex* index_;
  DncReconcilerOptions options_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // run_id of the Redis the last successful rebuild wrote to (loop thread only).
  std::string built_run_id_;
  std::thread thread_;
};

}  // namespace parley::config
