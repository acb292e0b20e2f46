// parley-config-api: serves parley.v1.ConfigService over Postgres.
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/service_flags.h"
#include "services/config-api/config_handler.h"

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-config-api: configuration service (env PARLEY_PG_URL, PARLEY_API_TOKENS)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("config-api", "0.0.0.0:50051", "0.0.0.0:9101");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  auto pg = grpcx::ValueOrExit(
      pg::PgPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_PG_URL")}), "bad PARLEY_PG_URL");

  config::ConfigHandler handler(pg.get(), std::move(auth));
  options.services = {{&handler, "parley.v1.ConfigService"}};
  options.probes = {{"postgres", [&] { return pg->Ping(); }}};
  return grpcx::RunService(std::move(options));
}
