// parley-state: serves parley.v1.StateService over Postgres and Redis.
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/service_flags.h"
#include "services/state/state_handler.h"

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-state: conversation state service (env PARLEY_PG_URL, PARLEY_REDIS_URL)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("state", "0.0.0.0:50052", "0.0.0.0:9102");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  auto pg = grpcx::ValueOrExit(
      pg::PgPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_PG_URL")}), "bad PARLEY_PG_URL");
  auto redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_REDIS_URL")}),
      "bad PARLEY_REDIS_URL");

  state::StateHandler handler(pg.get(), redis.get(), std::move(auth));
  options.services = {{&handler, "parley.v1.StateService"}};
  options.probes = {{"postgres", [&] { return pg->Ping(); }},
                    {"redis", [&] { return redis->Ping(); }}};
  return grpcx::RunService(std::move(options));
}
