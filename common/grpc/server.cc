#include "common/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>

#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc/request_interceptor.h"
#include "common/log/log.h"

namespace parley::grpcx {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

GrpcServer::GrpcServer(ServerOptions options) : options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::AddService(grpc::Service* service, const std::string& name) {
  services_.emplace_back(service, name);
}

absl::Status GrpcServer::Start() {
  std::vector<std::string> names;
  for (const auto& [service, name] : services_) names.push_back(name);
  health_ = std::make_unique<HealthService>(names);

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    auto cert = ReadFile(options_.tls_cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(options_.tls_key_file);
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        grpc::SslServerCredentialsOptions::PemKeyCertPair{*key, *cert});
    credentials = grpc::SslServerCredentials(ssl);
  }

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC enables SO_REUSEPORT by default; a second process on the same port must fail instead of
  // silently sharing its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Sync-server threads notice a shutdown only when their completion-queue wait times out (10 s by
  // default), which would hold SIGTERM for that long while clients stay connected.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
  // A sync-server thread that finishes a request goes back to polling only while fewer than
  // MAX_POLLERS threads poll, else it exits; one is created whenever fewer than MIN_POLLERS are
  // left. gRPC's defaults (1 and 2) make a server with more than two requests in flight create and
  // destroy a thread for almost every request (~1,800 threads/s in bench/dispatch_bench: clone,
  // stack mmap, TLS set-up, arena teardown), so idle threads stay for up to max_pollers requests
  // in flight.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              options_.min_pollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              options_.max_pollers);
  builder.AddListeningPort(options_.address, credentials, &port_);
  builder.RegisterService(health_.get());
  for (const auto& [service, name] : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(
      std::make_unique<RequestInterceptorFactory>(options_.metrics, options_.log_requests));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("grpc: cannot listen on ", options_.address));
  }
  log::Info("listening",
            {{"address", address()}, {"tls", options_.tls_cert_file.empty() ? "off" : "on"}});
  return absl::OkStatus();
}

std::string GrpcServer::address() const {
  std::vector<std::string> parts = absl::StrSplit(options_.address, absl::MaxSplits(':', 1));
  std::string host = parts.size() == 2 ? parts[0] : "127.0.0.1";
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  return absl::StrCat(host, ":", port_);
}

void GrpcServer::Shutdown() {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  health_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_deadline));
}

void GrpcServer::Wait() {
  if (server_) server_->Wait();
}

}  // namespace parley::grpcx
