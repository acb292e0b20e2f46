// parley-worker: executes calls — claims jobs from Redis, dials, runs the voice pipeline.
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/client.h"
#include "common/grpc/service_flags.h"
#include "common/redis/redis_pool.h"
#include "services/worker/worker_admin.h"

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-worker: call executor (env PARLEY_REDIS_URL, PARLEY_CONFIG_ADDR, PARLEY_STATE_ADDR, "
      "PARLEY_SERVICE_TOKEN)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("worker", "0.0.0.0:50054", "0.0.0.0:9104");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  auto redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_REDIS_URL")}),
      "bad PARLEY_REDIS_URL");
  std::string token = grpcx::EnvOr("PARLEY_SERVICE_TOKEN", "");
  auto config = grpcx::MakeChannel(
      {.address = grpcx::EnvOr("PARLEY_CONFIG_ADDR", "127.0.0.1:50051"), .token = token});
  auto state = grpcx::MakeChannel(
      {.address = grpcx::EnvOr("PARLEY_STATE_ADDR", "127.0.0.1:50052"), .token = token});

  worker::WorkerAdminHandler admin(std::move(auth));
  options.services = {{&admin, "parley.v1.WorkerAdmin"}};
  options.probes = {{"redis", [&] { return redis->Ping(); }},
                    {"config-api", [&] { return grpcx::ProbeServing(config); }},
                    {"state", [&] { return grpcx::ProbeServing(state); }}};
  return grpcx::RunService(std::move(options));
}
