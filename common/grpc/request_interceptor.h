// Server interceptor that records every RPC's method, status code and latency in the request
// metrics, and logs it (failures at info level, successes at debug level).
#pragma once

#include <grpcpp/support/server_interceptor.h>

namespace parley::metrics {
class Metrics;
}

namespace parley::grpcx {

class RequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RequestInterceptorFactory(metrics::Metrics* metrics, bool log_requests)
      : metrics_(metrics), log_requests_(log_requests) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  metrics::Metrics* metrics_;
  bool log_requests_;
};

// "OK", "INVALID_ARGUMENT", … for a gRPC status code.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace parley::grpcx
