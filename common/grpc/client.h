// Client helpers: every outgoing call carries a deadline and, when configured, a bearer token.
//
//   ClientOptions opts{.address = "127.0.0.1:50051", .token = env_token};
//   auto channel = MakeChannel(opts);
//   auto stub = parley::v1::ConfigService::NewStub(channel);
//   auto ctx = MakeContext(opts);                  // deadline = opts.deadline from now
//   grpc::Status s = stub->GetResource(ctx.get(), request, &response);
//
// Service client classes (one per service) wrap a stub with these so no call goes out without a
// deadline.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace parley::grpcx {

struct ClientOptions {
  std::string address;
  // Sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  // Default deadline of each call.
  absl::Duration deadline = absl::Seconds(5);
  // PEM CA bundle; set → TLS.
  std::string tls_ca_file;
};

// A channel to options.address (TLS when tls_ca_file is set). Never fails: connection errors
// surface as UNAVAILABLE on the first call.
std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options);

// A context with the token and a deadline (options.deadline unless `deadline` is given).
std::unique_ptr<grpc::ClientContext> MakeContext(const ClientOptions& options,
                                                 std::optional<absl::Duration> deadline = {});

enum class HealthStatus { kUnknown, kServing, kNotServing, kServiceUnknown };

// grpc.health.v1 Check of `service` ("" = whole server). UNAVAILABLE when the server cannot be
// reached within `deadline`; NOT_FOUND for a service the server does not know.
absl::StatusOr<HealthStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& service = "",
                                         absl::Duration deadline = absl::Seconds(2));

}  // namespace parley::grpcx

namespace parley::grpcx {

// OK when the server behind `channel` reports SERVING for `service`; UNAVAILABLE otherwise (also
// when it cannot be reached). A DependencyProbe for services that depend on other services.
absl::Status ProbeServing(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& service = "",
                          absl::Duration deadline = absl::Seconds(1));

}  // namespace parley::grpcx
