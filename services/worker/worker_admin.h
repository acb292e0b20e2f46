// parley.v1.WorkerAdmin: a worker's status and drain control (worker.proto). Scope `service`.
//
// Drain starts the worker's drain (worker.h) and then calls `on_drain` — main() passes
// grpcx::RaiseTermination, so the process takes the same path as on SIGTERM: health NOT_SERVING
// at once, live calls finished (service_main's before_stop waits for them), exit 0.
//
//   WorkerAdminHandler admin(auth, [] { grpcx::RaiseTermination(); });
//   options.services = {{&admin, "parley.v1.WorkerAdmin"}};
//   admin.Attach(&worker);     // before the server starts; until then RPCs answer UNAVAILABLE
#pragma once

#include <functional>

#include "absl/synchronization/mutex.h"
#include "common/grpc/auth.h"
#include "parley/v1/worker.grpc.pb.h"
#include "services/worker/worker.h"

namespace parley::worker {

class WorkerAdminHandler final : public parley::v1::WorkerAdmin::Service {
 public:
  explicit WorkerAdminHandler(grpcx::TokenAuth auth, std::function<void()> on_drain = {})
      : auth_(std::move(auth)), on_drain_(std::move(on_drain)) {}

  // The worker the RPCs act on (it outlives the server).
  void Attach(Worker* worker) {
    absl::MutexLock lock(&mu_);
    worker_ = worker;
  }

  grpc::Status Status(grpc::ServerContext* context, const parley::v1::WorkerStatusRequest* request,
                      parley::v1::WorkerInfo* response) override;
  // UNAVAILABLE before Attach; INVALID_ARGUMENT for a negative deadline.
  grpc::Status Drain(grpc::ServerContext* context, const parley::v1::DrainRequest* request,
                     parley::v1::WorkerInfo* response) override;

 private:
  Worker* worker() const {
    absl::MutexLock lock(&mu_);
    return worker_;
  }

  mutable absl::Mutex mu_;
  Worker* worker_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpcx::TokenAuth auth_;
  std::function<void()> on_drain_;
};

}  // namespace parley::worker
