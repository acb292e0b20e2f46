#include "common/grpc/service_flags.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "common/log/log.h"

ABSL_FLAG(std::string, listen, "", "gRPC listen address host:port (env PARLEY_LISTEN)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus HTTP address host:port, 'off' to disable (env PARLEY_METRICS_LISTEN)");
ABSL_FLAG(std::string, log_level, "", "debug, info, warn or error (env PARLEY_LOG_LEVEL)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate for TLS (env PARLEY_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for TLS (env PARLEY_TLS_KEY)");
ABSL_FLAG(std::string, redis_prefix, "",
          "prefix of every Redis key (env PARLEY_REDIS_PREFIX; default parley:); services that share "
          "calls must agree on it");
ABSL_FLAG(absl::Duration, drain_deadline, absl::Seconds(10),
          "how long in-flight requests may finish after SIGTERM");

namespace parley::grpcx {
namespace {

std::string FlagOrEnv(const std::string& flag, const char* env, const std::string& fallback) {
  return flag.empty() ? EnvOr(env, fallback) : flag;
}

}  // namespace

ServiceMainOptions ServiceOptionsFromFlags(const std::string& name,
                                           const std::string& default_listen,
                                           const std::string& default_metrics_listen) {
  // Debian's abseil is built without NDEBUG, so every absl::Mutex lock runs deadlock detection
  // (a global graph behind a global lock): measurable on hot paths such as the Redis pool.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  log::Init({.service = name,
             .level = log::ParseLevel(
                 FlagOrEnv(absl::GetFlag(FLAGS_log_level), "PARLEY_LOG_LEVEL", "info"))});
  ServiceMainOptions options;
  options.name = name;
  options.listen = FlagOrEnv(absl::GetFlag(FLAGS_listen), "PARLEY_LISTEN", default_listen);
  options.metrics_listen = FlagOrEnv(absl::GetFlag(FLAGS_metrics_listen), "PARLEY_METRICS_LISTEN",
                                     default_metrics_listen);
  if (options.metrics_listen == "off") options.metrics_listen.clear();
  options.tls_cert_file = FlagOrEnv(absl::GetFlag(FLAGS_tls_cert), "PARLEY_TLS_CERT", "");
  options.tls_key_file = FlagOrEnv(absl::GetFlag(FLAGS_tls_key), "PARLEY_TLS_KEY", "");
  options.drain_deadline = absl::GetFlag(FLAGS_drain_deadline);
  return options;
}

std::string RedisPrefixFromFlags() {
  return FlagOrEnv(absl::GetFlag(FLAGS_redis_prefix), "PARLEY_REDIS_PREFIX", "parley:");
}

TokenAuth AuthFromEnvOrExit() {
  TokenAuth auth =
      ValueOrExit(TokenAuth::Parse(EnvOr("PARLEY_API_TOKENS", "")), "bad PARLEY_API_TOKENS");
  if (!auth.enabled()) log::Warn("authentication disabled: PARLEY_API_TOKENS is empty");
  return auth;
}

std::string RequiredEnvOrExit(const char* name) {
  std::string value = EnvOr(name, "");
  if (value.empty()) ExitWithError(name, absl::FailedPreconditionError("is not set"));
  return value;
}

void ExitWithError(const char* what, const absl::Status& status) {
  log::Error(what, {{"error", status.ToString()}});
  std::exit(2);
}

}  // namespace parley::grpcx
