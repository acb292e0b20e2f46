#include "services/config-api/references.h"

#include <gtest/gtest.h>

#include <ostream>
#include <vector>

namespace parley::config {

// Found by argument-dependent lookup, so it lives in Reference's namespace.
void PrintTo(const Reference& r, std::ostream* os) {
  *os << "{" << parley::v1::ResourceKind_Name(r.kind) << ", " << r.name << ", " << r.field << "}";
}

namespace {

using Json = nlohmann::json;
using parley::v1::RESOURCE_KIND_AGENT;
using parley::v1::RESOURCE_KIND_CAMPAIGN;
using parley::v1::RESOURCE_KIND_CREDENTIAL;
using parley::v1::RESOURCE_KIND_GRAPH;
using parley::v1::RESOURCE_KIND_INBOUND_ROUTE;
using parley::v1::RESOURCE_KIND_PROMPT;
using parley::v1::RESOURCE_KIND_TEMPLATE;
using parley::v1::RESOURCE_KIND_TRUNK;
using Refs = std::vector<Reference>;

TEST(ReferencesOfTest, Agent) {
  const Json agent = Json::parse(R"({
    "template": "default", "graph": "lead-qualifier", "system_prompt": "system",
    "prompt_versions": {"verify": 3, "system": 2},
    "tools": [{"name": "a", "kind": "end_call"},
              {"name": "crm", "kind": "http", "http": {"url": "https://x", "credential": "crm-key"}}],
    "trunk": "local-phone", "from": "+14155552671"
  })");
  EXPECT_EQ(ReferencesOf(RESOURCE_KIND_AGENT, agent),
            (Refs{{RESOURCE_KIND_TEMPLATE, "default", "agent.template"},
                  {RESOURCE_KIND_GRAPH, "lead-qualifier", "agent.graph"},
                  {RESOURCE_KIND_PROMPT, "system", "agent.system_prompt"},
                  {RESOURCE_KIND_TRUNK, "local-phone", "agent.trunk"},
                  // "system" again under prompt_versions: deduplicated, first field kept.
                  {RESOURCE_KIND_PROMPT, "verify", "agent.prompt_versions.verify"},
                  {RESOURCE_KIND_CREDENTIAL, "crm-key", "agent.tools[1].http.credential"}}));
}

TEST(ReferencesOfTest, Template) {
  const Json tmpl = Json::parse(R"({
    "stt": {"provider": "deepgram", "credential": "dg",
            "fallbacks": [{"provider": "whisperlive"}, {"provider": "assemblyai", "credential": "aai"}]},
    "tts": {"provider": "espeak", "fallbacks": [{"provider": "deepgram", "credential": "dg"}]},
    "llm": {"provider": "openai", "credential": "openai-key",
            "fallbacks": [{"provider": "groq", "credential": "groq-key"}]}
  })");
  EXPECT_EQ(ReferencesOf(RESOURCE_KIND_TEMPLATE, tmpl),
            (Refs{{RESOURCE_KIND_CREDENTIAL, "dg", "template.stt.credential"},
                  {RESOURCE_KIND_CREDENTIAL, "aai", "template.stt.fallbacks[1].credential"},
                  {RESOURCE_KIND_CREDENTIAL, "openai-key", "template.llm.credential"},
                  {RESOURCE_KIND_CREDENTIAL, "groq-key", "template.llm.fallbacks[0].credential"}}));
  // A provider without `credential` uses the one named like it, if any: not a reference.
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_TEMPLATE, {{"llm", {{"provider", "openai"}}}}).empty());
}

TEST(ReferencesOfTest, Graph) {
  const Json graph = Json::parse(R"({
    "start_node": "greet", "terminal_nodes": ["exit"],
    "nodes": [{"name": "greet"}, {"name": "verify", "prompt": "verify-prompt"},
              {"name": "qualify", "prompt": "qualify-prompt"}, {"name": "exit", "prompt": "verify-prompt"}],
    "tools": [{"name": "lookup", "kind": "http", "http": {"url": "https://x", "credential": "crm-key"}}]
  })");
  EXPECT_EQ(ReferencesOf(RESOURCE_KIND_GRAPH, graph),
            (Refs{{RESOURCE_KIND_PROMPT, "verify-prompt", "graph.nodes[1].prompt"},
                  {RESOURCE_KIND_PROMPT, "qualify-prompt", "graph.nodes[2].prompt"},
                  {RESOURCE_KIND_CREDENTIAL, "crm-key", "graph.tools[0].http.credential"}}));
}

TEST(ReferencesOfTest, Campaign) {
  const Json campaign = Json::parse(R"({
    "agent": "payment-reminder", "trunk": "sip-main",
    "webhook": {"url": "https://hooks.example.com", "secret": "hook-key"},
    "overrides": {"llm": {"provider": "openai", "credential": "openai-key"}}
  })");
  EXPECT_EQ(ReferencesOf(RESOURCE_KIND_CAMPAIGN, campaign),
            (Refs{{RESOURCE_KIND_AGENT, "payment-reminder", "campaign.agent"},
                  {RESOURCE_KIND_TRUNK, "sip-main", "campaign.trunk"},
                  {RESOURCE_KIND_CREDENTIAL, "hook-key", "campaign.webhook.secret"},
                  {RESOURCE_KIND_CREDENTIAL, "openai-key", "campaign.overrides.llm.credential"}}));
}

TEST(ReferencesOfTest, TrunkAndInboundRoute) {
  EXPECT_EQ(ReferencesOf(
                RESOURCE_KIND_TRUNK,
                {{"kind", "sip"}, {"sip", {{"host", "pbx"}, {"auth_credential", "sip-password"}}}}),
            (Refs{{RESOURCE_KIND_CREDENTIAL, "sip-password", "trunk.sip.auth_credential"}}));
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_TRUNK, {{"kind", "grpc"}, {"grpc", {{"address", "a:1"}}}})
                  .empty());
  EXPECT_EQ(
      ReferencesOf(RESOURCE_KIND_INBOUND_ROUTE,
                   {{"number", "+14155552671"}, {"agent", "support"}, {"campaign", "spring"}}),
      (Refs{{RESOURCE_KIND_AGENT, "support", "inbound_route.agent"},
            {RESOURCE_KIND_CAMPAIGN, "spring", "inbound_route.campaign"}}));
}

TEST(ReferencesOfTest, KindsWithoutReferences) {
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_PROMPT, {{"text", "hi {name}"}}).empty());
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_CREDENTIAL, {{"provider", "openai"}}).empty());
  EXPECT_TRUE(ReferencesOf(parley::v1::RESOURCE_KIND_UNSPECIFIED, {{"agent", "x"}}).empty());
}

TEST(ReferencesOfTest, SkipsEmptyAndMistypedValues) {
  const Json agent = Json::parse(R"({
    "template": "", "graph": 7, "trunk": null, "system_prompt": ["x"],
    "prompt_versions": "oops", "tools": {"not": "a list"}
  })");
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_AGENT, agent).empty());
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_AGENT, Json::array()).empty());
  EXPECT_TRUE(ReferencesOf(RESOURCE_KIND_GRAPH, {{"nodes", {1, "x", nullptr}}}).empty());
}

}  // namespace
}  // namespace parley::config
