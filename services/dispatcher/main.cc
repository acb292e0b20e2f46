// parley-dispatcher: serves parley.v1.DispatcherService over Redis, asking config-api; while it
// serves, it moves due scheduled calls to the job queue and relays events to campaign webhooks.
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/calls/call_store.h"
#include "common/grpc/client.h"
#include "common/grpc/service_flags.h"
#include "common/phone/phone.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/delayed_job_mover.h"
#include "services/dispatcher/dispatcher_handler.h"
#include "services/dispatcher/webhook_relay.h"

ABSL_FLAG(bool, webhooks, true,
          "deliver call events to the campaigns' webhooks (needs the service scope on "
          "PARLEY_SERVICE_TOKEN to read the webhook secrets)");
ABSL_FLAG(std::string, default_region, "",
          "ISO 3166 region for numbers without a country code, for calls whose campaign sets no "
          "region (env PARLEY_DEFAULT_REGION; default US)");

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-dispatcher: outbound call API (env PARLEY_REDIS_URL, PARLEY_CONFIG_ADDR, "
      "PARLEY_SERVICE_TOKEN, PARLEY_API_TOKENS)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("dispatcher", "0.0.0.0:50053", "0.0.0.0:9103");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  std::string region = absl::GetFlag(FLAGS_default_region);
  if (region.empty()) region = grpcx::EnvOr("PARLEY_DEFAULT_REGION", "US");
  grpcx::ValueOrExit(phone::NormalizeE164("+14155552671", region), "bad --default_region");

  const std::string redis_url = grpcx::RequiredEnvOrExit("PARLEY_REDIS_URL");
  auto redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = redis_url, .max_connections = 64}), "bad PARLEY_REDIS_URL");
  // Watch streams hold a connection for each blocking read: a pool of their own.
  auto watch_redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = redis_url, .max_connections = 512}), "bad PARLEY_REDIS_URL");
  const std::string prefix = grpcx::RedisPrefixFromFlags();
  calls::CallStore store(redis.get(), {.prefix = prefix});
  calls::CallStore watch_store(watch_redis.get(), {.prefix = prefix});

  auto config_channel =
      grpcx::MakeChannel({.address = grpcx::EnvOr("PARLEY_CONFIG_ADDR", "127.0.0.1:50051")});
  dispatcher::ConfigClient config(
      config_channel,
      {.rpc = {.token = grpcx::EnvOr("PARLEY_SERVICE_TOKEN", ""), .deadline = absl::Seconds(2)}});

  dispatcher::DispatcherHandler handler(
      {.store = &store, .redis = redis.get(), .watch_store = &watch_store, .config = &config},
      std::move(auth), {.admission = {.default_region = region}});
  dispatcher::DelayedJobMover mover(&store);
  mover.Start();
  dispatcher::WebhookRelay relay(
      watch_redis.get(), &store, &config,
      {.consumer = absl::StrCat(grpcx::EnvOr("HOSTNAME", "dispatcher"), "-", getpid())});
  if (absl::GetFlag(FLAGS_webhooks)) relay.Start();

  std::atomic<bool> group_ready = false;
  options.services = {{&handler, "parley.v1.DispatcherService"}};
  // Workers read jobs through the consumer group: create it once Redis first answers.
  options.probes = {{"redis",
                     [&]() -> absl::Status {
                       if (group_ready) return redis->Ping();
                       absl::Status s = store.EnsureGroup();
                       group_ready = s.ok();
                       return s;
                     }},
                    {"config-api", [&] { return grpcx::ProbeServing(config_channel); }}};
  int code = grpcx::RunService(std::move(options));
  relay.Stop();
  mover.Stop();
  return code;
}
