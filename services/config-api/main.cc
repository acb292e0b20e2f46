// parley-config-api: serves parley.v1.ConfigService over Postgres.
#include <atomic>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/service_flags.h"
#include "common/log/log.h"
#include "common/log/redact.h"
#include "services/config-api/config_handler.h"

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-config-api: configuration service (env PARLEY_PG_URL, PARLEY_MASTER_KEY, "
      "PARLEY_API_TOKENS)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("config-api", "0.0.0.0:50051", "0.0.0.0:9101");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  auto pg = grpcx::ValueOrExit(
      pg::PgPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_PG_URL")}), "bad PARLEY_PG_URL");
  std::optional<crypto::SecretBox> secrets;
  if (std::string key = grpcx::EnvOr("PARLEY_MASTER_KEY", ""); !key.empty()) {
    log::RegisterSecret(key);
    secrets = grpcx::ValueOrExit(crypto::SecretBox::FromMasterKey(key), "bad PARLEY_MASTER_KEY");
  } else {
    log::Warn("PARLEY_MASTER_KEY is not set: credentials can be neither stored nor resolved");
  }

  config::ConfigStore store(pg.get());
  config::ConfigHandler handler(&store, secrets ? &*secrets : nullptr, std::move(auth));
  std::atomic<bool> migrated = false;
  options.services = {{&handler, "parley.v1.ConfigService"}};
  // Serving needs the schema: the first probe that reaches Postgres migrates it.
  options.probes = {{"postgres", [&]() -> absl::Status {
                       if (migrated) return pg->Ping();
                       absl::Status s = store.Migrate();
                       migrated = s.ok();
                       return s;
                     }}};
  return grpcx::RunService(std::move(options));
}
