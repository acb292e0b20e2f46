// grpc.health.v1.Health, served by every Parley server.
//
// Unlike gRPC's built-in health service, every status starts NOT_SERVING: a service says SERVING
// only once its dependencies answer (see DependencyWatcher), and goes back to NOT_SERVING when they
// stop answering or when it starts draining.
//
//   HealthService health({"parley.v1.DispatcherService"});
//   builder.RegisterService(&health);
//   health.SetAll(true);               // "" and every named service → SERVING
//   health.Shutdown();                 // NOT_SERVING for good; ends Watch streams
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace parley::grpcx {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // `services`: the fully-qualified names this server reports on, besides "" (the whole server).
  explicit HealthService(const std::vector<std::string>& services);

  // Sets "" and every named service. Ignored after Shutdown().
  void SetAll(bool serving);
  // Sets one service (added when new). Ignored after Shutdown().
  void Set(const std::string& service, bool serving);
  // Everything NOT_SERVING, permanently; open Watch streams end.
  void Shutdown();
  // Current status of `service`; false for unknown names.
  bool IsServing(const std::string& service = "") const;

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;

  mutable absl::Mutex mu_;
  std::map<std::string, Status> status_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every change; Watch waits on it
};

}  // namespace parley::grpcx
