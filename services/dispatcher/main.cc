// parley-dispatcher: serves parley.v1.DispatcherService over Redis, asking config-api.
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/client.h"
#include "common/grpc/service_flags.h"
#include "services/dispatcher/dispatcher_handler.h"

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-dispatcher: outbound call API (env PARLEY_REDIS_URL, PARLEY_CONFIG_ADDR, "
      "PARLEY_SERVICE_TOKEN)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("dispatcher", "0.0.0.0:50053", "0.0.0.0:9103");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  auto redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_REDIS_URL")}),
      "bad PARLEY_REDIS_URL");
  auto config =
      grpcx::MakeChannel({.address = grpcx::EnvOr("PARLEY_CONFIG_ADDR", "127.0.0.1:50051"),
                          .token = grpcx::EnvOr("PARLEY_SERVICE_TOKEN", "")});

  dispatcher::DispatcherHandler handler(redis.get(), config, std::move(auth));
  options.services = {{&handler, "parley.v1.DispatcherService"}};
  options.probes = {{"redis", [&] { return redis->Ping(); }},
                    {"config-api", [&] { return grpcx::ProbeServing(config); }}};
  return grpcx::RunService(std::move(options));
}
