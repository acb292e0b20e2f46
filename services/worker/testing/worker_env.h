// Test support for the worker: the services a worker talks to, run in process on loopback over
// the local infrastructure — config-api and state (their real handlers over a scratch Postgres
// database), a scripted MediaEndpoint (the callee side) — plus a CallStore with a key prefix of
// its own per test, and an in-process worker wired to all of it. Authentication is disabled.
//
//   static ServicesEnv* services = new ServicesEnv();        // once per binary
//   services->MakeAgent("sales", R"({"limits": {"ring_timeout_s": 5}})");
//   CallsEnv calls(services->redis());                       // per test: prefix "wt<pid>_<n>:"
//   InProcessWorker worker(*services, calls, {.max_calls = 4});
//   std::string id = calls.CreateCall({.agent = "sales", .to = NewNumber()});
//   calls::CallRecord done = calls.WaitTerminal(id);
//
// Set-up failures abort the binary with a message: they are infrastructure problems.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/grpc/server.h"
#include "common/media/testing/scripted_endpoint.h"
#include "common/metrics/metrics.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/config.pb.h"
#include "parley/v1/state.pb.h"
#include "services/worker/config_cache.h"
#include "services/worker/media_leg.h"
#include "services/worker/service_clients.h"
#include "services/worker/test_prompt_pipeline.h"
#include "services/worker/worker.h"

namespace parley::crypto {
class SecretBox;
}  // namespace parley::crypto
namespace parley::config {
class ConfigHandler;
class ConfigStore;
}  // namespace parley::config
namespace parley::state {
class StateHandler;
class StateStore;
}  // namespace parley::state
namespace parley::pg {
class PgPool;
namespace testing {
class ScratchDatabase;
}
}  // namespace parley::pg

namespace parley::worker::testing {

// A phone number no other call of this test binary uses.
std::string NewNumber();

class ServicesEnv final {
 public:
  ServicesEnv();
  ~ServicesEnv();
  ServicesEnv(const ServicesEnv&) = delete;
  ServicesEnv& operator=(const ServicesEnv&) = delete;

  redis::RedisPool* redis() const { return redis_.get(); }
  media::testing::ScriptedEndpoint& endpoint() { return *endpoint_; }
  std::string config_address() const { return config_server_->address(); }
  std::string state_address() const { return state_server_->address(); }
  std::string endpoint_address() const { return endpoint_server_->address(); }

  // Creates or replaces a resource; aborts on failure.
  void Apply(parley::v1::ResourceKind kind, const std::string& name, const std::string& spec_json);
  // Agent `name` with its own template (`template_json`), a one-node graph and a grpc trunk to
  // the scripted endpoint.
  void MakeAgent(const std::string& name, const std::string& template_json = "{}");
  void MakeCampaign(const std::string& name, const std::string& spec_json);

  // Another config-api server over the same database, on a port of its own (to stop it).
  std::unique_ptr<grpcx::GrpcServer> StartConfigServer();

  // The state service's record of an attempt.
  absl::StatusOr<parley::v1::CallRecord> StateRecord(const std::string& call_id, int attempt);

 private:
  std::unique_ptr<pg::testing::ScratchDatabase> db_;
  std::unique_ptr<pg::PgPool> pg_;
  std::unique_ptr<redis::RedisPool> redis_;
  std::string state_prefix_;
  std::unique_ptr<crypto::SecretBox> secrets_;  // a fixed test key: credentials work
  std::unique_ptr<config::ConfigStore> config_store_;
  std::unique_ptr<config::ConfigHandler> config_handler_;
  std::unique_ptr<grpcx::GrpcServer> config_server_;
  std::unique_ptr<state::StateStore> state_store_;
  std::unique_ptr<state::StateHandler> state_handler_;
  std::unique_ptr<grpcx::GrpcServer> state_server_;
  std::unique_ptr<media::testing::ScriptedEndpoint> endpoint_;
  std::unique_ptr<grpcx::GrpcServer> endpoint_server_;
};

struct NewCall {
  std::string agent;
  std::string campaign;
  std::string to;  // NewNumber() when empty
  std::string context_json = "{}";
  int max_attempts = 1;
};

class CallsEnv final {
 public:
  explicit CallsEnv(redis::RedisPool* redis);
  ~CallsEnv();  // deletes every key under the prefix

  calls::CallStore& store() { return *store_; }
  const std::string& prefix() const { return prefix_; }
  redis::RedisPool* redis() const { return redis_; }

  // Creates a queued call (CallStore::Create); returns its id. Aborts on failure.
  std::string CreateCall(const NewCall& call);
  // The call once `done(record)` holds; aborts the test (FAIL) after `timeout`.
  calls::CallRecord WaitFor(const std::string& call_id,
                            const std::function<bool(const calls::CallRecord&)>& done,
                            absl::Duration timeout = absl::Seconds(20));
  calls::CallRecord WaitStatus(const std::string& call_id, parley::v1::CallStatus status,
                               absl::Duration timeout = absl::Seconds(20));
  calls::CallRecord WaitTerminal(const std::string& call_id,
                                 absl::Duration timeout = absl::Seconds(20));
  // Status names of the call's status events, in order ("queued", "assigned", …).
  std::vector<std::string> StatusTrail(const std::string& call_id);
  std::vector<calls::CallEvent> Events(const std::string& call_id);
  // Entries in the jobs stream, and entries delivered but not acknowledged.
  int JobsInStream();
  int PendingJobs();

 private:
  redis::RedisPool* redis_;
  std::string prefix_;
  std::unique_ptr<calls::CallStore> store_;
};

struct WorkerSettings {
  int max_calls = 8;
  absl::Duration lease = absl::Seconds(2);
  absl::Duration drain_deadline = absl::Seconds(30);
  absl::Duration config_ttl = absl::Minutes(5);
  std::string config_address;  // "" = the env's config-api
  std::string default_trunk;
  std::string worker_id;  // "" = a fresh one
  // The pipelines calls get; null = the test-prompt pipeline (pipelines()).
  PipelineFactory* pipelines = nullptr;
  // Telephony for trunks of kind "sip" (e.g. a sip::SipTelephony); null = none.
  Telephony* sip = nullptr;
};

// A worker running in this process against the env.
class InProcessWorker final {
 public:
  InProcessWorker(ServicesEnv& services, CallsEnv& calls, WorkerSettings settings = {});
  ~InProcessWorker();  // drains at once and waits

  Worker& worker() { return *worker_; }
  TestPromptFactory& pipelines() { return pipelines_; }
  metrics::Metrics& metrics() { return *metrics_; }
  const std::string& id() const { return id_; }

 private:
  std::string id_;
  std::unique_ptr<metrics::Metrics> metrics_;
  std::unique_ptr<ConfigClient> config_;
  std::unique_ptr<StateClient> state_;
  std::unique_ptr<RuntimeConfigCache> configs_;
  GrpcTelephony telephony_;
  std::unique_ptr<TelephonyByKind> by_kind_;
  TestPromptFactory pipelines_{TestPromptOptions{.keep_heard = true}};
  std::unique_ptr<Worker> worker_;
};

}  // namespace parley::worker::testing
