// The whole Parley stack as real processes, for chaos and soak tests: parley-config-api,
// parley-state, parley-dispatcher, several parley-worker processes and a `parleyctl phone` callee,
// over the local Postgres (a scratch database of its own) and Redis (a key prefix of its own) that
// scripts/infra runs. A test kills, restarts and starves these processes and then checks the end
// state in Redis and Postgres — never in logs.
//
//   ChaosStack stack({.workers = 3, .pipeline = "test-prompt"});
//   absl::StatusOr<std::string> id = stack.CreateCall({.persona = "listener"});
//   stack.Kill("worker-1");                      // SIGKILL
//   stack.Start("worker-1");                     // a new process (new worker id), same flags
//   stack.Infra("restart-redis");                // scripts/infra restart-redis
//   EndState end = stack.WaitEnd(ids, absl::Minutes(2));
//   ExpectNothingLostOrDuplicated(stack, end);   // chaos_checks.h
//
// Set-up failures abort the test binary with a message: they are infrastructure problems. The
// stack needs PARLEY_PG_URL, PARLEY_REDIS_URL (scripts/test) and PARLEY_SOURCE_DIR (for
// scripts/infra and the persona fixtures; CTest sets it).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/pg/pg_pool.h"
#include "common/redis/redis_pool.h"
#include "common/testing/subprocess.h"

namespace parley::pg::testing {
class ScratchDatabase;
}

namespace parley::chaos {

struct StackOptions {
  int workers = 3;
  int max_calls = 4;  // per worker
  // The worker's --pipeline: "test-prompt" (a tone, cheap: for load) or "voice" (espeak,
  // pocketsphinx, the scripted dialogue of deploy/examples' lead-qualifier: transcripts).
  std::string pipeline = "test-prompt";
  absl::Duration lease = absl::Seconds(3);
  int campaign_slots = 8;  // the `chaos` campaign's max_concurrent_calls
  absl::Duration config_ttl = absl::Minutes(5);
};

struct CallSpec {
  std::string persona = "listener";  // a persona of tests/chaos/personas (the callee's behaviour)
  bool campaign = true;              // in the `chaos` campaign (slots), else a one-off call
  int tone_ms = 2000;                // test-prompt pipeline: the tone's length
  std::string overrides_json;        // template overrides, e.g. {"limits": {...}}
};

// One accepted call at the end of a test.
struct CallEnd {
  calls::CallRecord redis;  // the live call hash
  // Rows of conversation.calls (one per attempt): status and ended_reason.
  std::vector<std::pair<std::string, std::string>> history;
  int turns = 0;  // conversation.turns rows of all attempts
  int dials = 0;  // Invites the callee received for this call id
  // `assigned` events: more than one means a worker died with the call claimed but not dialed
  // and another worker ran it (kill -9 mid-queue).
  int assignments = 0;
  // `turn` events on the call's stream: the transcript turns the pipeline recorded (sent to
  // state, or kept to be sent). Postgres must end up with as many rows.
  int turn_events = 0;
};

struct EndState {
  std::map<std::string, CallEnd> calls;
  std::vector<std::string> not_terminal;  // still not terminal in Redis at the deadline
  int active_slots = 0;                   // ZCARD of the campaign's slot set
  int pending_jobs = 0;                   // XPENDING of the jobs stream
  int active_state_rows = 0;              // conversation_state rows still active
};

// Resource use of one service process.
struct ProcessSample {
  int64_t rss_kb = 0;
  int fds = 0;
};

// A Postgres + Redis pair of this process's own (scripts/infra with PARLEY_INFRA_DIR): for tests
// that stop the servers, which no other test running in parallel must see. The constructor starts
// them and points PARLEY_PG_URL / PARLEY_REDIS_URL / PARLEY_INFRA_DIR of this process at them (so
// ChaosStacks and their Infra() commands made afterwards use them); the destructor removes them.
//
//   ::testing::AddGlobalTestEnvironment(new PrivateInfraEnvironment);  // in main()
class PrivateInfra final {
 public:
  PrivateInfra();
  ~PrivateInfra();
  PrivateInfra(const PrivateInfra&) = delete;
  PrivateInfra& operator=(const PrivateInfra&) = delete;

 private:
  std::string dir_;
};

class ChaosStack final {
 public:
  explicit ChaosStack(StackOptions options = {});
  ~ChaosStack();  // SIGKILLs whatever still runs; drops the scratch database and Redis keys
  ChaosStack(const ChaosStack&) = delete;
  ChaosStack& operator=(const ChaosStack&) = delete;

  // Service names: "config-api", "state", "dispatcher", "worker-0" … "worker-N", "phone".
  std::vector<std::string> Services() const;
  std::vector<std::string> Workers() const;
  // SIGKILL, then reap. No-op when it is not running.
  void Kill(const std::string& name);
  // SIGTERM and wait for a clean exit (status 0); returns the exit status (-1 on timeout).
  int Stop(const std::string& name, absl::Duration timeout = absl::Seconds(30));
  // Starts the service again on its address (a worker gets a new worker id) and waits until it
  // serves (a worker: until it registered). Fails the test when it does not.
  void Start(const std::string& name);
  bool Running(const std::string& name);
  // Sends `signal` (e.g. SIGSTOP/SIGCONT to freeze a service for a moment).
  void Signal(const std::string& name, int signal);
  // The calls whose jobs a worker has read and not acknowledged (its pending entries in the jobs
  // stream), with their status now: what a kill -9 of it at this moment leaves behind.
  std::map<std::string, parley::v1::CallStatus> HeldJobs(const std::string& worker);
  pid_t Pid(const std::string& name);
  // Waits until the service reports SERVING (true) or `timeout` passes (false).
  bool WaitServing(const std::string& name, absl::Duration timeout = absl::Seconds(30));

  // scripts/infra <command> (stop-pg, start-pg, restart-redis, …); fails the test on error.
  void Infra(const std::string& command);

  // CreateCall through the dispatcher; the call id, or the RPC's status as an absl::Status.
  absl::StatusOr<std::string> CreateCall(const CallSpec& spec,
                                         absl::Duration deadline = absl::Seconds(5));

  // Waits until every call in `ids` is terminal in Redis (or `timeout`), then reads the end
  // state: Redis hashes, Postgres history and turns, the callee's Invites, slots, pending jobs.
  EndState WaitEnd(const std::vector<std::string>& ids, absl::Duration timeout);

  // Invites the callee received, per call id (from `parleyctl phone -o json`'s event lines: the
  // callee's own record of being dialed).
  std::map<std::string, int> DialsPerCall();

  // Resource use of a service process (from /proc).
  ProcessSample Sample(const std::string& name);
  // Keys under the prefix that are not per-call keys (call:<id>…, conv:<id>…, idem:…).
  int NonCallRedisKeys();
  // Postgres connections to the scratch database.
  int PgConnections();

  calls::CallStore& store() { return *store_; }
  redis::RedisPool& redis() { return *redis_; }
  pg::PgPool& pg() { return *pg_; }
  const std::string& prefix() const { return prefix_; }
  // The tail of a service's log, for failure messages.
  std::string LogTail(const std::string& name, size_t bytes = 3000);

 private:
  struct Service {
    std::string binary;
    std::string address;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string log;
    std::string worker_id;  // workers only
    int generation = 0;
    std::unique_ptr<parley::testing::Subprocess> process;
  };
  Service& Get(const std::string& name);
  void Launch(Service& s);
  void ApplyFixture();
  void WritePersonas();

  StackOptions options_;
  std::string dir_;
  std::string prefix_;
  std::unique_ptr<pg::testing::ScratchDatabase> db_;
  std::unique_ptr<pg::PgPool> pg_;
  std::unique_ptr<redis::RedisPool> redis_;
  std::unique_ptr<calls::CallStore> store_;
  std::map<std::string, Service> services_;
};

}  // namespace parley::chaos
