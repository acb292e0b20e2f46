// GetRuntimeConfig latency over gRPC on loopback, uncached (config-api has no cache: every call
// reads Postgres), with N agents in the database.
//
//   eval "$(scripts/infra up)"; build/bench/config_runtime_bench [--agents=1000] [--requests=5000]
//
// Prints {"bench":"config_runtime","agents":…,"requests":…,"p50_ms":…,"p99_ms":…,"rps":…}.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/crypto/secret_box.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/pg/testing/scratch_database.h"
#include "services/config-api/config_handler.h"

namespace {

using namespace parley;

int IntFlag(int argc, char** argv, const char* name, int fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0)
      return std::atoi(argv[i] + prefix.size());
  }
  return fallback;
}

void MustCreate(config::ConfigHandler& handler, parley::v1::ResourceKind kind,
                const std::string& name, const std::string& spec) {
  parley::v1::CreateResourceRequest req;
  req.mutable_resource()->set_kind(kind);
  req.mutable_resource()->set_name(name);
  *req.mutable_resource()->mutable_spec() = *json::JsonToStruct(nlohmann::json::parse(spec));
  grpc::ServerContext ctx;
  parley::v1::Resource out;
  grpc::Status s = handler.CreateResource(&ctx, &req, &out);
  if (!s.ok()) {
    std::fprintf(stderr, "create %s: %s\n", name.c_str(), s.error_message().c_str());
    std::exit(1);
  }
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int agents = IntFlag(argc, argv, "agents", 1000);
  int requests = IntFlag(argc, argv, "requests", 5000);
  log::Init({.level = log::Level::kWarn});

  pg::testing::ScratchDatabase db;
  auto pool = *pg::PgPool::Create({.url = db.url(), .size = 8});
  config::ConfigStore store(pool.get());
  if (!store.Migrate().ok()) return 1;
  auto box = *crypto::SecretBox::FromMasterKey(crypto::GenerateMasterKey());
  config::ConfigHandler handler(&store, &box, grpcx::TokenAuth::Disabled());

  MustCreate(handler, parley::v1::RESOURCE_KIND_TRUNK, "bench-trunk",
             R"({"kind": "grpc", "grpc": {"address": "127.0.0.1:50060"}})");
  MustCreate(handler, parley::v1::RESOURCE_KIND_CREDENTIAL, "openai",
             R"({"provider": "openai", "secret": "sk-bench-0123456789abcdef"})");
  MustCreate(handler, parley::v1::RESOURCE_KIND_PROMPT, "bench-prompt",
             R"({"text": "You remind {customer_name} politely.", "variables": ["customer_name"]})");
  for (int i = 0; i < agents; ++i) {
    std::string n = std::to_string(i);
    MustCreate(
        handler, parley::v1::RESOURCE_KIND_TEMPLATE, "tmpl-" + n,
        R"({"stt": {"provider": "pocketsphinx"}, "tts": {"provider": "espeak", "voice": "en-us"},
                   "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.3},
                   "limits": {"max_duration_s": 600}})");
    MustCreate(handler, parley::v1::RESOURCE_KIND_GRAPH, "graph-" + n, R"({
        "start_node": "greet", "terminal_nodes": ["bye"],
        "nodes": [{"name": "greet", "prompt": "bench-prompt", "say": ["Hello"],
                   "transitions": [{"to": "bye"}]}, {"name": "bye", "say": ["Goodbye"]}]})");
    MustCreate(handler, parley::v1::RESOURCE_KIND_AGENT, "agent-" + n,
               R"({"template": "tmpl-)" + n + R"(", "graph": "graph-)" + n +
                   R"(", "trunk": "bench-trunk"})");
    MustCreate(handler, parley::v1::RESOURCE_KIND_CAMPAIGN, "campaign-" + n,
               R"({"agent": "agent-)" + n + R"(", "overrides": {"tts": {"voice": "en-gb"}}})");
  }

  grpcx::GrpcServer server({.address = "127.0.0.1:0", .log_requests = false});
  server.AddService(&handler, "parley.v1.ConfigService");
  if (!server.Start().ok()) return 1;
  auto stub = parley::v1::ConfigService::NewStub(grpcx::MakeChannel({.address = server.address()}));

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, agents - 1);
  std::vector<double> ms;
  ms.reserve(requests);
  int warmup = std::min(200, requests / 10);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < requests + warmup; ++i) {
    if (i == warmup) start = std::chrono::steady_clock::now();
    std::string n = std::to_string(pick(rng));
    parley::v1::GetRuntimeConfigRequest req;
    req.set_agent("agent-" + n);
    req.set_campaign("campaign-" + n);
    parley::v1::RuntimeConfig out;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = stub->GetRuntimeConfig(&ctx, req, &out);
    auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) {
      std::fprintf(stderr, "GetRuntimeConfig: %s\n", s.error_message().c_str());
      return 1;
    }
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"bench\":\"config_runtime\",\"agents\":%d,\"requests\":%d,\"p50_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"rps\":%.0f}\n",
      agents, requests, Percentile(ms, 0.50), Percentile(ms, 0.99), requests / seconds);
  server.Shutdown();
  return 0;
}
