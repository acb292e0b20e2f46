// The life of a service process, shared by every Parley main(): serve gRPC and metrics, report
// health from dependency probes, and shut down gracefully on SIGTERM/SIGINT.
//
//   int main(int argc, char** argv) {
//     parley::grpcx::BlockTerminationSignals();
//     absl::ParseCommandLine(argc, argv);
//     ... build dependencies and the handler ...
//     return parley::grpcx::RunService({
//         .name = "dispatcher", .listen = absl::GetFlag(FLAGS_listen), ...,
//         .services = {{&handler, "parley.v1.DispatcherService"}},
//         .probes = {{"redis", [&] { return redis->Ping(); }}}});
//   }
//
// Health is NOT_SERVING from the start, SERVING while every probe answers, and NOT_SERVING again at
// the first termination signal, before in-flight requests drain.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/grpc/lifecycle.h"

namespace grpc {
class Service;
}

namespace parley::metrics {
class Metrics;
}

namespace parley::grpcx {

struct ServiceMainOptions {
  std::string name;
  std::string listen;          // gRPC "host:port"
  std::string metrics_listen;  // Prometheus "host:port"; empty = no HTTP endpoint
  std::string tls_cert_file;
  std::string tls_key_file;
  std::vector<std::pair<grpc::Service*, std::string>> services;
  std::vector<DependencyProbe> probes;
  absl::Duration probe_interval = absl::Seconds(1);
  absl::Duration drain_deadline = absl::Seconds(10);
  // Runs after health went NOT_SERVING and before the server stops (e.g. the worker finishes its
  // live calls here). May block up to its own deadline.
  std::function<void()> before_stop;
  // Receives the metrics registry once it exists (to register service metrics).
  std::function<void(metrics::Metrics&)> on_metrics;
};

// Serves until SIGTERM/SIGINT; returns the process exit code (0 on a clean stop, 1 when the
// server could not start). BlockTerminationSignals() must have been called first.
int RunService(ServiceMainOptions options);

// Value of environment variable `name`, or `fallback` when unset or empty.
std::string EnvOr(const char* name, std::string fallback);

}  // namespace parley::grpcx
