#include "services/dispatcher/testing/dispatcher_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/crypto/secret_box.h"
#include "common/grpc/client.h"
#include "common/json/struct_convert.h"
#include "common/pg/pg_pool.h"
#include "common/pg/testing/scratch_database.h"
#include "services/config-api/config_handler.h"
#include "services/config-api/config_store.h"
#include "services/config-api/dnc_reconciler.h"

namespace parley::dispatcher::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "dispatcher test env: %s\n", what.c_str());
  std::abort();
}

}  // namespace

std::string UniquePrefix() {
  static std::atomic<int> counter{0};
  return absl::StrCat("t", getpid(), "_", counter++, ":");
}

void DeleteKeys(redis::RedisPool& redis, const std::string& prefix) {
  std::string cursor = "0";
  do {
    auto reply = redis.Command({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    if (!reply.ok() || reply->elements.size() != 2) return;
    cursor = reply->elements[0].str;
    std::vector<std::string> del = {"DEL"};
    for (const auto& key : reply->elements[1].elements) del.push_back(key.str);
    if (del.size() > 1) (void)redis.Command(del);
  } while (cursor != "0");
}

ConfigApiEnv::ConfigApiEnv() {
  db_ = std::make_unique<pg::testing::ScratchDatabase>();
  auto pool = pg::PgPool::Create({.url = db_->url(), .size = 8});
  if (!pool.ok()) Die(std::string(pool.status().message()));
  pool_ = *std::move(pool);
  store_ = std::make_unique<config::ConfigStore>(pool_.get());
  if (absl::Status s = store_->Migrate(); !s.ok()) Die(std::string(s.message()));
  const char* url = std::getenv("PARLEY_REDIS_URL");
  if (url == nullptr) Die("PARLEY_REDIS_URL is not set: run through scripts/test");
  auto redis = redis::RedisPool::Create({.url = url, .max_connections = 16});
  if (!redis.ok()) Die(std::string(redis.status().message()));
  redis_ = *std::move(redis);
  dnc_index_ = std::make_unique<calls::DncIndex>(redis_.get(), DncKey());
  reconciler_ = std::make_unique<config::DncReconciler>(store_.get(), dnc_index_.get());
  if (absl::Status s = reconciler_->Reconcile(); !s.ok()) Die(std::string(s.message()));
  box_ = std::make_unique<crypto::SecretBox>(
      *crypto::SecretBox::FromMasterKey(crypto::GenerateMasterKey()));
  handler_ = std::make_unique<config::ConfigHandler>(
      store_.get(), box_.get(),
      *grpcx::TokenAuth::Parse(absl::StrCat("dispatcher:", kServiceToken, ":service")),
      dnc_index_.get());
  server_ = std::make_unique<grpcx::GrpcServer>(
      grpcx::ServerOptions{.address = "127.0.0.1:0", .log_requests = false});
  server_->AddService(handler_.get(), "parley.v1.ConfigService");
  if (absl::Status s = server_->Start(); !s.ok()) Die(std::string(s.message()));
  server_->health().SetAll(true);
  channel_ = grpcx::MakeChannel({.address = server_->address()});
}

ConfigApiEnv::~ConfigApiEnv() {
  server_->Shutdown();
  server_.reset();
  handler_.reset();
  reconciler_.reset();
  (void)redis_->Command({"DEL", DncKey()});
  dnc_index_.reset();
  redis_.reset();
  store_.reset();
  pool_.reset();
  db_.reset();
}

void ConfigApiEnv::Create(parley::v1::ResourceKind kind, const std::string& name,
                          const std::string& spec_json) {
  parley::v1::CreateResourceRequest request;
  request.mutable_resource()->set_kind(kind);
  request.mutable_resource()->set_name(name);
  auto spec = json::JsonToStruct(nlohmann::json::parse(spec_json));
  if (!spec.ok()) Die(std::string(spec.status().message()));
  *request.mutable_resource()->mutable_spec() = *spec;
  grpc::ServerContext context;
  parley::v1::Resource out;
  // Straight to the handler: the fixture's own setup needs no token.
  config::ConfigHandler direct(store_.get(), box_.get(), grpcx::TokenAuth::Disabled());
  grpc::Status s = direct.CreateResource(&context, &request, &out);
  if (!s.ok()) Die(absl::StrCat("create ", name, ": ", s.error_message()));
}

void ConfigApiEnv::MakeAgent(const std::string& name) {
  Create(parley::v1::RESOURCE_KIND_TEMPLATE, name + "-tmpl",
         R"({"llm": {"provider": "scripted"}})");
  Create(parley::v1::RESOURCE_KIND_GRAPH, name + "-graph", R"({
      "start_node": "greet", "terminal_nodes": ["bye"],
      "nodes": [{"name": "greet", "say": ["Hello"], "transitions": [{"to": "bye"}]},
                {"name": "bye", "say": ["Goodbye"]}]})");
  Create(parley::v1::RESOURCE_KIND_TRUNK, name + "-trunk",
         R"({"kind": "grpc", "grpc": {"address": "127.0.0.1:50060"}})");
  Create(parley::v1::RESOURCE_KIND_AGENT, name,
         absl::StrCat(R"({"template": ")", name, R"(-tmpl", "graph": ")", name,
                      R"(-graph", "trunk": ")", name, R"(-trunk"})"));
}

void ConfigApiEnv::MakeCampaign(const std::string& name, const std::string& spec_json) {
  Create(parley::v1::RESOURCE_KIND_CAMPAIGN, name, spec_json);
}

void ConfigApiEnv::AddDnc(const std::string& e164, const std::string& campaign) {
  parley::v1::AddDncRequest request;
  request.set_number(e164);
  request.set_campaign(campaign);
  request.set_reason("opt_out");
  grpc::ServerContext context;
  parley::v1::DncEntry out;
  config::ConfigHandler direct(store_.get(), box_.get(), grpcx::TokenAuth::Disabled(),
                               dnc_index_.get());
  grpc::Status s = direct.AddDnc(&context, &request, &out);
  if (!s.ok()) Die(absl::StrCat("add dnc: ", s.error_message()));
}

void ConfigApiEnv::RemoveDnc(const std::string& e164, const std::string& campaign) {
  parley::v1::RemoveDncRequest request;
  request.set_number(e164);
  request.set_campaign(campaign);
  grpc::ServerContext context;
  google::protobuf::Empty out;
  config::ConfigHandler direct(store_.get(), box_.get(), grpcx::TokenAuth::Disabled(),
                               dnc_index_.get());
  grpc::Status s = direct.RemoveDnc(&context, &request, &out);
  if (!s.ok()) Die(absl::StrCat("remove dnc: ", s.error_message()));
}

std::string ConfigApiEnv::DncKey() { return absl::StrCat("t", getpid(), "_config:dnc"); }

absl::Status ConfigApiEnv::ReconcileDnc() { return reconciler_->Reconcile(); }

DispatcherEnv::DispatcherEnv(std::shared_ptr<grpc::Channel> config, DispatcherOptions options)
    : prefix_(UniquePrefix()) {
  const char* url = std::getenv("PARLEY_REDIS_URL");
  if (url == nullptr) Die("PARLEY_REDIS_URL is not set: run through scripts/test");
  auto pool = redis::RedisPool::Create({.url = url, .max_connections = 64});
  if (!pool.ok()) Die(std::string(pool.status().message()));
  redis_ = *std::move(pool);
  store_ = std::make_unique<calls::CallStore>(
      redis_.get(), calls::StoreOptions{.prefix = prefix_, .dnc_key = ConfigApiEnv::DncKey()});
  if (absl::Status s = store_->EnsureGroup(); !s.ok()) Die(std::string(s.message()));
  config_ = std::make_unique<ConfigClient>(std::move(config),
                                           ConfigClientOptions{.rpc = {.token = kServiceToken}});
  handler_ = std::make_unique<DispatcherHandler>(
      DispatcherDeps{.store = store_.get(), .redis = redis_.get(), .config = config_.get()},
      *grpcx::TokenAuth::Parse(
          absl::StrCat("crm:", kCallsToken, ":calls,ops:", kConfigToken, ":config,worker:",
                       kServiceToken, ":service")),
      std::move(options));
  server_ = std::make_unique<grpcx::GrpcServer>(grpcx::ServerOptions{
      .address = "127.0.0.1:0", .drain_deadline = absl::Seconds(2), .log_requests = false});
  server_->AddService(handler_.get(), "parley.v1.DispatcherService");
  if (absl::Status s = server_->Start(); !s.ok()) Die(std::string(s.message()));
  server_->health().SetAll(true);
  stub_ =
      parley::v1::DispatcherService::NewStub(grpcx::MakeChannel({.address = server_->address()}));
}

DispatcherEnv::~DispatcherEnv() {
  server_->Shutdown();
  server_.reset();
  DeleteKeys(*redis_, prefix_);
}

std::unique_ptr<grpc::ClientContext> DispatcherEnv::Ctx(const std::string& token,
                                                        absl::Duration deadline) {
  return grpcx::MakeContext({.token = token, .deadline = deadline});
}

}  // namespace parley::dispatcher::testing
