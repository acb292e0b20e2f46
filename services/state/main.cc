// parley-state: serves parley.v1.StateService over Postgres and Redis.
#include <atomic>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/grpc/service_flags.h"
#include "common/log/log.h"
#include "services/state/state_handler.h"
#include "services/state/state_store.h"

ABSL_FLAG(absl::Duration, stale_after, absl::Minutes(2),
          "an active conversation whose heartbeat is older than this may be taken over by a new "
          "call to the same callee and agent");
ABSL_FLAG(bool, migrate_only, false,
          "migrate the conversation schema in PARLEY_PG_URL, then exit (0 on success): a "
          "deploy's migration job");

int main(int argc, char** argv) {
  using namespace parley;
  grpcx::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "parley-state: conversation state service (env PARLEY_PG_URL, PARLEY_REDIS_URL, "
      "PARLEY_API_TOKENS)");
  absl::ParseCommandLine(argc, argv);
  grpcx::ServiceMainOptions options =
      grpcx::ServiceOptionsFromFlags("state", "0.0.0.0:50052", "0.0.0.0:9102");
  grpcx::TokenAuth auth = grpcx::AuthFromEnvOrExit();
  auto pg = grpcx::ValueOrExit(
      pg::PgPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_PG_URL")}), "bad PARLEY_PG_URL");
  auto redis = grpcx::ValueOrExit(
      redis::RedisPool::Create({.url = grpcx::RequiredEnvOrExit("PARLEY_REDIS_URL")}),
      "bad PARLEY_REDIS_URL");

  state::StateStore store(pg.get(), redis.get(),
                          {.key_prefix = grpcx::RedisPrefixFromFlags(),
                           .stale_after = absl::GetFlag(FLAGS_stale_after)});
  if (absl::GetFlag(FLAGS_migrate_only)) {
    if (absl::Status s = store.Migrate(); !s.ok()) grpcx::ExitWithError("migration failed", s);
    log::Info("conversation schema migrated");
    return 0;
  }
  state::StateHandler handler(&store, std::move(auth));
  std::atomic<bool> migrated = false;
  options.services = {{&handler, "parley.v1.StateService"}};
  // Serving needs the schema: the first probe that reaches Postgres migrates it.
  options.probes = {{"postgres",
                     [&]() -> absl::Status {
                       if (migrated) return pg->Ping();
                       absl::Status s = store.Migrate();
                       migrated = s.ok();
                       return s;
                     }},
                    {"redis", [&] { return redis->Ping(); }}};
  return grpcx::RunService(std::move(options));
}
