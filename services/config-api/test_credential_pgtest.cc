// ConfigService.TestCredential over gRPC on loopback, against a real Postgres and a local server
// standing in for the provider's API (OpenAI's GET /v1/models, as documented in
// https://platform.openai.com/docs/api-reference/models/list: Bearer authentication, 401 with
// {"error":{"message","type","code":"invalid_api_key"}} for a bad key). A good key and a bad key:
// each probe makes one real request carrying the key, the result is recorded on the credential
// (`last_tested_ok`, `last_tested_time`), and the key appears in no answer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/secret_box.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "common/json/struct_convert.h"
#include "common/llm/testing/fake_openai_server.h"
#include "common/pg/testing/scratch_database.h"
#include "services/config-api/config_handler.h"

namespace parley::config {
namespace {

using llm::testing::FakeOpenAiServer;
using llm::testing::ScriptedResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "admin-token-1";

class TestCredentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = *pg::PgPool::Create({.url = db_.url()});
    store_ = std::make_unique<ConfigStore>(pool_.get());
    ASSERT_TRUE(store_->Migrate().ok());
    box_ = std::make_unique<crypto::SecretBox>(
        *crypto::SecretBox::FromMasterKey(crypto::GenerateMasterKey()));
    prober_ = std::make_unique<HttpCredentialProber>(HttpCredentialProberOptions{
        .base_urls = {{"openai", provider_.base_url()}, {"deepgram", provider_.base_url()}}});
    handler_ = std::make_unique<ConfigHandler>(
        store_.get(), box_.get(), *grpcx::TokenAuth::Parse("admin:admin-token-1:config"), nullptr,
        prober_.get());
    server_ = std::make_unique<grpcx::GrpcServer>(
        grpcx::ServerOptions{.address = "127.0.0.1:0", .log_requests = false});
    server_->AddService(handler_.get(), "parley.v1.ConfigService");
    ASSERT_TRUE(server_->Start().ok());
    channel_ = grpcx::MakeChannel({.address = server_->address()});
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    return grpcx::MakeContext({.address = server_->address(), .token = kToken});
  }
  void CreateCredential(const std::string& name, const std::string& provider,
                        const std::string& secret) {
    parley::v1::CreateResourceRequest req;
    req.mutable_resource()->set_kind(parley::v1::RESOURCE_KIND_CREDENTIAL);
    req.mutable_resource()->set_name(name);
    *req.mutable_resource()->mutable_spec() =
        *json::JsonToStruct({{"provider", provider}, {"secret", secret}});
    parley::v1::Resource out;
    grpc::Status s =
        parley::v1::ConfigService::NewStub(channel_)->CreateResource(Ctx().get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::Status Test(const std::string& name, parley::v1::TestCredentialResponse* out) {
    parley::v1::TestCredentialRequest req;
    req.set_name(name);
    return parley::v1::ConfigService::NewStub(channel_)->TestCredential(Ctx().get(), req, out);
  }
  nlohmann::json Spec(const std::string& name) {
    parley::v1::GetResourceRequest req;
    req.set_kind(parley::v1::RESOURCE_KIND_CREDENTIAL);
    req.set_name(name);
    parley::v1::Resource out;
    EXPECT_TRUE(
        parley::v1::ConfigService::NewStub(channel_)->GetResource(Ctx().get(), req, &out).ok());
    return json::StructToJson(out.spec());
  }

  pg::testing::ScratchDatabase db_;
  FakeOpenAiServer provider_;
  std::unique_ptr<pg::PgPool> pool_;
  std::unique_ptr<ConfigStore> store_;
  std::unique_ptr<crypto::SecretBox> box_;
  std::unique_ptr<HttpCredentialProber> prober_;
  std::unique_ptr<ConfigHandler> handler_;
  std::unique_ptr<grpcx::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(TestCredentialTest, GoodKeyIsAcceptedAndRecorded) {
  const std::string key = "sk-good-0123456789abcdef";
  CreateCredential("openai", "openai", key);
  provider_.Enqueue(ScriptedResponse::Json(
      200, R"({"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]})"));
  parley::v1::TestCredentialResponse response;
  grpc::Status s = Test("openai", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(response.ok());
  EXPECT_THAT(response.message(), HasSubstr("HTTP 200 from 127.0.0.1"));
  EXPECT_GT(response.tested_time().seconds(), 1'700'000'000);

  auto requests = provider_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/v1/models");
  EXPECT_EQ(requests[0].Header("authorization"), "Bearer " + key);

  nlohmann::json spec = Spec("openai");
  EXPECT_EQ(spec["last_tested_ok"], true);
  EXPECT_TRUE(spec["last_tested_time"].is_string());
  EXPECT_THAT(spec.dump(), Not(HasSubstr("0123456789abcdef")));
}

TEST_F(TestCredentialTest, BadKeyIsRejectedRecordedAndNeverEchoed) {
  const std::string key = "sk-bad-fedcba9876543210";
  CreateCredential("openai-bad", "openai", key);
  // Some providers quote the key back in their error; the answer must not.
  provider_.Enqueue(ScriptedResponse::Json(
      401, absl::StrCat(R"({"error":{"message":"Incorrect API key provided: )", key,
                        R"(","type":"invalid_request_error","code":"invalid_api_key"}})")));
  parley::v1::TestCredentialResponse response;
  grpc::Status s = Test("openai-bad", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.ok());
  EXPECT_THAT(response.message(), HasSubstr("HTTP 401"));
  EXPECT_THAT(response.message(), HasSubstr("Incorrect API key provided"));
  EXPECT_THAT(response.message(), Not(HasSubstr("fedcba9876543210")));
  EXPECT_EQ(provider_.requests()[0].Header("authorization"), "Bearer " + key);
  nlohmann::json spec = Spec("openai-bad");
  EXPECT_EQ(spec["last_tested_ok"], false);
  EXPECT_TRUE(spec["last_tested_time"].is_string());

  // A later update without a new secret keeps the test result; a new secret clears it.
  parley::v1::UpdateResourceRequest update;
  update.mutable_resource()->set_kind(parley::v1::RESOURCE_KIND_CREDENTIAL);
  update.mutable_resource()->set_name("openai-bad");
  *update.mutable_resource()->mutable_spec() =
      *json::JsonToStruct({{"provider", "openai"}, {"description", "d"}, {"last_tested_ok", true}});
  parley::v1::Resource out;
  ASSERT_TRUE(
      parley::v1::ConfigService::NewStub(channel_)->UpdateResource(Ctx().get(), update, &out).ok());
  EXPECT_EQ(Spec("openai-bad")["last_tested_ok"], false);
}

TEST_F(TestCredentialTest, DeepgramProbeUsesTokenAuthentication) {
  CreateCredential("deepgram", "deepgram", "dg-key-123456");
  provider_.Enqueue(ScriptedResponse::Json(
      401, R"({"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"r"})"));
  parley::v1::TestCredentialResponse response;
  ASSERT_TRUE(Test("deepgram", &response).ok());
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(provider_.requests()[0].path, "/v1/projects");
  EXPECT_EQ(provider_.requests()[0].Header("authorization"), "Token dg-key-123456");
}

TEST_F(TestCredentialTest, UnreachableProviderRecordsNothing) {
  CreateCredential("openai", "openai", "sk-x-123456");
  prober_ = nullptr;  // rebuilt below pointing at a closed port
  HttpCredentialProber closed({.base_urls = {{"openai", "http://127.0.0.1:1/v1"}}});
  ConfigHandler handler(store_.get(), box_.get(),
                        *grpcx::TokenAuth::Parse("admin:admin-token-1:config"), nullptr, &closed);
  grpcx::GrpcServer server({.address = "127.0.0.1:0", .log_requests = false});
  server.AddService(&handler, "parley.v1.ConfigService");
  ASSERT_TRUE(server.Start().ok());
  auto channel = grpcx::MakeChannel({.address = server.address()});
  parley::v1::TestCredentialRequest req;
  req.set_name("openai");
  parley::v1::TestCredentialResponse response;
  grpc::Status s = parley::v1::ConfigService::NewStub(channel)->TestCredential(
      grpcx::MakeContext({.address = server.address(), .token = kToken}).get(), req, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_FALSE(Spec("openai").contains("last_tested_ok"));
  server.Shutdown();
}

TEST_F(TestCredentialTest, ProviderWithoutProbeIsFailedPrecondition) {
  CreateCredential("trunk-sip", "sip", "sip-password-1");
  parley::v1::TestCredentialResponse response;
  grpc::Status s = Test("trunk-sip", &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("no probe for provider \"sip\""));
  EXPECT_TRUE(provider_.requests().empty());
}

}  // namespace
}  // namespace parley::config
