// Test support for the dispatcher: a real config-api (ConfigHandler over a scratch Postgres
// database, served on loopback, with its DNC index in the shared Redis under ConfigApiEnv::
// DncKey()) and a dispatcher over the shared Redis with a key prefix of its own that checks that
// index, served on loopback too — what the dispatcher's *_pgtest files and the bench run against.
//
//   static ConfigApiEnv* config = new ConfigApiEnv();       // once per binary (a database)
//   config->MakeAgent("pay");                               // template, graph, trunk, agent "pay"
//   config->MakeCampaign("pay-us", R"({"agent": "pay", "region": "US"})");
//   DispatcherEnv d(config->channel());                     // per test: prefix "t<pid>_<n>:"
//   parley::v1::Call call;
//   grpc::Status s = d.stub().CreateCall(d.Ctx().get(), request, &call);
//
// Failures to set up abort the binary with a message (they are infrastructure problems).
#pragma once

#include <memory>
#include <string>

#include "common/calls/call_store.h"
#include "common/calls/dnc_index.h"
#include "common/grpc/server.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/dispatcher.grpc.pb.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/dispatcher_handler.h"

namespace parley::config {
class ConfigHandler;
class ConfigStore;
class DncReconciler;
}  // namespace parley::config
namespace parley::crypto {
class SecretBox;
}
namespace parley::pg {
class PgPool;
namespace testing {
class ScratchDatabase;
}
}  // namespace parley::pg

namespace parley::dispatcher::testing {

// Tokens the environments accept: the dispatcher takes kCallsToken (scope calls), kConfigToken
// (scope config, not enough for calls) and kServiceToken (scope service, as the workers hold);
// config-api takes kServiceToken.
inline constexpr char kCallsToken[] = "crm-token-0001";
inline constexpr char kConfigToken[] = "ops-token-0001";
inline constexpr char kServiceToken[] = "svc-token-0001";

class ConfigApiEnv final {
 public:
  ConfigApiEnv();
  ~ConfigApiEnv();
  ConfigApiEnv(const ConfigApiEnv&) = delete;
  ConfigApiEnv& operator=(const ConfigApiEnv&) = delete;

  // A channel to the config-api server (send kServiceToken).
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // Creates a resource; aborts on failure.
  void Create(parley::v1::ResourceKind kind, const std::string& name, const std::string& spec_json);
  // Agent `name` with its own template, graph and trunk (`name`-tmpl, -graph, -trunk).
  void MakeAgent(const std::string& name);
  void MakeCampaign(const std::string& name, const std::string& spec_json);
  // Puts `e164` on the DNC list (globally when `campaign` is empty), through the handler (so the
  // Redis index too).
  void AddDnc(const std::string& e164, const std::string& campaign = "");
  // Takes it off again; aborts when there was no such entry.
  void RemoveDnc(const std::string& e164, const std::string& campaign = "");

  // The Redis key of this process's DNC index (one per process, like the database); DispatcherEnv
  // checks it.
  static std::string DncKey();
  calls::DncIndex& dnc_index() { return *dnc_index_; }
  // Rebuilds the index from Postgres now (what config-api's reconcile loop does).
  absl::Status ReconcileDnc();

 private:
  std::unique_ptr<pg::testing::ScratchDatabase> db_;
  std::unique_ptr<pg::PgPool> pool_;
  std::unique_ptr<config::ConfigStore> store_;
  std::unique_ptr<redis::RedisPool> redis_;
  std::unique_ptr<calls::DncIndex> dnc_index_;
  std::unique_ptr<config::DncReconciler> reconciler_;
  std::unique_ptr<crypto::SecretBox> box_;
  std::unique_ptr<config::ConfigHandler> handler_;
  std::unique_ptr<grpcx::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

class DispatcherEnv final {
 public:
  // A dispatcher asking the config-api behind `config`, with a fresh Redis key prefix.
  explicit DispatcherEnv(std::shared_ptr<grpc::Channel> config, DispatcherOptions options = {});
  // Stops the server and deletes every key under the prefix.
  ~DispatcherEnv();
  DispatcherEnv(const DispatcherEnv&) = delete;
  DispatcherEnv& operator=(const DispatcherEnv&) = delete;

  parley::v1::DispatcherService::Stub& stub() { return *stub_; }
  // A client context with kCallsToken (or `token`) and a deadline.
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = kCallsToken,
                                           absl::Duration deadline = absl::Seconds(10));
  calls::CallStore& store() { return *store_; }
  redis::RedisPool& redis() { return *redis_; }
  ConfigClient& config() { return *config_; }
  const std::string& prefix() const { return prefix_; }
  std::string address() const { return server_->address(); }

 private:
  std::string prefix_;
  std::unique_ptr<redis::RedisPool> redis_;
  std::unique_ptr<calls::CallStore> store_;
  std::unique_ptr<ConfigClient> config_;
  std::unique_ptr<DispatcherHandler> handler_;
  std::unique_ptr<grpcx::GrpcServer> server_;
  std::unique_ptr<parley::v1::DispatcherService::Stub> stub_;
};

// Deletes every Redis key starting with `prefix` (SCAN + DEL).
void DeleteKeys(redis::RedisPool& redis, const std::string& prefix);

// A key prefix unique to this process and call: "t<pid>_<n>:".
std::string UniquePrefix();

}  // namespace parley::dispatcher::testing
