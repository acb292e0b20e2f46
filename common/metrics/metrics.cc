#include "common/metrics/metrics.h"

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace parley::metrics {

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("parley_rpc_requests_total")
                    .Help("gRPC requests handled, by method and status code")
                    .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("parley_rpc_duration_seconds")
                   .Help("gRPC request latency, by method")
                   .Register(registry)) {}

void RpcMetrics::Observe(std::string_view method, std::string_view code, double seconds) {
  requests_.Add({{"method", std::string(method)}, {"code", std::string(code)}}).Increment();
  latency_.Add({{"method", std::string(method)}}, LatencyBuckets()).Observe(seconds);
}

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry,
                 std::unique_ptr<prometheus::Exposer> exposer)
    : registry_(std::move(registry)), exposer_(std::move(exposer)), rpc_(*registry_) {
  if (exposer_) exposer_->RegisterCollectable(registry_);
}

Metrics::~Metrics() = default;

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Serve(const std::string& address) {
  auto registry = std::make_shared<prometheus::Registry>();
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
    return std::unique_ptr<Metrics>(new Metrics(std::move(registry), std::move(exposer)));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot serve on ", address, ": ", e.what()));
  }
}

std::unique_ptr<Metrics> Metrics::Local() {
  return std::unique_ptr<Metrics>(new Metrics(std::make_shared<prometheus::Registry>(), nullptr));
}

prometheus::Counter& Metrics::Counter(const std::string& name, const std::string& help,
                                      const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& family = counters_[name];
  if (!family) family = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  return family->Add(labels);
}

prometheus::Gauge& Metrics::Gauge(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& family = gauges_[name];
  if (!family) family = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  return family->Add(labels);
}

prometheus::Histogram& Metrics::Histogram(const std::string& name, const std::string& help,
                                          const Labels& labels, std::vector<double> buckets) {
  absl::MutexLock lock(&mu_);
  auto& family = histograms_[name];
  if (!family) family = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  return family->Add(labels, buckets.empty() ? LatencyBuckets() : std::move(buckets));
}

std::string Metrics::Scrape() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

int Metrics::port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace parley::metrics
