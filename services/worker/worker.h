// Worker: one worker process's pool of calls (DESIGN.md, "Redis layout" — lease and reclaim).
//
// Threads, all owned and joined here:
//   job loop     reads jobs (CallStore::ReadJobs, consumer group `workers`) only while fewer than
//                max_calls sessions run, and starts one CallSession thread per job;
//   renew loop   every lease/3 renews the lease of every claimed attempt; "lost" → the session
//                hangs up without another write, a cancel flag → the session cancels;
//   house loop   every second: jobs whose owner stopped renewing for a lease time
//                (ClaimStaleJobs) → CallStore::Reclaim: kRunAgain runs it here (capacity
//                permitting), kWorkerLost (it had reached dialing: ended failed/worker_lost or
//                rescheduled by the retry policy) closes its state record and acks it, kDrop acks
//                it; and the registry heartbeat (registry.h);
//   control      the Pub/Sub control channel (control_channel.h): "cancel <call_id> <attempt>".
//
// Drain (SIGTERM through service_main's before_stop, or WorkerAdmin.Drain): reading and reclaim
// stop at once and the registry says draining; live calls continue until the deadline, then the
// pipeline says goodbye and the session hangs up (completed/worker_draining; a call still ringing
// is given up: failed/worker_draining; one not yet dialing is left to another worker); every
// attempt is finished and acked; WaitDrained() returns once the last session ended.
//
// Inbound calls (inbound.h, inbound_router.h) run here too, on the slots the job loop would
// use: ReserveInbound holds one while the call is being created, RunInbound starts its session.
//
//   Worker worker(options, deps);
//   PARLEY_RETURN_IF_ERROR(worker.Start());
//   …
//   worker.Drain(absl::Minutes(5));
//   worker.WaitDrained();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/worker.pb.h"
#include "services/worker/call_session.h"
#include "services/worker/control_channel.h"
#include "services/worker/registry.h"

namespace parley::worker {

struct WorkerOptions {
  WorkerIdentity identity;  // identity.capacity is --max-calls
  absl::Duration lease = absl::Seconds(15);
  absl::Duration drain_deadline = absl::Minutes(5);  // Drain() without a deadline
  absl::Duration read_block = absl::Seconds(1);      // XREADGROUP BLOCK; bounds drain latency
  absl::Duration heartbeat = absl::Seconds(5);
  absl::Duration registry_ttl = absl::Seconds(15);
  int reclaim_batch = 16;
  std::string redis_url;  // for the control channel's own connection
  // After the drain deadline the pipeline gets this long to say goodbye.
  absl::Duration drain_grace = absl::Seconds(5);
  // The job loop reads only while this says the worker can run calls (e.g. state answers);
  // unset = always. Called about once per read; should be cheap.
  std::function<bool()> ready;
};

struct WorkerDeps {
  calls::CallStore* store = nullptr;
  redis::RedisPool* redis = nullptr;
  RuntimeConfigCache* configs = nullptr;
  StateClient* state = nullptr;
  Telephony* telephony = nullptr;
  PipelineFactory* pipelines = nullptr;
  metrics::Metrics* metrics = nullptr;  // optional
};

class Worker final {
 public:
  Worker(WorkerOptions options, WorkerDeps deps);
  // Drains at once (zero deadline) and waits, if Start() ran and WaitDrained() did not.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the consumer group if missing, publishes the registry entry and starts the threads.
  // INVALID_ARGUMENT for a bad redis_url or capacity; UNAVAILABLE when Redis cannot be reached.
  absl::Status Start();

  // Starts draining (see the file comment); returns at once. `deadline` from now, or
  // options.drain_deadline when unset; while draining, a later call can only shorten it.
  void Drain(std::optional<absl::Duration> deadline = std::nullopt);
  // Blocks until draining started and every session ended, then stops the threads and removes
  // the registry entry.
  void WaitDrained();

  bool draining() const;
  // Identity, load and the ids of the calls owned now (WorkerAdmin.Status).
  parley::v1::WorkerInfo Info() const;
  // Sessions running (claimed or about to be).
  int active_sessions() const;
  // Holds a slot for a call coming in; false (nothing held) when the worker is full, draining or
  // not started. Each true is followed by exactly one RunInbound or ReleaseInbound.
  bool ReserveInbound();
  void ReleaseInbound();
  // Runs an inbound call (created by the dispatcher as `inbound`, attempt `attempt`) with its
  // answered leg on the slot ReserveInbound held.
  void RunInbound(const std::string& call_id, int attempt, std::unique_ptr<InboundLeg> leg);

  // For tests: true once the control channel is subscribed.
  bool WaitControlSubscribed(absl::Duration timeout);

 private:
  struct Running {
    std::shared_ptr<CallSession> session;  // shared with the renew loop while it renews
    std::thread thread;
    bool done = false;
  };

  void JobLoop();
  void RenewLoop();
  void HouseLoop();
  void Reclaim();
  void Heartbeat();
  // Starts a session thread for `job` unless one already runs for that entry.
  void StartSession(const calls::Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartSessionThread(std::shared_ptr<CallSession> session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Joins the threads of finished sessions.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel(const std::string& call_id, int attempt);
  int FreeSlots() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool AllDone() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const WorkerOptions options_;
  const WorkerDeps deps_;
  SessionEnv env_;
  WorkerRegistry registry_;
  std::unique_ptr<ControlChannel> control_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time last_heartbeat_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool heartbeat_now_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 0;
  int inbound_reserved_ ABSL_GUARDED_BY(mu_) = 0;  // slots held for calls coming in
  std::map<uint64_t, std::unique_ptr<Running>> sessions_ ABSL_GUARDED_BY(mu_);

  std::thread job_thread_;
  std::thread renew_thread_;
  std::thread house_thread_;
  // When Redis answered again after an outage (house thread only); InfiniteFuture while it does
  // not answer. Reclaim waits a lease after it.
  absl::Time redis_back_at_ = absl::InfinitePast();
};

}  // namespace parley::worker
