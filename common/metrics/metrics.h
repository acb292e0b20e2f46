// Prometheus metrics for a Parley process: one registry, served over HTTP at /metrics.
//
//   auto metrics = parley::metrics::Metrics::Serve("0.0.0.0:9101");   // or Metrics::Local() in
//   tests auto& calls = metrics->Counter("parley_calls_created_total", "Calls accepted", {{"agent",
//   a}}); calls.Increment(); metrics->rpc().Observe("/parley.v1.DispatcherService/CreateCall",
//   "OK", 0.0012);
//
// Families are created on first use and cached by name, so call sites need no registration step.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Exposer;
}

namespace parley::metrics {

using Labels = std::map<std::string, std::string>;

// Request counter and latency histogram for gRPC methods; the server interceptor feeds it.
class RpcMetrics final {
 public:
  explicit RpcMetrics(prometheus::Registry& registry);
  // Records one finished RPC: `method` is the full gRPC path, `code` a status code name.
  void Observe(std::string_view method, std::string_view code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

class Metrics final {
 public:
  // A registry served over HTTP on `address` ("host:port"). Fails with UNAVAILABLE when the port
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Metrics>> Serve(const std::string& address);
  // A registry with no HTTP endpoint (tests, tools).
  static std::unique_ptr<Metrics> Local();
  ~Metrics();

  prometheus::Counter& Counter(const std::string& name, const std::string& help,
                               const Labels& labels = {});
  prometheus::Gauge& Gauge(const std::string& name, const std::string& help,
                           const Labels& labels = {});
  // Latency-style histogram; `buckets` default to 0.5 ms … 10 s.
  prometheus::Histogram& Histogram(const std::string& name, const std::string& help,
                                   const Labels& labels = {}, std::vector<double> buckets = {});

  RpcMetrics& rpc() { return rpc_; }
  prometheus::Registry& registry() { return *registry_; }
  // The text exposition format of everything registered (what /metrics serves).
  std::string Scrape() const;
  // The bound HTTP port, or 0 for a local registry.
  int port() const;

 private:
  Metrics(std::shared_ptr<prometheus::Registry> registry,
          std::unique_ptr<prometheus::Exposer> exposer);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  RpcMetrics rpc_;
  absl::Mutex mu_;
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms_
      ABSL_GUARDED_BY(mu_);
};

// Default latency buckets in seconds: 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

}  // namespace parley::metrics
