// parley-config-api: serves parley.v1.ConfigService over Postgres, and keeps the Redis copy of the
// DNC list the dispatcher checks (when PARLEY_REDIS_URL is set).
#include <atomic>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/service_flags.h"
#include "common/log/log.h"
#include "common/log/redact.h"
#include "services/config-api/config_handler.h"
#include "services/config-api/dnc_reconciler.h"

ABSL_FLAG(absl::Duration, dnc_reconcile, absl::Minutes(5),
          "how often the Redis DNC index is rebuilt from Postgres (it is also rebuilt at startup)");
ABSL_FLAG(bool, migrate_only, false,
          "migrate the config schema in PARLEY_PG_URL, then exit (0 on success): a deploy's "
          "migration job");

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-config-api: configuration service (env PARLEY_PG_URL, PARLEY_REDIS_URL, "
      "PARLEY_MASTER_KEY, PARLEY_API_TOKENS)");
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
  if (absl::GetFlag(FLAGS_migrate_only)) {
    if (absl::Status s = store.Migrate(); !s.ok()) grpcx::ExitWithError("migration failed", s);
    log::Info("config schema migrated");
    return 0;
  }
  // The DNC index in Redis (common/calls/dnc_index.h). Without Redis the dispatcher asks
  // CheckDnc for every call instead: correct, but a network round trip and a query per call.
  std::unique_ptr<redis::RedisPool> redis;
  std::optional<calls::DncIndex> dnc_index;
  if (std::string url = grpcx::EnvOr("PARLEY_REDIS_URL", ""); !url.empty()) {
    redis = grpcx::ValueOrExit(redis::RedisPool::Create({.url = url, .max_connections = 16}),
                               "bad PARLEY_REDIS_URL");
    dnc_index.emplace(redis.get(), calls::DncIndexKey(grpcx::RedisPrefixFromFlags()));
  } else {
    log::Warn("PARLEY_REDIS_URL is not set: no DNC index; the dispatcher checks DNC by RPC");
  }
  // TestCredential's probes go to the providers' public APIs.
  config::HttpCredentialProber prober({});
  config::ConfigHandler handler(&store, secrets ? &*secrets : nullptr, std::move(auth),
                                dnc_index ? &*dnc_index : nullptr, &prober);
  std::optional<config::DncReconciler> reconciler;
  if (dnc_index) {
    reconciler.emplace(&store, &*dnc_index,
                       config::DncReconcilerOptions{.period = absl::GetFlag(FLAGS_dnc_reconcile)});
  }
  std::atomic<bool> migrated = false;
  options.services = {{&handler, "parley.v1.ConfigService"}};
  // Serving needs the schema: the first probe that reaches Postgres migrates it.
  options.probes = {{"postgres", [&]() -> absl::Status {
                       if (migrated) return pg->Ping();
                       absl::Status s = store.Migrate();
                       migrated = s.ok();
                       // The index is built from the migrated table.
                       if (migrated && reconciler) reconciler->Start();
                       return s;
                     }}};
  // No Redis probe: config-api serves its configuration without Redis; only DNC writes then fail
  // (UNAVAILABLE), and the dispatcher falls back to CheckDnc.
  int code = grpcx::RunService(std::move(options));
  if (reconciler) reconciler->Stop();
  return code;
}
