// parleyctl worker status / worker drain: one worker's WorkerAdmin service (worker.proto), by
// address. `worker drain ADDRESS --deadline D` is what deploy/k8s/base/worker.yaml's preStop hook
// runs: the worker stops taking jobs at once, finishes its live calls (hanging up the rest at the
// deadline) and exits. The hook leaves out --wait: it runs inside the container, whose PID 1 is the
// worker, so the kernel would kill it when the worker exits. --wait is for a shell outside: it
// returns once the worker's server is gone.
#include <chrono>
#include <ostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/parleyctl/cli.h"
#include "common/grpc/client.h"
#include "common/grpc/service_main.h"
#include "common/status/status.h"
#include "google/protobuf/util/time_util.h"
#include "parley/v1/worker.grpc.pb.h"

namespace parley::cli {
namespace {

// The worker's address and the caller's token (--token / PARLEY_TOKEN; the `service` scope).
absl::StatusOr<grpcx::ClientOptions> WorkerOptions(Context& ctx, const char* command) {
  std::string address = ctx.args().Positional(2);
  if (address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("worker ", command, ": ADDRESS is required"));
  }
  return grpcx::ClientOptions{.address = address,
                              .token = ctx.args().Flag("token", grpcx::EnvOr("PARLEY_TOKEN", ""))};
}

void PrintInfo(Context& ctx, const parley::v1::WorkerInfo& info) {
  ctx.Print(info, [&] {
    ctx.out() << info.worker_id() << ": " << info.active_calls() << "/" << info.capacity()
              << " calls" << (info.draining() ? ", draining" : "") << "\n";
  });
}

absl::Status WorkerStatus(Context& ctx) {
  PARLEY_ASSIGN_OR_RETURN(grpcx::ClientOptions options, WorkerOptions(ctx, "status"));
  auto stub = parley::v1::WorkerAdmin::NewStub(grpcx::MakeChannel(options));
  parley::v1::WorkerInfo info;
  grpc::Status s = stub->Status(grpcx::MakeContext(options, absl::Seconds(5)).get(),
                                parley::v1::WorkerStatusRequest(), &info);
  if (!s.ok()) return RpcError(s);
  PrintInfo(ctx, info);
  return absl::OkStatus();
}

absl::Status WorkerDrain(Context& ctx) {
  PARLEY_ASSIGN_OR_RETURN(grpcx::ClientOptions options, WorkerOptions(ctx, "drain"));
  parley::v1::DrainRequest req;
  if (std::string value = ctx.args().Flag("deadline"); !value.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("worker drain: bad --deadline \"", value, "\" (e.g. 270s, 5m)"));
    }
    *req.mutable_deadline() =
        google::protobuf::util::TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
  }
  auto stub = parley::v1::WorkerAdmin::NewStub(grpcx::MakeChannel(options));
  parley::v1::WorkerInfo info;
  grpc::Status s = stub->Drain(grpcx::MakeContext(options, absl::Seconds(5)).get(), req, &info);
  if (!s.ok()) return RpcError(s);
  PrintInfo(ctx, info);
  if (!ctx.args().Bool("wait")) return absl::OkStatus();
  // The worker answers Status while it drains and stops serving once its last call ended.
  while (true) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    s = stub->Status(grpcx::MakeContext(options, absl::Seconds(2)).get(),
                     parley::v1::WorkerStatusRequest(), &info);
    if (!s.ok()) break;
  }
  ctx.out() << options.address << " drained\n";
  return absl::OkStatus();
}

Registrar registrar({
    {{"worker", "status"},
     "worker status ADDRESS",
     "one worker's live calls and whether it drains (WorkerAdmin)",
     WorkerStatus},
    {{"worker", "drain"},
     "worker drain ADDRESS [--deadline DURATION] [--wait]",
     "stop a worker taking calls; --wait returns once its live calls ended and it exited",
     WorkerDrain},
});

}  // namespace
}  // namespace parley::cli
