// Flags every service binary accepts, defined once:
//   --listen          gRPC address     (env PARLEY_LISTEN; default per service, e.g. 0.0.0.0:50051)
//   --metrics_listen  Prometheus HTTP  (env PARLEY_METRICS_LISTEN; default per service, "" = off)
//   --log_level       debug|info|warn|error (env PARLEY_LOG_LEVEL; default info)
//   --tls_cert, --tls_key  PEM files for TLS (env PARLEY_TLS_CERT / PARLEY_TLS_KEY)
//   --drain_deadline  how long in-flight requests may finish on SIGTERM (default 10s)
//   --redis_prefix    Redis key prefix (env PARLEY_REDIS_PREFIX; default parley:), read by
//                     RedisPrefixFromFlags() in the services that use Redis
//
//   auto options = parley::grpcx::ServiceOptionsFromFlags("dispatcher", "0.0.0.0:50053",
//   "0.0.0.0:9103");
#pragma once

#include <string>

#include "common/grpc/auth.h"
#include "common/grpc/service_main.h"

namespace parley::grpcx {

// Builds the common part of ServiceMainOptions from flags, env and the service's defaults, and
// initialises logging for `name`; turns off absl::Mutex deadlock detection (on in Debian's
// abseil build, and costly on hot paths). Call after absl::ParseCommandLine.
ServiceMainOptions ServiceOptionsFromFlags(const std::string& name,
                                           const std::string& default_listen,
                                           const std::string& default_metrics_listen);

// --redis_prefix / PARLEY_REDIS_PREFIX, default "parley:": the key prefix of the call store.
std::string RedisPrefixFromFlags();

// For main() only: PARLEY_API_TOKENS parsed, or the process exits with status 2 and a log line
// naming the bad entry. Warns when authentication is disabled.
TokenAuth AuthFromEnvOrExit();

// For main() only: the value of a required environment variable, or exit 2 with a log line.
std::string RequiredEnvOrExit(const char* name);

// For main() only: logs `what` and the error, then exits with status 2.
[[noreturn]] void ExitWithError(const char* what, const absl::Status& status);

// For main() only: `value` of a StatusOr, or exit 2 logging `what` and the error.
template <class T>
T ValueOrExit(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) ExitWithError(what, value.status());
  return *std::move(value);
}

}  // namespace parley::grpcx
