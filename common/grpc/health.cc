#include "common/grpc/health.h"

#include "absl/time/time.h"

namespace parley::grpcx {

using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService(const std::vector<std::string>& services) {
  absl::MutexLock lock(&mu_);
  status_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& s : services) status_[s] = HealthCheckResponse::NOT_SERVING;
}

void HealthService::SetAll(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, status] : status_) {
    status = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  ++generation_;
}

void HealthService::Set(const std::string& service, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  status_[service] = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  ++generation_;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, status] : status_) status = HealthCheckResponse::NOT_SERVING;
  shut_down_ = true;
  ++generation_;
}

bool HealthService::IsServing(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  auto it = status_.find(service);
  return it != status_.end() && it->second == HealthCheckResponse::SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext*,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  absl::MutexLock lock(&mu_);
  auto it = status_.find(request->service());
  if (it == status_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  response->set_status(it->second);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  uint64_t seen = 0;
  bool first = true;
  while (!context->IsCancelled()) {
    HealthCheckResponse response;
    bool done;
    {
      absl::MutexLock lock(&mu_);
      if (!first) {
        // Wake at least every 200 ms to notice a cancelled client.
        auto changed = [this, seen]()
                           ABSL_SHARED_LOCKS_REQUIRED(mu_) { return generation_ != seen; };
        mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(200));
        if (generation_ == seen) continue;
      }
      first = false;
      seen = generation_;
      auto it = status_.find(request->service());
      response.set_status(it == status_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second);
      done = shut_down_;
    }
    if (!writer->Write(response)) break;
    if (done) break;
  }
  return grpc::Status::OK;
}

}  // namespace parley::grpcx
