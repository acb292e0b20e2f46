// ConfigService over gRPC on loopback, against a real Postgres (a scratch database per binary).
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "common/crypto/secret_box.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "common/json/struct_convert.h"
#include "common/pg/testing/scratch_database.h"
#include "services/config-api/config_handler.h"

namespace parley::config {
namespace {

using parley::v1::Resource;
using parley::v1::ResourceKind;

constexpr char kAdminToken[] = "admin-token-1";
constexpr char kServiceToken[] = "svc-token-1";
constexpr char kCallsToken[] = "crm-token-1";

class ConfigServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new pg::testing::ScratchDatabase();
    pool_ = pg::PgPool::Create({.url = db_->url()})->release();
    store_ = new ConfigStore(pool_);
    ASSERT_TRUE(store_->Migrate().ok());
    box_ = new crypto::SecretBox(*crypto::SecretBox::FromMasterKey(crypto::GenerateMasterKey()));
    handler_ = new ConfigHandler(
        store_, box_,
        *grpcx::TokenAuth::Parse("admin:admin-token-1:config,worker:svc-token-1:service,"
                                 "crm:crm-token-1:calls"));
    server_ = new grpcx::GrpcServer({.address = "127.0.0.1:0", .log_requests = false});
    server_->AddService(handler_, "parley.v1.ConfigService");
    ASSERT_TRUE(server_->Start().ok());
    channel_ =
        new std::shared_ptr<grpc::Channel>(grpcx::MakeChannel({.address = server_->address()}));
  }
  static void TearDownTestSuite() {
    server_->Shutdown();
    delete server_;
    delete handler_;
    delete box_;
    delete store_;
    delete pool_;
    delete db_;
    delete channel_;
  }

  std::unique_ptr<parley::v1::ConfigService::Stub> Stub() {
    return parley::v1::ConfigService::NewStub(*channel_);
  }
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = kAdminToken) {
    return grpcx::MakeContext({.address = server_->address(), .token = token});
  }

  static Resource Make(ResourceKind kind, const std::string& name, const std::string& spec_json) {
    Resource r;
    r.set_kind(kind);
    r.set_name(name);
    *r.mutable_spec() = *json::JsonToStruct(nlohmann::json::parse(spec_json));
    return r;
  }

  grpc::Status Create(const Resource& r, Resource* out = nullptr,
                      const std::string& token = kAdminToken) {
    parley::v1::CreateResourceRequest req;
    *req.mutable_resource() = r;
    Resource ignored;
    return Stub()->CreateResource(Ctx(token).get(), req, out ? out : &ignored);
  }
  grpc::Status Update(const Resource& r, Resource* out = nullptr, bool allow_missing = false) {
    parley::v1::UpdateResourceRequest req;
    *req.mutable_resource() = r;
    req.set_allow_missing(allow_missing);
    Resource ignored;
    return Stub()->UpdateResource(Ctx().get(), req, out ? out : &ignored);
  }
  grpc::Status Get(ResourceKind kind, const std::string& name, Resource* out,
                   std::optional<int> version = {}) {
    parley::v1::GetResourceRequest req;
    req.set_kind(kind);
    req.set_name(name);
    if (version) req.set_version(*version);
    return Stub()->GetResource(Ctx().get(), req, out);
  }
  grpc::Status Delete(ResourceKind kind, const std::string& name, const std::string& etag = "") {
    parley::v1::DeleteResourceRequest req;
    req.set_kind(kind);
    req.set_name(name);
    req.set_etag(etag);
    google::protobuf::Empty empty;
    return Stub()->DeleteResource(Ctx().get(), req, &empty);
  }
  grpc::Status Resolve(const std::string& agent, const std::string& campaign,
                       parley::v1::RuntimeConfig* out, const std::string& overrides = "{}",
                       const std::string& token = kServiceToken) {
    parley::v1::GetRuntimeConfigRequest req;
    req.set_agent(agent);
    req.set_campaign(campaign);
    *req.mutable_call_overrides() = *json::JsonToStruct(nlohmann::json::parse(overrides));
    return Stub()->GetRuntimeConfig(Ctx(token).get(), req, out);
  }

  // A minimal complete agent named `prefix`-agent with its template, graph and trunk.
  void MakeAgent(const std::string& prefix,
                 const std::string& template_spec = R"({"llm": {"provider": "scripted"}})") {
    ASSERT_TRUE(
        Create(Make(parley::v1::RESOURCE_KIND_TEMPLATE, prefix + "-tmpl", template_spec)).ok());
    ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_GRAPH, prefix + "-graph", R"({
      "start_node": "greet", "terminal_nodes": ["bye"],
      "nodes": [{"name": "greet", "say": ["Hello"], "transitions": [{"to": "bye"}]},
                {"name": "bye", "say": ["Goodbye"]}]})"))
                    .ok());
    ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_TRUNK, prefix + "-trunk",
                            R"({"kind": "grpc", "grpc": {"address": "127.0.0.1:50060"}})"))
                    .ok());
    grpc::Status s = Create(Make(parley::v1::RESOURCE_KIND_AGENT, prefix + "-agent",
                                 R"({"template": ")" + prefix + R"(-tmpl", "graph": ")" + prefix +
                                     R"(-graph", "trunk": ")" + prefix + R"(-trunk"})"));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static pg::testing::ScratchDatabase* db_;
  static pg::PgPool* pool_;
  static ConfigStore* store_;
  static crypto::SecretBox* box_;
  static ConfigHandler* handler_;
  static grpcx::GrpcServer* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

pg::testing::ScratchDatabase* ConfigServiceTest::db_;
pg::PgPool* ConfigServiceTest::pool_;
ConfigStore* ConfigServiceTest::store_;
crypto::SecretBox* ConfigServiceTest::box_;
ConfigHandler* ConfigServiceTest::handler_;
grpcx::GrpcServer* ConfigServiceTest::server_;
std::shared_ptr<grpc::Channel>* ConfigServiceTest::channel_;

TEST_F(ConfigServiceTest, CreateGetUpdateDeleteTemplate) {
  Resource created;
  Resource r =
      Make(parley::v1::RESOURCE_KIND_TEMPLATE, "crud-tmpl", R"({"llm": {"temperature": 0.5}})");
  (*r.mutable_labels())["team"] = "billing";
  ASSERT_TRUE(Create(r, &created).ok());
  EXPECT_EQ(created.version(), 1);
  EXPECT_FALSE(created.etag().empty());
  EXPECT_GT(created.create_time().seconds(), 0);
  EXPECT_EQ(created.labels().at("team"), "billing");

  Resource got;
  ASSERT_TRUE(Get(parley::v1::RESOURCE_KIND_TEMPLATE, "crud-tmpl", &got).ok());
  EXPECT_EQ(got.etag(), created.etag());
  EXPECT_EQ(json::StructToJson(got.spec())["llm"]["temperature"], 0.5);

  Resource changed =
      Make(parley::v1::RESOURCE_KIND_TEMPLATE, "crud-tmpl", R"({"llm": {"temperature": 1.5}})");
  changed.set_etag(created.etag());
  Resource updated;
  ASSERT_TRUE(Update(changed, &updated).ok());
  EXPECT_EQ(updated.version(), 2);
  EXPECT_NE(updated.etag(), created.etag());
  EXPECT_EQ(json::StructToJson(updated.spec())["llm"]["temperature"], 1.5);

  EXPECT_EQ(Create(r).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(Delete(parley::v1::RESOURCE_KIND_TEMPLATE, "crud-tmpl", updated.etag()).ok());
  EXPECT_EQ(Get(parley::v1::RESOURCE_KIND_TEMPLATE, "crud-tmpl", &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete(parley::v1::RESOURCE_KIND_TEMPLATE, "crud-tmpl").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConfigServiceTest, StaleEtagIsAborted) {
  Resource first;
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_TEMPLATE, "etag-tmpl", "{}"), &first).ok());
  Resource second;
  Resource edit = Make(parley::v1::RESOURCE_KIND_TEMPLATE, "etag-tmpl", R"({"greeting": "Hi"})");
  edit.set_etag(first.etag());
  ASSERT_TRUE(Update(edit, &second).ok());
  // A writer still holding the first etag loses, on update and on delete.
  Resource stale = Make(parley::v1::RESOURCE_KIND_TEMPLATE, "etag-tmpl", R"({"greeting": "Yo"})");
  stale.set_etag(first.etag());
  EXPECT_EQ(Update(stale).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Delete(parley::v1::RESOURCE_KIND_TEMPLATE, "etag-tmpl", first.etag()).error_code(),
            grpc::StatusCode::ABORTED);
  Resource got;
  ASSERT_TRUE(Get(parley::v1::RESOURCE_KIND_TEMPLATE, "etag-tmpl", &got).ok());
  EXPECT_EQ(json::StructToJson(got.spec())["greeting"], "Hi");
}

TEST_F(ConfigServiceTest, UpdateMissingIsNotFoundUnlessAllowMissing) {
  Resource r = Make(parley::v1::RESOURCE_KIND_TEMPLATE, "apply-tmpl", "{}");
  EXPECT_EQ(Update(r).error_code(), grpc::StatusCode::NOT_FOUND);
  Resource created;
  ASSERT_TRUE(Update(r, &created, /*allow_missing=*/true).ok());
  EXPECT_EQ(created.version(), 1);
}

TEST_F(ConfigServiceTest, InvalidSpecNamesTheField) {
  grpc::Status s = Create(
      Make(parley::v1::RESOURCE_KIND_TEMPLATE, "bad-tmpl", R"({"llm": {"temperature": 3}})"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "template.llm.temperature:"))
      << s.error_message();

  s = Create(Make(parley::v1::RESOURCE_KIND_TEMPLATE, "Bad_Name", "{}"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "name:")) << s.error_message();

  Resource no_kind = Make(parley::v1::RESOURCE_KIND_UNSPECIFIED, "x", "{}");
  s = Create(no_kind);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "resource.kind:")) << s.error_message();
}

TEST_F(ConfigServiceTest, DanglingReferenceIsRejectedAndReferencedResourceIsProtected) {
  grpc::Status s = Create(Make(parley::v1::RESOURCE_KIND_AGENT, "dangling-agent",
                               R"({"template": "nope", "graph": "nope-graph"})"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "agent.template: template \"nope\" does not exist");

  MakeAgent("refs");
  s = Delete(parley::v1::RESOURCE_KIND_TEMPLATE, "refs-tmpl");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "agent/refs-agent references template/refs-tmpl (agent.template)");
  // Once the referrer is gone the delete goes through.
  ASSERT_TRUE(Delete(parley::v1::RESOURCE_KIND_AGENT, "refs-agent").ok());
  EXPECT_TRUE(Delete(parley::v1::RESOURCE_KIND_TEMPLATE, "refs-tmpl").ok());
}

// An inbound route's number answers to one route only; the route itself can be written again.
TEST_F(ConfigServiceTest, InboundRouteNumberIsUnique) {
  MakeAgent("inbound");
  const std::string spec = R"({"number": "+14155550111", "agent": "inbound-agent"})";
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_INBOUND_ROUTE, "main-line", spec)).ok());
  grpc::Status s = Create(Make(parley::v1::RESOURCE_KIND_INBOUND_ROUTE, "second-line", spec));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "inbound_route.number: +14155550111 is routed by "
            "inbound_route/main-line");
  s = Create(Make(parley::v1::RESOURCE_KIND_INBOUND_ROUTE, "bad-line",
                  R"({"number": "4155550111", "agent": "inbound-agent"})"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "inbound_route.number:")) << s.error_message();
  s = Update(Make(parley::v1::RESOURCE_KIND_INBOUND_ROUTE, "main-line", spec));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ConfigServiceTest, PromptsAreVersioned) {
  Resource v1, v2;
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_PROMPT, "greet-prompt",
                          R"({"text": "Hello {name}", "variables": ["name"]})"),
                     &v1)
                  .ok());
  ASSERT_TRUE(Update(Make(parley::v1::RESOURCE_KIND_PROMPT, "greet-prompt",
                          R"({"text": "Hi {name}!", "variables": ["name"]})"),
                     &v2)
                  .ok());
  EXPECT_EQ(v2.version(), 2);
  Resource old;
  ASSERT_TRUE(Get(parley::v1::RESOURCE_KIND_PROMPT, "greet-prompt", &old, 1).ok());
  EXPECT_EQ(json::StructToJson(old.spec())["text"], "Hello {name}");
  EXPECT_EQ(Get(parley::v1::RESOURCE_KIND_PROMPT, "greet-prompt", &old, 7).error_code(),
            grpc::StatusCode::NOT_FOUND);

  parley::v1::ListResourcesRequest req;
  req.set_kind(parley::v1::RESOURCE_KIND_PROMPT);
  req.set_all_versions(true);
  req.set_filter("name=greet-prompt");
  parley::v1::ListResourcesResponse resp;
  grpc::Status listed = Stub()->ListResources(Ctx().get(), req, &resp);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(resp.resources_size(), 2);
  EXPECT_EQ(resp.resources(0).version(), 1);
  EXPECT_EQ(resp.resources(1).version(), 2);
}

TEST_F(ConfigServiceTest, ListPaginatesAndFilters) {
  for (int i = 0; i < 7; ++i) {
    Resource r = Make(parley::v1::RESOURCE_KIND_TRUNK, "page-trunk-" + std::to_string(i),
                      R"({"kind": "grpc", "grpc": {"address": "127.0.0.1:50060"}})");
    (*r.mutable_labels())["parity"] = i % 2 == 0 ? "even" : "odd";
    ASSERT_TRUE(Create(r).ok());
  }
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    parley::v1::ListResourcesRequest req;
    req.set_kind(parley::v1::RESOURCE_KIND_TRUNK);
    req.set_filter("name=page-trunk-*");
    req.mutable_page()->set_page_size(3);
    req.mutable_page()->set_page_token(token);
    parley::v1::ListResourcesResponse resp;
    ASSERT_TRUE(Stub()->ListResources(Ctx().get(), req, &resp).ok());
    for (const auto& r : resp.resources()) names.push_back(r.name());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(names.size(), 7u);
  EXPECT_EQ(names.front(), "page-trunk-0");
  EXPECT_EQ(names.back(), "page-trunk-6");

  parley::v1::ListResourcesRequest odd;
  odd.set_kind(parley::v1::RESOURCE_KIND_TRUNK);
  odd.set_filter("name=page-trunk-* labels.parity=odd");
  parley::v1::ListResourcesResponse resp;
  ASSERT_TRUE(Stub()->ListResources(Ctx().get(), odd, &resp).ok());
  EXPECT_EQ(resp.resources_size(), 3);

  odd.set_filter("colour=red");
  grpc::Status bad = Stub()->ListResources(Ctx().get(), odd, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bad.error_message(), "filter:"));

  odd.clear_filter();
  odd.mutable_page()->set_page_size(-1);
  bad = Stub()->ListResources(Ctx().get(), odd, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bad.error_message(), "page.page_size:")) << bad.error_message();
}

// A request that names nothing is INVALID_ARGUMENT naming the field, not NOT_FOUND of "".
TEST_F(ConfigServiceTest, RequestsWithoutANameOrWithVersionZeroAreInvalid) {
  Resource got;
  for (grpc::Status s : {Get(parley::v1::RESOURCE_KIND_TEMPLATE, "", &got),
                         Delete(parley::v1::RESOURCE_KIND_TEMPLATE, "")}) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "name: required");
  }
  parley::v1::TestCredentialRequest test;
  parley::v1::TestCredentialResponse tested;
  grpc::Status s = Stub()->TestCredential(Ctx().get(), test, &tested);
  EXPECT_EQ(s.error_message(), "name: required");
  s = Get(parley::v1::RESOURCE_KIND_PROMPT, "any-prompt", &got, 0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "version:")) << s.error_message();
  parley::v1::ListDncRequest dnc;
  dnc.mutable_page()->set_page_size(-5);
  parley::v1::ListDncResponse listed;
  s = Stub()->ListDnc(Ctx().get(), dnc, &listed);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "page.page_size:")) << s.error_message();
}

TEST_F(ConfigServiceTest, RuntimeConfigMergesCampaignAndCallOverrides) {
  MakeAgent("merge", R"({
      "llm": {"provider": "scripted", "temperature": 0.2},
      "tts": {"provider": "espeak", "voice": "en-us", "speed": 1.0},
      "limits": {"max_duration_s": 600, "silence_timeout_s": 10},
      "greeting": "Hello"})");
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_CAMPAIGN, "merge-campaign", R"({
      "agent": "merge-agent",
      "overrides": {"tts": {"voice": "en-gb"}, "limits": {"silence_timeout_s": null},
                    "greeting": "Good day"}})"))
                  .ok());
  parley::v1::RuntimeConfig config;
  grpc::Status s =
      Resolve("merge-agent", "merge-campaign", &config, R"({"limits": {"max_duration_s": 120}})");
  ASSERT_TRUE(s.ok()) << s.error_message();
  nlohmann::json t = json::StructToJson(config.template_());
  EXPECT_EQ(t["tts"]["voice"], "en-gb");      // campaign override wins
  EXPECT_EQ(t["tts"]["provider"], "espeak");  // nested objects merge
  EXPECT_EQ(t["tts"]["speed"], 1.0);
  EXPECT_FALSE(t["limits"].contains("silence_timeout_s"));  // null removes
  EXPECT_EQ(t["limits"]["max_duration_s"], 120);            // call override wins last
  EXPECT_EQ(t["greeting"], "Good day");
  EXPECT_EQ(config.graph().name(), "merge-graph");
  EXPECT_EQ(config.trunk().name(), "merge-trunk");
  EXPECT_FALSE(config.etag().empty());

  // The etag changes when an input changes, and not otherwise.
  parley::v1::RuntimeConfig again;
  ASSERT_TRUE(
      Resolve("merge-agent", "merge-campaign", &again, R"({"limits": {"max_duration_s": 120}})")
          .ok());
  EXPECT_EQ(again.etag(), config.etag());
  ASSERT_TRUE(Update(Make(parley::v1::RESOURCE_KIND_CAMPAIGN, "merge-campaign",
                          R"({"agent": "merge-agent", "overrides": {"tts": {"voice": "en-au"}}})"))
                  .ok());
  ASSERT_TRUE(
      Resolve("merge-agent", "merge-campaign", &again, R"({"limits": {"max_duration_s": 120}})")
          .ok());
  EXPECT_NE(again.etag(), config.etag());
  EXPECT_EQ(json::StructToJson(again.template_())["tts"]["voice"], "en-au");
}

TEST_F(ConfigServiceTest, RuntimeConfigValidatesAfterMerging) {
  MakeAgent("postmerge");
  parley::v1::RuntimeConfig config;
  grpc::Status s = Resolve("postmerge-agent", "", &config, R"({"llm": {"temperature": 9}})");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "template.llm.temperature:"))
      << s.error_message();
  EXPECT_EQ(Resolve("no-such-agent", "", &config).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Resolve("postmerge-agent", "no-such-campaign", &config).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConfigServiceTest, CampaignOfAnotherAgentIsRejected) {
  MakeAgent("owner-a");
  MakeAgent("owner-b");
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_CAMPAIGN, "owner-b-campaign",
                          R"({"agent": "owner-b-agent"})"))
                  .ok());
  parley::v1::RuntimeConfig config;
  grpc::Status s = Resolve("owner-a-agent", "owner-b-campaign", &config);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "campaign:")) << s.error_message();
}

TEST_F(ConfigServiceTest, CredentialsAreEncryptedMaskedAndOnlyDecryptedForServices) {
  const std::string secret = "sk-test-0123456789abcdef-f3a9";
  Resource created;
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_CREDENTIAL, "openai-key",
                          R"({"provider": "openai", "secret": ")" + secret + R"("})"),
                     &created)
                  .ok());
  nlohmann::json spec = json::StructToJson(created.spec());
  EXPECT_FALSE(spec.contains("secret"));
  EXPECT_EQ(spec["hint"], "sk-…f3a9");
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_CREDENTIAL, "openai-key-2",
                          R"({"provider": "openai", "secret": ")" + secret + R"("})"))
                  .ok());

  // At rest: not the plaintext, and two equal secrets seal differently.
  pqxx::connection conn(db_->url());
  pqxx::work tx(conn);
  pqxx::result rows = tx.exec(
      "SELECT secret FROM config.resources WHERE kind = 'credential' AND name IN "
      "('openai-key', 'openai-key-2') ORDER BY name");
  ASSERT_EQ(rows.size(), 2u);
  std::string a = pqxx::binarystring(rows[0][0]).str(), b = pqxx::binarystring(rows[1][0]).str();
  EXPECT_EQ(a.find(secret), std::string::npos);
  EXPECT_EQ(a.find("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_EQ(
      tx.exec("SELECT 1 FROM config.resources WHERE spec::text LIKE '%0123456789abcdef%'").size(),
      0u);

  // Referenced by the template: the worker (service scope) gets the secret, others the hint.
  MakeAgent(
      "cred",
      R"({"llm": {"provider": "openai", "model": "gpt-4o-mini", "credential": "openai-key"}})");
  parley::v1::RuntimeConfig for_worker, for_admin;
  ASSERT_TRUE(Resolve("cred-agent", "", &for_worker).ok());
  EXPECT_TRUE(for_worker.secrets_included());
  EXPECT_EQ(for_worker.credentials().at("openai-key"), secret);
  ASSERT_TRUE(Resolve("cred-agent", "", &for_admin, "{}", kAdminToken).ok());
  EXPECT_FALSE(for_admin.secrets_included());
  EXPECT_EQ(for_admin.credentials().at("openai-key"), "sk-…f3a9");

  // An update without a secret keeps the stored one.
  ASSERT_TRUE(Update(Make(parley::v1::RESOURCE_KIND_CREDENTIAL, "openai-key",
                          R"({"provider": "openai", "description": "prod"})"))
                  .ok());
  ASSERT_TRUE(Resolve("cred-agent", "", &for_worker).ok());
  EXPECT_EQ(for_worker.credentials().at("openai-key"), secret);
}

TEST_F(ConfigServiceTest, ValidateOnlyChecksWithoutReadingSecrets) {
  ASSERT_TRUE(Create(Make(parley::v1::RESOURCE_KIND_CREDENTIAL, "vo-key",
                          R"({"provider": "openai", "secret": "sk-validate-only-0123456789"})"))
                  .ok());
  MakeAgent("vo", R"({"llm": {"provider": "openai", "credential": "vo-key"}})");
  parley::v1::GetRuntimeConfigRequest req;
  req.set_agent("vo-agent");
  req.set_validate_only(true);
  *req.mutable_call_overrides() =
      *json::JsonToStruct(nlohmann::json::parse(R"({"greeting": "Hi"})"));
  parley::v1::RuntimeConfig checked;
  grpc::Status s = Stub()->GetRuntimeConfig(Ctx(kServiceToken).get(), req, &checked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(json::StructToJson(checked.template_())["greeting"], "Hi");
  EXPECT_TRUE(checked.credentials().empty());  // nothing decrypted, even for the service scope
  EXPECT_FALSE(checked.secrets_included());
  EXPECT_FALSE(checked.has_trunk());

  *req.mutable_call_overrides() =
      *json::JsonToStruct(nlohmann::json::parse(R"({"llm": {"temperature": 5}})"));
  s = Stub()->GetRuntimeConfig(Ctx(kServiceToken).get(), req, &checked);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "template.llm.temperature:"))
      << s.error_message();
}

TEST_F(ConfigServiceTest, TokensAndScopesAreEnforced) {
  Resource r = Make(parley::v1::RESOURCE_KIND_TEMPLATE, "auth-tmpl", "{}");
  EXPECT_EQ(Create(r, nullptr, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Create(r, nullptr, kCallsToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Resource got;
  EXPECT_EQ(Get(parley::v1::RESOURCE_KIND_TEMPLATE, "auth-tmpl", &got).error_code(),
            grpc::StatusCode::NOT_FOUND);  // nothing was written by the denied calls
}

TEST_F(ConfigServiceTest, DncAddCheckRemoveImportList) {
  auto stub = Stub();
  parley::v1::AddDncRequest add;
  add.set_number("+14155552671");
  add.set_reason("opt_out");
  add.set_call_id("c_1");
  parley::v1::DncEntry entry;
  ASSERT_TRUE(stub->AddDnc(Ctx().get(), add, &entry).ok());
  EXPECT_EQ(entry.reason(), "opt_out");
  add.set_reason("other");
  ASSERT_TRUE(stub->AddDnc(Ctx().get(), add, &entry).ok());
  EXPECT_EQ(entry.reason(), "opt_out");  // idempotent: the first entry stays

  parley::v1::CheckDncRequest check;
  check.set_number("+14155552671");
  check.set_campaign("any-campaign");
  parley::v1::CheckDncResponse checked;
  ASSERT_TRUE(stub->CheckDnc(Ctx().get(), check, &checked).ok());
  EXPECT_TRUE(checked.blocked());
  EXPECT_EQ(checked.entry().campaign(), "");

  // A campaign entry must name a campaign that exists: one under a misspelt name would be
  // stored and block nothing, since no call carries that campaign.
  add.set_number("+14155550100");
  add.set_campaign("q4");
  grpc::Status unknown = stub->AddDnc(Ctx().get(), add, &entry);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "campaign: campaign \"q4\" not found");
  MakeAgent("q4");
  ASSERT_TRUE(
      Create(Make(parley::v1::RESOURCE_KIND_CAMPAIGN, "q4", R"({"agent": "q4-agent"})")).ok());
  // A campaign entry blocks only that campaign.
  ASSERT_TRUE(stub->AddDnc(Ctx().get(), add, &entry).ok());
  check.set_number("+14155550100");
  ASSERT_TRUE(stub->CheckDnc(Ctx().get(), check, &checked).ok());
  EXPECT_FALSE(checked.blocked());
  check.set_campaign("q4");
  ASSERT_TRUE(stub->CheckDnc(Ctx().get(), check, &checked).ok());
  EXPECT_TRUE(checked.blocked());

  parley::v1::RemoveDncRequest remove;
  remove.set_number("+14155550100");
  remove.set_campaign("q4");
  google::protobuf::Empty empty;
  ASSERT_TRUE(stub->RemoveDnc(Ctx().get(), remove, &empty).ok());
  ASSERT_TRUE(stub->CheckDnc(Ctx().get(), check, &checked).ok());
  EXPECT_FALSE(checked.blocked());
  EXPECT_EQ(stub->RemoveDnc(Ctx().get(), remove, &empty).error_code(), grpc::StatusCode::NOT_FOUND);

  parley::v1::ImportDncRequest import;
  for (const char* n : {"+442079460958", "12345", "+4930901820", "+4930901821", "+4930901822"})
    import.add_entries()->set_number(n);
  import.mutable_entries(3)->set_campaign("q5");  // no such campaign
  import.mutable_entries(4)->set_reason(std::string(300, 'x'));
  parley::v1::ImportDncResponse imported;
  ASSERT_TRUE(stub->ImportDnc(Ctx().get(), import, &imported).ok());
  EXPECT_EQ(imported.imported(), 2);
  EXPECT_EQ(imported.failed(), 3);
  EXPECT_TRUE(absl::StartsWith(imported.results(1).error().message(), "entries[1].number:"));
  EXPECT_EQ(imported.results(3).error().code(), 5);  // NOT_FOUND
  EXPECT_EQ(imported.results(3).error().message(),
            "entries[3].campaign: campaign \"q5\" not found");
  EXPECT_TRUE(absl::StartsWith(imported.results(4).error().message(), "entries[4].reason:"));

  parley::v1::ListDncRequest list;
  list.set_global_only(true);
  list.mutable_page()->set_page_size(2);
  std::set<std::string> numbers;
  std::string token;
  do {
    list.mutable_page()->set_page_token(token);
    parley::v1::ListDncResponse page;
    ASSERT_TRUE(stub->ListDnc(Ctx().get(), list, &page).ok());
    for (const auto& e : page.entries()) numbers.insert(e.number());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(numbers, (std::set<std::string>{"+14155552671", "+442079460958", "+4930901820"}));

  add.set_number("not-a-number");
  grpc::Status bad = stub->AddDnc(Ctx().get(), add, &entry);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bad.error_message(), "number:"));
  add.set_number("+14155550102");
  add.set_call_id(std::string(129, 'c'));
  bad = stub->AddDnc(Ctx().get(), add, &entry);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bad.error_message(), "call_id:")) << bad.error_message();
  add.set_call_id("c_2");
  add.set_reason("opt\nout");
  bad = stub->AddDnc(Ctx().get(), add, &entry);
  EXPECT_TRUE(absl::StartsWith(bad.error_message(), "reason:")) << bad.error_message();
}

}  // namespace
}  // namespace parley::config
