// A gRPC server with what every Parley service needs: grpc.health.v1 (NOT_SERVING until told
// otherwise), server reflection, request logging and metrics, optional TLS, and a graceful
// shutdown that lets in-flight requests finish up to a drain deadline.
//
//   GrpcServer server({.address = "0.0.0.0:50053", .metrics = metrics.get()});
//   server.AddService(&dispatcher_handler, "parley.v1.DispatcherService");
//   PARLEY_RETURN_IF_ERROR(server.Start());
//   server.health().SetAll(true);       // once dependencies answer
//   WaitForTerminationSignal();
//   server.Shutdown();                  // NOT_SERVING at once, then drain, then stop
//
// Authorization is per handler (see auth.h): a handler checks its scope before any side effect.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc/health.h"

namespace parley::metrics {
class Metrics;
}

namespace parley::grpcx {

struct ServerOptions {
  // "host:port"; port 0 picks a free port (see GrpcServer::port()).
  std::string address = "127.0.0.1:0";
  // PEM files; both set → TLS, both empty → plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  // How long Shutdown() lets in-flight RPCs run before cancelling them.
  absl::Duration drain_deadline = absl::Seconds(10);
  // Optional; receives parley_rpc_* metrics for every request.
  metrics::Metrics* metrics = nullptr;
  // Log every request (method, code, latency, peer) at debug level, failures at info level.
  bool log_requests = true;
  // Sync-server threads kept polling for new requests: at least min_pollers (a new thread is
  // started when fewer are free), at most max_pollers (more exit when their request is done).
  int min_pollers = 2;
  int max_pollers = 64;
};

class GrpcServer final {
 public:
  explicit GrpcServer(ServerOptions options);
  ~GrpcServer();

  // Registers a service before Start(); `name` is its full proto name for health reporting.
  void AddService(grpc::Service* service, const std::string& name);
  // Binds and starts serving. UNAVAILABLE when the address cannot be bound; INVALID_ARGUMENT when
  // a TLS file cannot be read.
  absl::Status Start();
  // The bound port (valid after Start()).
  int port() const { return port_; }
  std::string address() const;
  HealthService& health() { return *health_; }
  // NOT_SERVING at once, then waits up to the drain deadline for in-flight RPCs. Idempotent.
  void Shutdown();
  // Blocks until the server has shut down.
  void Wait();

 private:
  ServerOptions options_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace parley::grpcx
