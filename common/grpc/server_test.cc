// GrpcServer end to end on loopback: health, reflection, token auth with scopes, request metrics.
#include "common/grpc/server.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/grpc/auth.h"
#include "common/grpc/client.h"
#include "common/metrics/metrics.h"
#include "common/status/status.h"
#include "echo.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "reflection.pb.h"

namespace parley::grpcx {
namespace {

// A handler as services write them: authorize first, then act.
class EchoHandler final : public parley::test::Echo::Service {
 public:
  explicit EchoHandler(TokenAuth auth) : auth_(std::move(auth)) {}
  grpc::Status Say(grpc::ServerContext* context, const parley::test::EchoRequest* request,
                   parley::test::EchoReply* reply) override {
    auto who = auth_.Authorize(*context, kScopeConfig);
    if (!who.ok()) return ToGrpcStatus(who.status());
    reply->set_text(request->text());
    reply->set_principal(who->name);
    return grpc::Status::OK;
  }

 private:
  TokenAuth auth_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_ = metrics::Metrics::Local();
    handler_ = std::make_unique<EchoHandler>(
        *TokenAuth::Parse("ops:ops-token-1:config,crm:crm-token-1:calls"));
    server_ = std::make_unique<GrpcServer>(
        ServerOptions{.address = "127.0.0.1:0", .metrics = metrics_.get()});
    server_->AddService(handler_.get(), "parley.test.Echo");
    ASSERT_TRUE(server_->Start().ok());
    channel_ = MakeChannel({.address = server_->address()});
  }

  grpc::Status Say(const std::string& token, parley::test::EchoReply* reply) {
    auto stub = parley::test::Echo::NewStub(channel_);
    auto ctx = MakeContext({.address = server_->address(), .token = token});
    parley::test::EchoRequest request;
    request.set_text("hi");
    return stub->Say(ctx.get(), request, reply);
  }

  std::unique_ptr<metrics::Metrics> metrics_;
  std::unique_ptr<EchoHandler> handler_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerTest, HealthIsNotServingUntilToldAndPerService) {
  EXPECT_EQ(*CheckHealth(channel_), HealthStatus::kNotServing);
  EXPECT_EQ(*CheckHealth(channel_, "parley.test.Echo"), HealthStatus::kNotServing);
  server_->health().SetAll(true);
  EXPECT_EQ(*CheckHealth(channel_), HealthStatus::kServing);
  EXPECT_EQ(*CheckHealth(channel_, "parley.test.Echo"), HealthStatus::kServing);
  server_->health().SetAll(false);
  EXPECT_EQ(*CheckHealth(channel_), HealthStatus::kNotServing);
  EXPECT_EQ(CheckHealth(channel_, "no.such.Service").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServerTest, HealthWatchStreamsChangesAndEndsOnShutdown) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  auto reader = stub->Watch(&ctx, request);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  server_->health().SetAll(true);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::thread stopper([this] { server_->Shutdown(); });
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&response));
  stopper.join();
}

TEST_F(ServerTest, TokenWithScopeIsAccepted) {
  parley::test::EchoReply reply;
  grpc::Status status = Say("ops-token-1", &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "hi");
  EXPECT_EQ(reply.principal(), "ops");
}

TEST_F(ServerTest, MissingOrUnknownTokenIsUnauthenticated) {
  parley::test::EchoReply reply;
  EXPECT_EQ(Say("", &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Say("not-a-real-token", &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ServerTest, TokenWithoutScopeIsPermissionDenied) {
  parley::test::EchoReply reply;
  grpc::Status status = Say("crm-token-1", &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(reply.text().empty());
}

TEST_F(ServerTest, RequestsAreCountedByMethodAndCode) {
  parley::test::EchoReply reply;
  ASSERT_TRUE(Say("ops-token-1", &reply).ok());
  Say("", &reply);
  Say("", &reply);
  std::string text = metrics_->Scrape();
  EXPECT_NE(text.find(R"(parley_rpc_requests_total{code="OK",method="/parley.test.Echo/Say"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(parley_rpc_requests_total{code="UNAUTHENTICATED",method="/parley.test.Echo/Say"} 2)"),
      std::string::npos)
      << text;
}

TEST_F(ServerTest, ReflectionListsServices) {
  using Request = parleytest::reflection::ServerReflectionRequest;
  using Response = parleytest::reflection::ServerReflectionResponse;
  grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream(
      grpc::internal::ClientReaderWriterFactory<Request, Response>::Create(channel_.get(), method,
                                                                           &ctx));
  Request request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  Response response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.push_back(s.name());
  EXPECT_NE(std::find(names.begin(), names.end(), "parley.test.Echo"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ServerStartTest, AddressInUseIsUnavailable) {
  GrpcServer first({.address = "127.0.0.1:0"});
  ASSERT_TRUE(first.Start().ok());
  GrpcServer second({.address = first.address()});
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(ServerStartTest, UnreachableServerHealthIsUnavailable) {
  auto channel = MakeChannel({.address = "127.0.0.1:1"});
  EXPECT_EQ(CheckHealth(channel, "", absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::grpcx
