// parley.v1.WorkerAdmin: a worker's status and drain control (DESIGN.md, "Redis layout" — worker
// registry). The job loop, leases and call sessions arrive with the worker issue.
//
// The handler takes its dependencies in the constructor; main.cc wires it. RPCs not overridden here
// answer UNIMPLEMENTED.
#pragma once

#include "common/grpc/auth.h"
#include "parley/v1/worker.grpc.pb.h"

namespace parley::worker {

class WorkerAdminHandler final : public parley::v1::WorkerAdmin::Service {
 public:
  explicit WorkerAdminHandler(grpcx::TokenAuth auth) : auth_(std::move(auth)) {}

 private:
  [[maybe_unused]] grpcx::TokenAuth auth_;
};

}  // namespace parley::worker
