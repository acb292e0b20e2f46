#include "services/worker/worker_admin.h"

#include "common/status/status.h"

namespace parley::worker {

grpc::Status WorkerAdminHandler::Status(grpc::ServerContext* context,
                                        const parley::v1::WorkerStatusRequest* request,
                                        parley::v1::WorkerInfo* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeService);
  Worker* w = worker();
  if (w == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker starting");
  *response = w->Info();
  return grpc::Status::OK;
}

grpc::Status WorkerAdminHandler::Drain(grpc::ServerContext* context,
                                       const parley::v1::DrainRequest* request,
                                       parley::v1::WorkerInfo* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeService);
  Worker* w = worker();
  if (w == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker starting");
  std::optional<absl::Duration> deadline;
  if (request->has_deadline()) {
    deadline = absl::Seconds(request->deadline().seconds()) +
               absl::Nanoseconds(request->deadline().nanos());
    if (*deadline < absl::ZeroDuration()) {
      return ToGrpcStatus(InvalidField("deadline", "must not be negative"));
    }
  }
  w->Drain(deadline);
  *response = w->Info();
  if (on_drain_) on_drain_();
  return grpc::Status::OK;
}

}  // namespace parley::worker
