// parley-worker: executes calls — claims jobs from Redis, dials, hosts the voice pipeline.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/calls/call_store.h"
#include "common/grpc/client.h"
#include "common/grpc/lifecycle.h"
#include "common/grpc/service_flags.h"
#include "common/log/log.h"
#include "common/redis/redis_pool.h"
#include "services/worker/config_cache.h"
#include "services/worker/inbound_router.h"
#include "services/worker/malloc_tuning.h"
#include "services/worker/media_leg.h"
#include "services/worker/service_clients.h"
#include "services/worker/sip/sip_telephony.h"
#include "services/worker/test_prompt_pipeline.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/network_providers.h"
#include "services/worker/voice/voice_pipeline.h"
#include "services/worker/worker.h"
#include "services/worker/worker_admin.h"

ABSL_DECLARE_FLAG(absl::Duration, drain_deadline);
ABSL_FLAG(int, max_calls, 100, "most calls this worker runs at once (also spelled --max-calls)");
ABSL_FLAG(std::string, worker_id, "", "unique worker id, no ':'; default <host>-<pid>");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(15),
          "call lease, renewed every lease/3; a worker silent this long loses its calls");
ABSL_FLAG(absl::Duration, config_ttl, absl::Minutes(5), "runtime config cache TTL");
ABSL_FLAG(int, config_cache_size, 1000, "runtime configs cached at most (LRU)");
ABSL_FLAG(std::string, default_trunk, "",
          "MediaEndpoint host:port dialed when config-api is down and nothing is cached");
ABSL_FLAG(int, opus_complexity, 1,
          "Opus encoder complexity 0-10 of the audio sent to callees (1: ~60 us a frame, 5: ~135)");
ABSL_FLAG(int, opus_cache_mb, 16,
          "MiB of encoded Opus packets shared by all calls (repeated greetings and lines are "
          "encoded once per process); 0 encodes every frame");
ABSL_FLAG(int, malloc_arenas, 2,
          "glibc malloc arenas at most (M_ARENA_MAX; 0: glibc's 8 per core; env MALLOC_ARENA_MAX "
          "wins); fewer arenas keep less freed memory resident per call (malloc_tuning.h)");
ABSL_FLAG(int, keep_pcm_frames, 25,
          "20 ms frames of a call's queued audio left as PCM; while more are queued, the oldest "
          "are Opus-encoded ahead");
ABSL_FLAG(int, encode_ahead, 3,
          "queued frames Opus-encoded ahead after each frame sent (0: encode only when sent)");
ABSL_FLAG(std::string, sip_listen, "0.0.0.0:0",
          "IPv4 address:port the SIP stack listens on for trunks of kind sip (port 0: a free port; "
          "outbound calls need no fixed port); "
          "empty: no SIP");
ABSL_FLAG(bool, sip_inbound, true,
          "answer SIP calls to numbers with an inbound route (created through the dispatcher at "
          "PARLEY_DISPATCHER_ADDR); false: every call that comes in gets 404");
ABSL_FLAG(std::string, rtp_address, "0.0.0.0", "IPv4 address RTP sockets of SIP calls bind to");
ABSL_FLAG(std::string, record_dir, "", "where the test-prompt pipeline writes WAV recordings");
ABSL_FLAG(std::string, pipeline, "voice",
          "what answers calls: voice (the conversation pipeline) or test-prompt (a tone, to check "
          "a trunk)");

namespace {

// Flags may be spelled with dashes (--max-calls) as well as underscores (--max_calls).
std::vector<char*> NormaliseFlagNames(int argc, char** argv, std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  std::vector<char*> out;
  for (std::string& arg : storage) {
    if (arg.rfind("--", 0) == 0) {
      for (size_t i = 2; i < arg.size() && arg[i] != '='; ++i) {
        if (arg[i] == '-') arg[i] = '_';
      }
    }
    out.push_back(arg.data());
  }
  return out;
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "worker";
  return host;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-worker: call executor (env PARLEY_REDIS_URL, PARLEY_CONFIG_ADDR, PARLEY_STATE_ADDR, "
      "PARLEY_SERVICE_TOKEN, PARLEY_API_TOKENS, PARLEY_ADVERTISE_ADDR)");
  // Live calls get five minutes to finish on SIGTERM unless told otherwise (worker.proto).
  absl::SetFlag(&FLAGS_drain_deadline, absl::Minutes(5));
  std::vector<std::string> storage;
  std::vector<char*> args = NormaliseFlagNames(argc, argv, storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  worker::LimitMallocArenas(absl::GetFlag(FLAGS_malloc_arenas));  // before any thread starts
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("worker", "0.0.0.0:50054", "0.0.0.0:9104");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  const std::string redis_url = grpcx::RequiredEnvOrExit("PARLEY_REDIS_URL");
  auto redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = redis_url, .max_connections = 32}), "bad PARLEY_REDIS_URL");
  const std::string token = grpcx::EnvOr("PARLEY_SERVICE_TOKEN", "");
  worker::ConfigClient config({.address = grpcx::EnvOr("PARLEY_CONFIG_ADDR", "127.0.0.1:50051"),
                               .token = token,
                               .deadline = absl::Seconds(3)});
  worker::StateClient state(
      {.address = grpcx::EnvOr("PARLEY_STATE_ADDR", "127.0.0.1:50052"), .token = token});
  std::string prefix = grpcx::RedisPrefixFromFlags();
  calls::CallStore store(redis.get(), {.prefix = prefix});
  worker::GrpcTelephony grpc_telephony(
      {.opus = {.complexity = absl::GetFlag(FLAGS_opus_complexity)},
       .opus_cache_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_opus_cache_mb)) << 20,
       .queue = {.keep_pcm_frames = absl::GetFlag(FLAGS_keep_pcm_frames),
                 .encode_ahead = absl::GetFlag(FLAGS_encode_ahead)}});
  std::unique_ptr<sip::SipTelephony> sip_telephony;
  if (const std::string listen = absl::GetFlag(FLAGS_sip_listen); !listen.empty()) {
    const size_t colon = listen.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
      grpcx::ExitWithError("bad flag",
                           absl::InvalidArgumentError("--sip_listen: want address:port"));
    }
    sip_telephony = grpcx::ValueOrExit(
        sip::SipTelephony::Create({.sip_address = listen.substr(0, colon),
                                   .sip_port = port,
                                   .rtp_address = absl::GetFlag(FLAGS_rtp_address),
                                   .scheduler = grpc_telephony.scheduler()}),
        "cannot start the SIP stack");
  }
  worker::TelephonyByKind telephony({{"grpc", &grpc_telephony}, {"sip", sip_telephony.get()}});
  worker::TestPromptFactory test_prompt({.record_dir = absl::GetFlag(FLAGS_record_dir)});
  worker::ProviderRegistry providers;
  worker::RegisterEmbeddedProviders(providers, {});
  worker::RegisterNetworkProviders(providers);
  worker::GrpcConversationRecorder recorder(&state, &config);
  // Built once the metrics registry exists (RunService's on_metrics).
  std::unique_ptr<worker::VoicePipelineFactory> voice;
  const std::string pipeline_name = absl::GetFlag(FLAGS_pipeline);
  worker::PipelineFactory* pipelines = nullptr;
  if (pipeline_name == "voice") {
    pipelines = nullptr;  // set in on_metrics
  } else if (pipeline_name == "test-prompt" || pipeline_name == "test_prompt") {
    pipelines = &test_prompt;
  } else {
    grpcx::ExitWithError("bad flag",
                         absl::InvalidArgumentError(absl::StrCat("--pipeline: \"", pipeline_name,
                                                                 "\" (use voice or test-prompt)")));
  }

  const std::string host = HostName();
  std::string worker_id = absl::GetFlag(FLAGS_worker_id);
  if (worker_id.empty()) worker_id = absl::StrCat(host, "-", getpid());
  // Where `parleyctl workers` tells operators to reach this worker's admin service. In
  // Kubernetes the pod's hostname does not resolve, so the manifests pass the pod IP.
  std::string admin_address = grpcx::EnvOr("PARLEY_ADVERTISE_ADDR", "");
  if (admin_address.empty()) {
    admin_address = options.listen;
    if (admin_address.rfind("0.0.0.0:", 0) == 0) admin_address = host + admin_address.substr(7);
  }

  // The cache and the pool record metrics, whose registry exists once RunService made it.
  std::unique_ptr<worker::RuntimeConfigCache> configs;
  std::unique_ptr<worker::Worker> pool;
  std::unique_ptr<worker::InboundRouter> inbound;
  worker::WorkerAdminHandler admin(std::move(auth), [] { grpcx::RaiseTermination(); });
  options.on_metrics = [&](metrics::Metrics& metrics) {
    if (pipeline_name == "voice") {
      voice = std::make_unique<worker::VoicePipelineFactory>(
          worker::VoicePipelineOptions{.providers = &providers,
                                       .recorder = &recorder,
                                       .dialogues = worker::MakeEngineDialogue,
                                       .on_timing = worker::TimingHistograms(&metrics)});
      pipelines = voice.get();
    }
    configs = std::make_unique<worker::RuntimeConfigCache>(
        [&](const worker::ConfigKey& key) { return config.GetRuntimeConfig(key); },
        worker::RuntimeConfigCache::Options{
            .ttl = absl::GetFlag(FLAGS_config_ttl),
            .capacity = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_config_cache_size))),
            .defaults = worker::SystemDefaultConfig(absl::GetFlag(FLAGS_default_trunk)),
            .metrics = &metrics});
    pool = std::make_unique<worker::Worker>(
        worker::WorkerOptions{
            .identity = {.worker_id = worker_id,
                         .host = host,
                         .pid = static_cast<int>(getpid()),
                         .capacity = absl::GetFlag(FLAGS_max_calls),
                         .version = PARLEY_VERSION,
                         .admin_address = admin_address,
                         .start_time = absl::Now()},
            .lease = absl::GetFlag(FLAGS_lease),
            .drain_deadline = options.drain_deadline,
            .redis_url = redis_url,
            // Calls need state (memory, history); config-api may be down (the cache copes).
            .ready = [&] { return grpcx::ProbeServing(state.channel()).ok(); }},
        worker::WorkerDeps{.store = &store,
                           .redis = redis.get(),
                           .configs = configs.get(),
                           .state = &state,
                           .telephony = &telephony,
                           .pipelines = pipelines,
                           .metrics = &metrics});
    if (absl::Status s = pool->Start(); !s.ok()) grpcx::ExitWithError("cannot start worker", s);
    admin.Attach(pool.get());
    if (sip_telephony != nullptr && absl::GetFlag(FLAGS_sip_inbound)) {
      inbound = std::make_unique<worker::InboundRouter>(
          pool.get(),
          worker::InboundRoutesFromConfigApi(
              {.address = grpcx::EnvOr("PARLEY_CONFIG_ADDR", "127.0.0.1:50051"),
               .token = token,
               .deadline = absl::Seconds(3)}),
          worker::InboundCallsThroughDispatcher(
              {.address = grpcx::EnvOr("PARLEY_DISPATCHER_ADDR", "127.0.0.1:50053"),
               .token = token,
               .deadline = absl::Seconds(3)}));
      sip_telephony->SetInboundHandler(inbound.get());
    }
  };
  options.before_stop = [&] {
    if (pool == nullptr) return;
    pool->Drain();  // keeps an earlier (Drain RPC) deadline
    pool->WaitDrained();
    if (inbound != nullptr) {
      sip_telephony->SetInboundHandler(nullptr);  // calls that come in now get 404
      inbound.reset();
    }
    // Outcomes and turns held while state was away get a last chance to be written.
    if (!state.deferred().WaitEmpty(absl::Seconds(30))) {
      log::Error("exiting with state writes not done",
                 {{"count", absl::StrCat(state.deferred().size())}});
    }
  };
  options.services = {{&admin, "parley.v1.WorkerAdmin"}};
  options.probes = {{"redis", [&] { return redis->Ping(); }},
                    {"config-api", [&] { return grpcx::ProbeServing(config.channel()); }},
                    {"state", [&] { return grpcx::ProbeServing(state.channel()); }}};
  int code = grpcx::RunService(std::move(options));
  if (sip_telephony != nullptr) sip_telephony->SetInboundHandler(nullptr);
  inbound.reset();
  pool.reset();
  return code;
}
