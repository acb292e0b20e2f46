#include "services/worker/testing/worker_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/crypto/secret_box.h"
#include "common/json/struct_convert.h"
#include "common/pg/pg_pool.h"
#include "common/pg/testing/scratch_database.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/config-api/config_handler.h"
#include "services/config-api/config_store.h"
#include "services/state/state_handler.h"
#include "services/state/state_store.h"

namespace parley::worker::testing {
namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "worker test env: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::abort();
}

std::unique_ptr<grpcx::GrpcServer> Serve(grpc::Service* service, const std::string& name) {
  auto server = std::make_unique<grpcx::GrpcServer>(grpcx::ServerOptions{
      .address = "127.0.0.1:0", .drain_deadline = absl::Seconds(1), .log_requests = false});
  server->AddService(service, name);
  if (absl::Status s = server->Start(); !s.ok()) Die("start " + name, s);
  server->health().SetAll(true);
  return server;
}

std::atomic<int> next_number{0};
std::atomic<int> next_call{0};
std::atomic<int> next_prefix{0};
std::atomic<int> next_worker{0};

}  // namespace

std::string NewNumber() { return absl::StrCat("+1415", 5550000 + next_number++); }

ServicesEnv::ServicesEnv() {
  const char* redis_url = std::getenv("PARLEY_REDIS_URL");
  if (redis_url == nullptr) Die("PARLEY_REDIS_URL", absl::FailedPreconditionError("unset"));
  db_ = std::make_unique<pg::testing::ScratchDatabase>();
  auto pg = pg::PgPool::Create({.url = db_->url(), .size = 24});
  if (!pg.ok()) Die("postgres", pg.status());
  pg_ = *std::move(pg);
  auto redis = redis::RedisPool::Create({.url = redis_url, .max_connections = 32});
  if (!redis.ok()) Die("redis", redis.status());
  redis_ = *std::move(redis);

  config_store_ = std::make_unique<config::ConfigStore>(pg_.get());
  if (absl::Status s = config_store_->Migrate(); !s.ok()) Die("config migrate", s);
  auto box = crypto::SecretBox::FromMasterKey(std::string(64, '7'));
  if (!box.ok()) Die("secret box", box.status());
  secrets_ = std::make_unique<crypto::SecretBox>(*std::move(box));
  config_handler_ = std::make_unique<config::ConfigHandler>(config_store_.get(), secrets_.get(),
                                                            grpcx::TokenAuth::Disabled());
  config_server_ = Serve(config_handler_.get(), "parley.v1.ConfigService");

  state_prefix_ = absl::StrCat("wst", getpid(), "_", db_->name(), ":");
  state_store_ = std::make_unique<state::StateStore>(
      pg_.get(), redis_.get(), state::StoreOptions{.key_prefix = state_prefix_});
  if (absl::Status s = state_store_->Migrate(); !s.ok()) Die("state migrate", s);
  state_handler_ =
      std::make_unique<state::StateHandler>(state_store_.get(), grpcx::TokenAuth::Disabled());
  state_server_ = Serve(state_handler_.get(), "parley.v1.StateService");

  endpoint_ = std::make_unique<media::testing::ScriptedEndpoint>();
  endpoint_server_ = Serve(endpoint_.get(), "parley.v1.MediaEndpoint");
}

ServicesEnv::~ServicesEnv() {
  endpoint_->HangUpAll();
  endpoint_server_->Shutdown();
  state_server_->Shutdown();
  config_server_->Shutdown();
  if (auto keys = redis_->Command({"KEYS", state_prefix_ + "*"}); keys.ok()) {
    for (const std::string& key : keys->AsStrings().value_or(std::vector<std::string>{})) {
      (void)redis_->Command({"DEL", key});
    }
  }
}

void ServicesEnv::Apply(parley::v1::ResourceKind kind, const std::string& name,
                        const std::string& spec_json) {
  parley::v1::UpdateResourceRequest request;
  request.set_allow_missing(true);
  request.mutable_resource()->set_kind(kind);
  request.mutable_resource()->set_name(name);
  auto spec = json::JsonToStruct(nlohmann::json::parse(spec_json));
  if (!spec.ok()) Die("spec of " + name, spec.status());
  *request.mutable_resource()->mutable_spec() = *spec;
  grpc::ServerContext context;
  parley::v1::Resource out;
  grpc::Status s = config_handler_->UpdateResource(&context, &request, &out);
  if (!s.ok()) Die("apply " + name, FromGrpcStatus(s));
}

void ServicesEnv::MakeAgent(const std::string& name, const std::string& template_json) {
  Apply(parley::v1::RESOURCE_KIND_TEMPLATE, name + "-tmpl", template_json);
  Apply(parley::v1::RESOURCE_KIND_GRAPH, name + "-graph", R"({
      "start_node": "greet", "terminal_nodes": ["bye"],
      "nodes": [{"name": "greet", "say": ["Hello"], "transitions": [{"to": "bye"}]},
                {"name": "bye", "say": ["Goodbye"]}]})");
  Apply(parley::v1::RESOURCE_KIND_TRUNK, name + "-trunk",
        absl::StrCat(R"({"kind": "grpc", "grpc": {"address": ")", endpoint_address(), R"("}})"));
  Apply(parley::v1::RESOURCE_KIND_AGENT, name,
        absl::StrCat(R"({"template": ")", name, R"(-tmpl", "graph": ")", name,
                     R"(-graph", "trunk": ")", name, R"(-trunk", "from": "+14155559999"})"));
}

void ServicesEnv::MakeCampaign(const std::string& name, const std::string& spec_json) {
  Apply(parley::v1::RESOURCE_KIND_CAMPAIGN, name, spec_json);
}

std::unique_ptr<grpcx::GrpcServer> ServicesEnv::StartConfigServer() {
  return Serve(config_handler_.get(), "parley.v1.ConfigService");
}

absl::StatusOr<parley::v1::CallRecord> ServicesEnv::StateRecord(const std::string& call_id,
                                                                int attempt) {
  auto stub =
      parley::v1::StateService::NewStub(grpcx::MakeChannel({.address = state_server_->address()}));
  parley::v1::GetCallRecordRequest request;
  request.set_call_id(call_id);
  request.set_attempt(attempt);
  parley::v1::CallRecord record;
  auto context = grpcx::MakeContext({.address = state_server_->address()});
  grpc::Status s = stub->GetCall(context.get(), request, &record);
  if (!s.ok()) return FromGrpcStatus(s);
  return record;
}

CallsEnv::CallsEnv(redis::RedisPool* redis)
    : redis_(redis), prefix_(absl::StrCat("wt", getpid(), "_", next_prefix++, ":")) {
  store_ = std::make_unique<calls::CallStore>(redis_, calls::StoreOptions{.prefix = prefix_});
  if (absl::Status s = store_->EnsureGroup(); !s.ok()) Die("jobs group", s);
}

CallsEnv::~CallsEnv() {
  if (auto keys = redis_->Command({"KEYS", prefix_ + "*"}); keys.ok()) {
    for (const std::string& key : keys->AsStrings().value_or(std::vector<std::string>{})) {
      (void)redis_->Command({"DEL", key});
    }
  }
}

std::string CallsEnv::CreateCall(const NewCall& spec) {
  calls::CallRecord call;
  call.call_id = absl::StrCat("call-", getpid(), "-", next_call++);
  call.to = spec.to.empty() ? NewNumber() : spec.to;
  call.agent = spec.agent;
  call.campaign = spec.campaign;
  call.context_json = spec.context_json;
  call.max_attempts = spec.max_attempts;
  auto created = store_->Create(call, absl::ToUnixMillis(absl::Now()));
  if (!created.ok()) Die("create call", created.status());
  return call.call_id;
}

calls::CallRecord CallsEnv::WaitFor(const std::string& call_id,
                                    const std::function<bool(const calls::CallRecord&)>& done,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  calls::CallRecord last;
  for (;;) {
    auto call = store_->Get(call_id);
    if (call.ok()) {
      last = *call;
      if (done(last)) return last;
    }
    if (absl::Now() > deadline) {
      ADD_FAILURE() << "call " << call_id << " still " << calls::StatusName(last.status)
                    << " after " << timeout;
      return last;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

calls::CallRecord CallsEnv::WaitStatus(const std::string& call_id, parley::v1::CallStatus status,
                                       absl::Duration timeout) {
  return WaitFor(
      call_id, [&](const calls::CallRecord& c) { return c.status == status; }, timeout);
}

calls::CallRecord CallsEnv::WaitTerminal(const std::string& call_id, absl::Duration timeout) {
  return WaitFor(
      call_id, [](const calls::CallRecord& c) { return calls::IsTerminal(c.status); }, timeout);
}

std::vector<calls::CallEvent> CallsEnv::Events(const std::string& call_id) {
  auto events = store_->ReadEvents(call_id, "0", 1000, 0);
  return events.ok() ? *events : std::vector<calls::CallEvent>{};
}

std::vector<std::string> CallsEnv::StatusTrail(const std::string& call_id) {
  std::vector<std::string> trail;
  for (const calls::CallEvent& e : Events(call_id)) {
    if (e.type == "status") trail.emplace_back(calls::StatusName(e.status));
  }
  return trail;
}

int CallsEnv::JobsInStream() {
  auto n = redis_->Command({"XLEN", prefix_ + "jobs"});
  return n.ok() ? static_cast<int>(n->integer) : -1;
}

int CallsEnv::PendingJobs() {
  auto r = redis_->Command({"XPENDING", prefix_ + "jobs", "workers"});
  if (!r.ok() || !r->is_array() || r->elements.empty()) return -1;
  return static_cast<int>(r->elements[0].integer);
}

InProcessWorker::InProcessWorker(ServicesEnv& services, CallsEnv& calls, WorkerSettings settings)
    : id_(settings.worker_id.empty() ? absl::StrCat("w", getpid(), "-", next_worker++)
                                     : settings.worker_id),
      metrics_(metrics::Metrics::Local()) {
  by_kind_ = std::make_unique<TelephonyByKind>(
      std::map<std::string, Telephony*>{{"grpc", &telephony_}, {"sip", settings.sip}});
  std::string config_address =
      settings.config_address.empty() ? services.config_address() : settings.config_address;
  config_ = std::make_unique<ConfigClient>(
      grpcx::ClientOptions{.address = config_address, .deadline = absl::Seconds(2)});
  state_ = std::make_unique<StateClient>(grpcx::ClientOptions{.address = services.state_address()});
  configs_ = std::make_unique<RuntimeConfigCache>(
      [this](const ConfigKey& key) { return config_->GetRuntimeConfig(key); },
      RuntimeConfigCache::Options{.ttl = settings.config_ttl,
                                  .defaults = SystemDefaultConfig(settings.default_trunk),
                                  .metrics = metrics_.get()});
  worker_ = std::make_unique<Worker>(
      WorkerOptions{.identity = {.worker_id = id_,
                                 .host = "localhost",
                                 .pid = static_cast<int>(getpid()),
                                 .capacity = settings.max_calls,
                                 .version = "test",
                                 .admin_address = "",
                                 .start_time = absl::Now()},
                    .lease = settings.lease,
                    .drain_deadline = settings.drain_deadline,
                    .read_block = absl::Milliseconds(200),
                    .heartbeat = absl::Seconds(1),
                    .redis_url = std::getenv("PARLEY_REDIS_URL"),
                    .drain_grace = absl::Seconds(2)},
      WorkerDeps{.store = &calls.store(),
                 .redis = calls.redis(),
                 .configs = configs_.get(),
                 .state = state_.get(),
                 .telephony = by_kind_.get(),
                 .pipelines = settings.pipelines != nullptr ? settings.pipelines : &pipelines_,
                 .metrics = metrics_.get()});
  if (absl::Status s = worker_->Start(); !s.ok()) Die("start worker", s);
  if (!worker_->WaitControlSubscribed(absl::Seconds(5))) {
    Die("control channel", absl::DeadlineExceededError("not subscribed"));
  }
}

InProcessWorker::~InProcessWorker() {
  worker_->Drain(absl::ZeroDuration());
  worker_->WaitDrained();
}

}  // namespace parley::worker::testing
