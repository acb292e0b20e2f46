// The example agents in deploy/examples load through ConfigService and resolve to a runtime
// config, so what a newcomer applies first is known to work (parleyctl apply does the same).
#include <gtest/gtest.h>

#include "common/docs/resource_docs.h"
#include "common/json/struct_convert.h"
#include "common/pg/testing/scratch_database.h"
#include "services/config-api/config_handler.h"
#include "services/config-api/resource_kind.h"

namespace parley::config {
namespace {

TEST(ExamplesTest, EveryExampleAppliesAndBothAgentsResolve) {
  pg::testing::ScratchDatabase db;
  auto pool = *pg::PgPool::Create({.url = db.url()});
  ConfigStore store(pool.get());
  ASSERT_TRUE(store.Migrate().ok());
  ConfigHandler handler(&store, nullptr, grpcx::TokenAuth::Disabled());

  auto docs = docs::LoadResourceDocs(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples");
  ASSERT_TRUE(docs.ok()) << docs.status();
  int applied = 0;
  for (const docs::ResourceDoc& doc : docs::OrderForApply(*std::move(docs))) {
    ASSERT_NE(doc.kind, "dnc");
    parley::v1::UpdateResourceRequest req;
    req.set_allow_missing(true);
    req.mutable_resource()->set_kind(*ParseKind(doc.kind));
    req.mutable_resource()->set_name(doc.name);
    *req.mutable_resource()->mutable_spec() = *json::JsonToStruct(doc.spec);
    for (const auto& [k, v] : doc.labels) (*req.mutable_resource()->mutable_labels())[k] = v;
    grpc::ServerContext ctx;
    parley::v1::Resource out;
    grpc::Status s = handler.UpdateResource(&ctx, &req, &out);
    ASSERT_TRUE(s.ok()) << docs::Location(doc) << ": " << s.error_message();
    ++applied;
  }
  EXPECT_GE(applied, 10);

  struct Case {
    const char* agent;
    const char* campaign;
  };
  for (Case c : {Case{"payment-reminder", "payment-reminders-us"}, Case{"lead-qualifier", ""}}) {
    parley::v1::GetRuntimeConfigRequest req;
    req.set_agent(c.agent);
    req.set_campaign(c.campaign);
    grpc::ServerContext ctx;
    parley::v1::RuntimeConfig config;
    grpc::Status s = handler.GetRuntimeConfig(&ctx, &req, &config);
    ASSERT_TRUE(s.ok()) << c.agent << ": " << s.error_message();
    nlohmann::json tmpl = json::StructToJson(config.template_());
    EXPECT_EQ(tmpl["llm"]["provider"], "scripted") << c.agent;
    EXPECT_EQ(tmpl["tts"]["provider"], "espeak") << c.agent;
    EXPECT_EQ(config.trunk().name(), "sim-phone");
    EXPECT_FALSE(config.graph().spec().fields().empty());
  }

  // The LAN-box agent: self-hosted servers under the compose `lan-ai` profile's service names,
  // each with an embedded fallback.
  parley::v1::GetRuntimeConfigRequest req;
  req.set_agent("lan-box-lead-qualifier");
  grpc::ServerContext ctx;
  parley::v1::RuntimeConfig config;
  grpc::Status s = handler.GetRuntimeConfig(&ctx, &req, &config);
  ASSERT_TRUE(s.ok()) << s.error_message();
  nlohmann::json tmpl = json::StructToJson(config.template_());
  EXPECT_EQ(tmpl["stt"]["provider"], "whisperlive");
  EXPECT_EQ(tmpl["stt"]["base_url"], "ws://whisperlive:9090");
  EXPECT_EQ(tmpl["llm"]["provider"], "ollama");
  EXPECT_EQ(tmpl["llm"]["base_url"], "http://ollama:11434");
  EXPECT_EQ(tmpl["tts"]["provider"], "piper");
  EXPECT_EQ(tmpl["tts"]["base_url"], "http://piper:5000");
  EXPECT_EQ(tmpl["stt"]["fallbacks"][0]["provider"], "pocketsphinx");
  EXPECT_EQ(tmpl["llm"]["fallbacks"][0]["provider"], "scripted");
  EXPECT_EQ(tmpl["tts"]["fallbacks"][0]["provider"], "espeak");
}

}  // namespace
}  // namespace parley::config
