#include "common/grpc/service_main.h"

#include <signal.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/grpc/server.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"

namespace parley::grpcx {

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

int RunService(ServiceMainOptions options) {
  std::unique_ptr<metrics::Metrics> metrics;
  if (!options.metrics_listen.empty()) {
    auto served = metrics::Metrics::Serve(options.metrics_listen);
    if (!served.ok()) {
      log::Error("cannot serve metrics", {{"error", served.status().ToString()}});
      return 1;
    }
    metrics = std::move(*served);
  } else {
    metrics = metrics::Metrics::Local();
  }
  if (options.on_metrics) options.on_metrics(*metrics);

  GrpcServer server({.address = options.listen,
                     .tls_cert_file = options.tls_cert_file,
                     .tls_key_file = options.tls_key_file,
                     .drain_deadline = options.drain_deadline,
                     .metrics = metrics.get()});
  for (const auto& [service, name] : options.services) server.AddService(service, name);
  if (absl::Status started = server.Start(); !started.ok()) {
    log::Error("cannot start", {{"error", started.ToString()}});
    return 1;
  }
  auto& ready = metrics->Gauge("parley_ready", "1 while every dependency answers");
  {
    DependencyWatcher watcher(
        options.probes,
        [&](bool ok) {
          server.health().SetAll(ok);
          ready.Set(ok ? 1 : 0);
        },
        options.probe_interval);
    log::Info("started", {{"service", options.name},
                          {"address", server.address()},
                          {"metrics_port", absl::StrCat(metrics->port())}});
    int signal = WaitForTerminationSignal();
    log::Info("stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    // NOT_SERVING before anything else, so load balancers stop sending work at once; the watcher
    // can no longer flip it back (SetAll is ignored after Shutdown).
    server.health().Shutdown();
  }
  if (options.before_stop) options.before_stop();
  server.Shutdown();
  server.Wait();
  log::Info("stopped");
  return 0;
}

}  // namespace parley::grpcx
