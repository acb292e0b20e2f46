// One failing case per validation rule of validate.h, each asserting INVALID_ARGUMENT and the
// field path the message starts with; and one valid spec per kind. Long because the rules are many.
#include "services/config-api/validate.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace parley::config {
namespace {

using Json = nlohmann::json;
using parley::v1::ResourceKind;

// OK, or a failure naming what came back instead of INVALID_ARGUMENT "<path>: ...".
::testing::AssertionResult FailsAt(const absl::Status& status, const std::string& path) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure()
           << "expected INVALID_ARGUMENT at " << path << ", got " << status;
  }
  if (!absl::StartsWith(status.message(), absl::StrCat(path, ": "))) {
    return ::testing::AssertionFailure() << "expected path " << path << ", got " << status;
  }
  return ::testing::AssertionSuccess() << status;
}

Json ValidTemplate() {
  return Json::parse(R"({
    "description": "default voice",
    "stt": {"provider": "pocketsphinx", "language": "en-US",
            "fallbacks": [{"provider": "whisperlive", "base_url": "ws://whisper:9090"}]},
    "tts": {"provider": "espeak", "voice": "en-us", "speed": 1.0, "stability": 0.5,
            "fallbacks": [{"provider": "piper", "base_url": "http://piper:5000"}]},
    "llm": {"provider": "scripted", "temperature": 0.3, "max_tokens": 256,
            "fallbacks": [{"provider": "openai", "model": "gpt-4o-mini", "credential": "openai-key"}]},
    "vad": {"threshold": 0.5, "min_speech_ms": 200, "min_silence_ms": 400},
    "interruptions": {"allow": true, "min_duration_ms": 300, "min_words": 1,
                      "resume_false_interruption": true},
    "endpointing": {"min_delay_ms": 300, "max_delay_ms": 1500},
    "limits": {"max_duration_s": 600, "silence_timeout_s": 10, "ring_timeout_s": 30,
               "max_node_visits": 5},
    "voicemail": {"detect": true, "action": "leave_message",
                  "message": "Hi {customer_name}, please call {support_phone}."},
    "end_call_phrases": ["goodbye", "bye now"],
    "greeting": "Hello {customer_name}, this is {company_name}. {{not a variable}}"
  })");
}

Json ValidPrompt() {
  return Json::parse(R"({
    "description": "payment reminder instructions",
    "text": "Remind {customer_name} that invoice {invoice_number} of {amount_due} is due on {due_date}. Use {{braces}} literally.",
    "variables": ["customer_name", "invoice_number", "amount_due", "due_date", "unused"]
  })");
}

Json ValidGraph() {
  return Json::parse(R"({
    "description": "lead qualification",
    "start_node": "greet",
    "terminal_nodes": ["exit"],
    "intents": [{"name": "affirm", "phrases": ["yes", "sure"]},
                {"name": "deny", "phrases": ["no"]},
                {"name": "opt_out", "phrases": ["stop calling"]}],
    "tools": [{"name": "lookup_invoice", "kind": "http", "description": "finds an invoice",
               "http": {"url": "https://crm.example.com/invoice", "method": "post",
                        "timeout_ms": 2000, "credential": "crm-key",
                        "headers": {"X-Team": "billing"}},
               "parameters": {"type": "object",
                              "properties": {"invoice": {"type": "string"}}}},
              {"name": "to_sales", "kind": "transfer", "transfer_to": "+14155552671"}],
    "nodes": [
      {"name": "greet", "say": ["Hi {customer_name}!"],
       "transitions": [{"to": "exit", "intent": "opt_out"}, {"to": "verify"}]},
      {"name": "verify", "prompt": "verify-prompt", "tools": ["lookup_invoice", "set_state"],
       "transitions": [{"to": "qualify", "condition": "verified == true && context.amount_due > 100"},
                       {"to": "exit", "condition": "!verified"}]},
      {"name": "qualify", "tools": ["to_sales", "end_call", "transfer"],
       "transitions": [{"to": "exit", "intent": "affirm", "set_state": {"qualified": true}}]},
      {"name": "exit", "say": ["Goodbye."]}
    ],
    "durable_keys": ["budget"]
  })");
}

Json ValidAgent() {
  return Json::parse(R"({
    "template": "default", "graph": "lead-qualifier", "system_prompt": "system",
    "prompt_versions": {"system": 2, "verify-prompt": 1},
    "tools": [{"name": "hang_up", "kind": "end_call"}],
    "trunk": "local-phone", "from": "+14155552671",
    "default_context": {"company_name": "Acme"}
  })");
}

Json ValidCampaign() {
  return Json::parse(R"({
    "agent": "payment-reminder",
    "overrides": {"tts": {"voice": "en-gb"}, "limits": {"max_duration_s": 300}, "greeting": null,
                  "voicemail": {"action": "leave_message"}},
    "calling_window": {"time_zone": "America/New_York",
                       "days": ["mon", "tue", "wed", "thu", "fri"],
                       "start": "09:00", "end": "20:00"},
    "max_concurrent_calls": 10,
    "retry_policy": {"retry_on": ["busy", "no_answer"], "max_attempts": 3,
                     "backoff": {"initial_delay_s": 300, "multiplier": 2, "max_delay_s": 3600}},
    "region": "US",
    "webhook": {"url": "https://hooks.example.com/parley", "secret": "webhook-key",
                "events": ["status", "report"]},
    "from": "+14155552671", "trunk": "sip-main",
    "default_context": {"support_phone": "+18005550199"}
  })");
}

Json ValidGrpcTrunk() { return {{"kind", "grpc"}, {"grpc", {{"address", "127.0.0.1:50060"}}}}; }

Json ValidSipTrunk() {
  return Json::parse(R"({
    "kind": "sip",
    "sip": {"host": "pbx.example.com", "port": 5061, "transport": "tls",
            "outbound_proxy": "sip:proxy.example.com:5060", "auth_username": "parley",
            "auth_credential": "sip-password", "from_numbers": ["+14155552671"],
            "codecs": ["opus", "pcmu"], "external_ip": "203.0.113.7",
            "rtp_port_min": 10000, "rtp_port_max": 10100, "ring_timeout_s": 30,
            "early_media": true}
  })");
}

Json ValidInboundRoute() {
  return {{"number", "+14155552671"}, {"agent", "payment-reminder"}, {"campaign", "spring"}};
}

absl::Status Template(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_TEMPLATE, "default", spec);
}
absl::Status Prompt(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_PROMPT, "reminder", spec);
}
absl::Status Graph(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_GRAPH, "lead-qualifier", spec);
}
absl::Status Agent(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_AGENT, "payment-reminder", spec);
}
absl::Status Campaign(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_CAMPAIGN, "spring", spec);
}
absl::Status Trunk(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_TRUNK, "local-phone", spec);
}
absl::Status Route(const Json& spec) {
  return ValidateSpec(parley::v1::RESOURCE_KIND_INBOUND_ROUTE, "main-line", spec);
}

// ----- valid specs ----------------------------------------------------------------------------

TEST(ValidateSpecTest, ValidSpecsOfEveryKindPass) {
  EXPECT_TRUE(Template(ValidTemplate()).ok()) << Template(ValidTemplate());
  EXPECT_TRUE(Template(Json::object()).ok()) << "every template field is optional";
  EXPECT_TRUE(Prompt(ValidPrompt()).ok()) << Prompt(ValidPrompt());
  EXPECT_TRUE(Graph(ValidGraph()).ok()) << Graph(ValidGraph());
  EXPECT_TRUE(Agent(ValidAgent()).ok()) << Agent(ValidAgent());
  EXPECT_TRUE(Campaign(ValidCampaign()).ok()) << Campaign(ValidCampaign());
  EXPECT_TRUE(Campaign({{"agent", "a"}}).ok()) << "a campaign needs only its agent";
  EXPECT_TRUE(Trunk(ValidGrpcTrunk()).ok()) << Trunk(ValidGrpcTrunk());
  EXPECT_TRUE(Trunk(ValidSipTrunk()).ok()) << Trunk(ValidSipTrunk());
  EXPECT_TRUE(Trunk({{"kind", "sip"}, {"sip", {{"host", "10.0.0.5"}}}}).ok());
  EXPECT_TRUE(ValidateSpec(parley::v1::RESOURCE_KIND_CREDENTIAL, "openai-key",
                           {{"provider", "openai"}, {"secret", "sk-test"}})
                  .ok());
  EXPECT_TRUE(Route(ValidInboundRoute()).ok()) << Route(ValidInboundRoute());
  EXPECT_TRUE(ValidateTemplate(ValidTemplate()).ok());
}

TEST(ValidateSpecTest, EdgeValuesPass) {
  Json t = ValidTemplate();
  t["tts"]["speed"] = 0.5;
  t["llm"]["temperature"] = 2;
  t["llm"]["max_tokens"] = 32768;
  t["limits"]["max_duration_s"] = 14400;
  t["limits"]["ring_timeout_s"] = 5;
  t["endpointing"] = {{"min_delay_ms", 500}, {"max_delay_ms", 500}};
  t["stt"]["language"] = "multi";
  EXPECT_TRUE(Template(t).ok()) << Template(t);

  Json c = ValidCampaign();
  c["calling_window"]["end"] = "24:00";
  c["calling_window"]["time_zone"] = "UTC";
  c["retry_policy"] = {{"max_attempts", 1}};
  EXPECT_TRUE(Campaign(c).ok()) << Campaign(c);
}

// ----- names and parsing ------------------------------------------------------------------------

TEST(ValidateNameTest, Rules) {
  EXPECT_TRUE(ValidateName("payment-reminder").ok());
  EXPECT_TRUE(ValidateName("a").ok());
  EXPECT_TRUE(ValidateName("v2").ok());
  EXPECT_TRUE(ValidateName(std::string(63, 'a')).ok());
  EXPECT_TRUE(FailsAt(ValidateName(""), "name"));
  EXPECT_TRUE(FailsAt(ValidateName("Payment"), "name"));
  EXPECT_TRUE(FailsAt(ValidateName("-reminder"), "name"));
  EXPECT_TRUE(FailsAt(ValidateName("reminder-"), "name"));
  EXPECT_TRUE(FailsAt(ValidateName("pay_reminder"), "name"));
  EXPECT_TRUE(FailsAt(ValidateName(std::string(64, 'a')), "name"));
  EXPECT_TRUE(FailsAt(ValidateSpec(parley::v1::RESOURCE_KIND_TEMPLATE, "Bad Name", Json::object()),
                      "name"));
}

TEST(ValidateSpecTest, KindAndShape) {
  EXPECT_TRUE(
      FailsAt(ValidateSpec(parley::v1::RESOURCE_KIND_UNSPECIFIED, "x", Json::object()), "kind"));
  EXPECT_TRUE(FailsAt(ValidateSpec(static_cast<ResourceKind>(42), "x", Json::object()), "kind"));
  EXPECT_TRUE(FailsAt(Template(Json::array()), "template"));
  EXPECT_TRUE(FailsAt(Template(nullptr), "template"));
}

TEST(ValidateSpecTest, SchemaErrorsNameTheField) {
  Json t = ValidTemplate();
  t["llm"]["temprature"] = 1;
  EXPECT_TRUE(FailsAt(Template(t), "template.llm.temprature"));

  t = ValidTemplate();
  t["llm"]["temperature"] = "hot";
  EXPECT_TRUE(FailsAt(Template(t), "template.llm.temperature"));

  Json g = ValidGraph();
  g["nodes"][1]["transitions"][0]["too"] = "exit";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[1].transitions[0].too"));
}

// ----- template -------------------------------------------------------------------------------

TEST(ValidateTemplateTest, Providers) {
  Json t = ValidTemplate();
  t["stt"]["provider"] = "whispr";
  absl::Status s = Template(t);
  EXPECT_TRUE(FailsAt(s, "template.stt.provider"));
  EXPECT_EQ(s.message(),
            "template.stt.provider: unknown stt provider \"whispr\" (known: pocketsphinx, "
            "whisperlive, deepgram, assemblyai, openai)");

  t = ValidTemplate();
  t["tts"]["provider"] = "pocketsphinx";  // an stt provider is not a tts provider
  EXPECT_TRUE(FailsAt(Template(t), "template.tts.provider"));

  t = ValidTemplate();
  t["llm"]["provider"] = "gpt";
  EXPECT_TRUE(FailsAt(Template(t), "template.llm.provider"));

  t = ValidTemplate();
  t["llm"]["fallbacks"][0]["provider"] = "claude";
  EXPECT_TRUE(FailsAt(Template(t), "template.llm.fallbacks[0].provider"));

  t = ValidTemplate();
  t["stt"]["fallbacks"][0].erase("provider");
  EXPECT_TRUE(FailsAt(Template(t), "template.stt.fallbacks[0].provider"));

  t = ValidTemplate();
  t["tts"]["fallbacks"][0]["fallbacks"] = Json::array({{{"provider", "espeak"}}});
  EXPECT_TRUE(FailsAt(Template(t), "template.tts.fallbacks[0].fallbacks"));

  t = ValidTemplate();
  t["stt"]["base_url"] = "whisper:9090";
  EXPECT_TRUE(FailsAt(Template(t), "template.stt.base_url"));

  t = ValidTemplate();
  t["llm"]["credential"] = "OpenAI Key";
  EXPECT_TRUE(FailsAt(Template(t), "template.llm.credential"));

  t = ValidTemplate();
  t["stt"]["language"] = "english (us)";
  EXPECT_TRUE(FailsAt(Template(t), "template.stt.language"));
}

TEST(ValidateTemplateTest, Ranges) {
  struct Case {
    const char* section;
    const char* field;
    Json value;
  };
  const Case cases[] = {
      {"tts", "speed", 2.5},
      {"tts", "stability", 1.5},
      {"llm", "temperature", 2.1},
      {"llm", "max_tokens", 0},
      {"vad", "threshold", 1.2},
      {"vad", "min_speech_ms", 6000},
      {"vad", "min_silence_ms", -1},
      {"interruptions", "min_duration_ms", 5001},
      {"interruptions", "min_words", -1},
      {"endpointing", "min_delay_ms", -1},
      {"limits", "max_duration_s", 5},
      {"limits", "silence_timeout_s", 0},
      {"limits", "ring_timeout_s", 121},
      {"limits", "max_node_visits", 0},
  };
  for (const Case& c : cases) {
    Json t = ValidTemplate();
    t[c.section][c.field] = c.value;
    EXPECT_TRUE(FailsAt(Template(t), absl::StrCat("template.", c.section, ".", c.field)));
  }
  Json t = ValidTemplate();
  t["llm"]["temperature"] = 2.5;
  EXPECT_EQ(Template(t).message(), "template.llm.temperature: must be in [0, 2]");
  t = ValidTemplate();
  t["tts"]["speed"] = 0.4;
  EXPECT_EQ(Template(t).message(), "template.tts.speed: must be in [0.5, 2]");
  t = ValidTemplate();
  t["llm"]["max_tokens"] = 40000;
  EXPECT_EQ(Template(t).message(), "template.llm.max_tokens: must be in [1, 32768]");
  t = ValidTemplate();
  t["tts"]["fallbacks"][0]["speed"] = 3;  // fallbacks obey the same ranges
  EXPECT_TRUE(FailsAt(Template(t), "template.tts.fallbacks[0].speed"));
}

TEST(ValidateTemplateTest, EndpointingMaxNotBelowMin) {
  Json t = ValidTemplate();
  t["endpointing"] = {{"min_delay_ms", 800}, {"max_delay_ms", 500}};
  EXPECT_TRUE(FailsAt(Template(t), "template.endpointing.max_delay_ms"));
  t["endpointing"] = {{"max_delay_ms", -5}};
  EXPECT_TRUE(FailsAt(Template(t), "template.endpointing.max_delay_ms"));
}

TEST(ValidateTemplateTest, Voicemail) {
  Json t = ValidTemplate();
  t["voicemail"]["action"] = "beep";
  EXPECT_TRUE(FailsAt(Template(t), "template.voicemail.action"));
  t = ValidTemplate();
  t["voicemail"].erase("message");
  EXPECT_TRUE(FailsAt(Template(t), "template.voicemail.message"));
  t = ValidTemplate();
  t["voicemail"]["message"] = "Call us at {support phone}";
  EXPECT_TRUE(FailsAt(Template(t), "template.voicemail.message"));
  t["voicemail"] = {{"action", "hangup"}};
  EXPECT_TRUE(Template(t).ok()) << Template(t);
}

TEST(ValidateTemplateTest, TextFields) {
  Json t = ValidTemplate();
  t["end_call_phrases"][1] = " ";
  EXPECT_TRUE(FailsAt(Template(t), "template.end_call_phrases[1]"));
  t = ValidTemplate();
  t["greeting"] = "Hello {customer_name";
  EXPECT_EQ(Template(t).message(), "template.greeting: unmatched '{' at column 7");
}

TEST(ValidateTemplateTest, MergedTemplateUsesTemplatePaths) {
  Json t = ValidTemplate();
  t["limits"]["ring_timeout_s"] = 1;
  EXPECT_TRUE(FailsAt(ValidateTemplate(t), "template.limits.ring_timeout_s"));
  t = ValidTemplate();
  t["bogus"] = 1;
  EXPECT_TRUE(FailsAt(ValidateTemplate(t), "template.bogus"));
}

// ----- prompt ---------------------------------------------------------------------------------

TEST(ValidatePromptTest, Rules) {
  Json p = ValidPrompt();
  p["text"] = "";
  EXPECT_TRUE(FailsAt(Prompt(p), "prompt.text"));

  p = ValidPrompt();
  p["text"] = "You owe {amount}.";
  EXPECT_EQ(Prompt(p).message(),
            "prompt.text: variable {amount} is not declared in prompt.variables");

  p = ValidPrompt();
  p["text"] = "Hello } there";
  EXPECT_TRUE(FailsAt(Prompt(p), "prompt.text"));

  p = ValidPrompt();
  p["variables"][1] = "invoice number";
  EXPECT_TRUE(FailsAt(Prompt(p), "prompt.variables[1]"));

  p = ValidPrompt();
  p["variables"][1] = "customer_name";
  EXPECT_TRUE(FailsAt(Prompt(p), "prompt.variables[1]"));
}

TEST(PromptVariablesTest, FindsVariablesAndLiteralBraces) {
  auto vars = PromptVariables("Hi {name}, {{literal}} {invoice.total} {name} {items.0}");
  ASSERT_TRUE(vars.ok()) << vars.status();
  EXPECT_EQ(*vars, (std::vector<std::string>{"name", "invoice.total", "items.0"}));
  EXPECT_TRUE(PromptVariables("").ok());
  EXPECT_EQ(PromptVariables("a {b").status().message(), "unmatched '{' at column 3");
  EXPECT_EQ(PromptVariables("a } b").status().message(),
            "unmatched '}' at column 3 (use }} for a literal brace)");
  EXPECT_FALSE(PromptVariables("{}").ok());
  EXPECT_FALSE(PromptVariables("{1st}").ok());
  EXPECT_FALSE(PromptVariables("{a..b}").ok());
}

// ----- graph ----------------------------------------------------------------------------------

TEST(ValidateGraphTest, Nodes) {
  Json g = ValidGraph();
  g["nodes"] = Json::array();
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes"));

  g = ValidGraph();
  g["nodes"][2].erase("name");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[2].name"));

  g = ValidGraph();
  g["nodes"][2]["name"] = "qualify now";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[2].name"));

  g = ValidGraph();
  g["nodes"][3]["name"] = "verify";
  EXPECT_EQ(Graph(g).message(), "graph.nodes[3].name: duplicate node \"verify\"");
}

TEST(ValidateGraphTest, StartAndTerminalNodes) {
  Json g = ValidGraph();
  g.erase("start_node");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.start_node"));

  g = ValidGraph();
  g["start_node"] = "x";
  EXPECT_EQ(Graph(g).message(), "graph.start_node: node \"x\" does not exist");

  g = ValidGraph();
  g["terminal_nodes"] = Json::array();
  EXPECT_TRUE(FailsAt(Graph(g), "graph.terminal_nodes"));

  g = ValidGraph();
  g["terminal_nodes"] = {"exit", "bye"};
  EXPECT_TRUE(FailsAt(Graph(g), "graph.terminal_nodes[1]"));

  g = ValidGraph();
  g["nodes"][0]["transitions"] = Json::array({{{"to", "verify"}}});
  g["nodes"][1]["transitions"] = Json::array({{{"to", "greet"}}});
  EXPECT_EQ(Graph(g).message(), "graph: no terminal node is reachable from start node \"greet\"");
}

TEST(ValidateGraphTest, Transitions) {
  Json g = ValidGraph();
  g["nodes"][2]["transitions"][0]["to"] = "bok";
  EXPECT_EQ(Graph(g).message(), "graph.nodes[2].transitions[0].to: node \"bok\" does not exist");

  g = ValidGraph();
  g["nodes"][0]["transitions"][1].erase("to");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[0].transitions[1].to"));

  g = ValidGraph();
  g["nodes"][1]["transitions"][0]["condition"] = "verified = true";
  EXPECT_EQ(Graph(g).message(),
            "graph.nodes[1].transitions[0].condition: unexpected '=' (did you mean '=='?) at "
            "column 10");

  g = ValidGraph();
  g["nodes"][1]["transitions"][1]["condition"] = "(verified";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[1].transitions[1].condition"));

  g = ValidGraph();
  g["nodes"][0]["transitions"].push_back({{"to", "exit"}, {"intent", "deny"}});
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[0].transitions[2]")) << "after the default";

  g = ValidGraph();
  g["nodes"][1]["transitions"][0]["intent"] = "afirm";
  EXPECT_EQ(Graph(g).message(),
            "graph.nodes[1].transitions[0].intent: intent \"afirm\" is not defined");
}

TEST(ValidateGraphTest, NodeContents) {
  Json g = ValidGraph();
  g["nodes"][0]["tools"] = {"lookup"};
  EXPECT_EQ(Graph(g).message(), "graph.nodes[0].tools[0]: tool \"lookup\" is not defined");

  g = ValidGraph();
  g["nodes"][1]["prompt"] = "Verify_Prompt";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[1].prompt"));

  g = ValidGraph();
  g["nodes"][3]["say"] = {"Bye {name"};
  EXPECT_TRUE(FailsAt(Graph(g), "graph.nodes[3].say[0]"));

  g = ValidGraph();
  g["durable_keys"] = {"budget", "last-topic"};
  EXPECT_TRUE(FailsAt(Graph(g), "graph.durable_keys[1]"));
}

TEST(ValidateGraphTest, Intents) {
  Json g = ValidGraph();
  g["intents"][1]["name"] = "affirm";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.intents[1].name"));

  g = ValidGraph();
  g["intents"][0].erase("name");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.intents[0].name"));

  g = ValidGraph();
  g["intents"][2]["phrases"] = {"stop", ""};
  EXPECT_TRUE(FailsAt(Graph(g), "graph.intents[2].phrases[1]"));
}

TEST(ValidateGraphTest, Tools) {
  Json g = ValidGraph();
  g["tools"][1]["name"] = "lookup_invoice";
  EXPECT_EQ(Graph(g).message(), "graph.tools[1].name: duplicate tool \"lookup_invoice\"");

  g = ValidGraph();
  g["tools"][1]["name"] = "to sales";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[1].name"));

  g = ValidGraph();
  g["tools"][0].erase("name");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].name"));

  g = ValidGraph();
  g["tools"][0].erase("kind");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].kind"));

  g = ValidGraph();
  g["tools"][0]["kind"] = "grpc";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].kind"));

  g = ValidGraph();
  g["tools"][0]["http"].erase("url");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].http.url"));

  g = ValidGraph();
  g["tools"][0]["http"]["url"] = "ftp://crm.example.com/x";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].http.url"));

  g = ValidGraph();
  g["tools"][0]["http"]["method"] = "FETCH";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].http.method"));

  g = ValidGraph();
  g["tools"][0]["http"]["timeout_ms"] = 50;
  EXPECT_EQ(Graph(g).message(), "graph.tools[0].http.timeout_ms: must be in [100, 30000]");

  g = ValidGraph();
  g["tools"][0]["http"]["credential"] = "CRM";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].http.credential"));

  g = ValidGraph();
  g["tools"][0]["http"]["headers"]["X-Team"] = "billing\r\nX-Evil: 1";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].http.headers.X-Team"));

  g = ValidGraph();
  g["tools"][0]["parameters"]["type"] = "array";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[0].parameters.type"));

  g = ValidGraph();
  g["tools"][1]["transfer_to"] = "555-1234";
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[1].transfer_to"));

  g = ValidGraph();
  g["tools"][1].erase("transfer_to");
  EXPECT_TRUE(FailsAt(Graph(g), "graph.tools[1].transfer_to"));
}

// ----- agent ----------------------------------------------------------------------------------

TEST(ValidateAgentTest, Rules) {
  Json a = ValidAgent();
  a.erase("template");
  EXPECT_TRUE(FailsAt(Agent(a), "agent.template"));

  a = ValidAgent();
  a.erase("graph");
  EXPECT_TRUE(FailsAt(Agent(a), "agent.graph"));

  a = ValidAgent();
  a["system_prompt"] = "System Prompt";
  EXPECT_TRUE(FailsAt(Agent(a), "agent.system_prompt"));

  a = ValidAgent();
  a["prompt_versions"]["verify-prompt"] = 0;
  EXPECT_TRUE(FailsAt(Agent(a), "agent.prompt_versions.verify-prompt"));

  a = ValidAgent();
  a["prompt_versions"]["Bad_Prompt"] = 1;
  EXPECT_TRUE(FailsAt(Agent(a), "agent.prompt_versions.Bad_Prompt"));

  a = ValidAgent();
  a["tools"].push_back({{"name", "hang_up"}, {"kind", "end_call"}});
  EXPECT_TRUE(FailsAt(Agent(a), "agent.tools[1].name"));

  a = ValidAgent();
  a["trunk"] = "local phone";
  EXPECT_TRUE(FailsAt(Agent(a), "agent.trunk"));

  a = ValidAgent();
  a["from"] = "4155552671";
  EXPECT_EQ(Agent(a).message(), "agent.from: must be an E.164 number (+14155552671)");
}

// ----- campaign -------------------------------------------------------------------------------

TEST(ValidateCampaignTest, AgentAndOverrides) {
  Json c = ValidCampaign();
  c.erase("agent");
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.agent"));

  c = ValidCampaign();
  c["overrides"]["stt"] = {{"provider", "whispr"}};
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.overrides.stt.provider"));

  c = ValidCampaign();
  c["overrides"]["limits"]["max_duration_s"] = 1;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.overrides.limits.max_duration_s"));

  c = ValidCampaign();
  c["overrides"]["volume"] = 11;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.overrides.volume"));

  c = ValidCampaign();
  c["overrides"]["llm"] = {{"fallbacks", {{{"provider", "openai"}, {"fallbacks", Json::array()}}}}};
  EXPECT_TRUE(Campaign(c).ok()) << "an empty fallbacks list declares none: " << Campaign(c);
}

TEST(ValidateCampaignTest, CallingWindow) {
  Json c = ValidCampaign();
  c["calling_window"].erase("time_zone");
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.calling_window.time_zone"));

  c = ValidCampaign();
  c["calling_window"]["time_zone"] = "Mars/Base";
  EXPECT_EQ(Campaign(c).message(),
            "campaign.calling_window.time_zone: unknown IANA time zone \"Mars/Base\"");

  c = ValidCampaign();
  c["calling_window"]["time_zone"] = "../../etc/passwd";
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.calling_window.time_zone"));

  c = ValidCampaign();
  c["calling_window"]["days"] = {"mon", "thurs"};
  EXPECT_EQ(Campaign(c).message(),
            "campaign.calling_window.days[1]: unknown day \"thurs\" (known: mon, tue, wed, thu, "
            "fri, sat, sun)");

  c = ValidCampaign();
  c["calling_window"]["days"] = {"mon", "mon"};
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.calling_window.days[1]"));

  c = ValidCampaign();
  c["calling_window"]["start"] = "9am";
  EXPECT_EQ(Campaign(c).message(), "campaign.calling_window.start: must be HH:MM");

  c = ValidCampaign();
  c["calling_window"].erase("start");
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.calling_window.start"));

  c = ValidCampaign();
  c["calling_window"]["end"] = "25:00";
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.calling_window.end"));

  c = ValidCampaign();
  c["calling_window"].erase("end");
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.calling_window.end"));

  c = ValidCampaign();
  c["calling_window"]["end"] = "09:00";
  EXPECT_EQ(Campaign(c).message(), "campaign.calling_window.end: must be after start");
}

TEST(ValidateCampaignTest, LimitsAndRetries) {
  Json c = ValidCampaign();
  c["max_concurrent_calls"] = -1;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.max_concurrent_calls"));

  c = ValidCampaign();
  c["retry_policy"]["retry_on"] = {"busy", "completed"};
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.retry_on[1]"));

  c = ValidCampaign();
  c["retry_policy"]["retry_on"] = {"busy", "busy"};
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.retry_on[1]"));

  c = ValidCampaign();
  c["retry_policy"]["max_attempts"] = 21;
  EXPECT_EQ(Campaign(c).message(), "campaign.retry_policy.max_attempts: must be in [1, 20]");

  c = ValidCampaign();
  c["retry_policy"]["max_attempts"] = -1;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.max_attempts"));

  c = ValidCampaign();
  c["retry_policy"]["backoff"]["initial_delay_s"] = -1;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.backoff.initial_delay_s"));

  c = ValidCampaign();
  c["retry_policy"]["backoff"]["multiplier"] = 0.5;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.backoff.multiplier"));

  c = ValidCampaign();
  c["retry_policy"]["backoff"]["max_delay_s"] = 60;
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.backoff.max_delay_s"));

  c = ValidCampaign();
  c["retry_policy"]["backoff"] = {{"initial_delay_s", 100000}};  // above the default maximum
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.retry_policy.backoff.initial_delay_s"));
}

TEST(ValidateCampaignTest, RegionWebhookFromTrunk) {
  Json c = ValidCampaign();
  c["region"] = "usa";
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.region"));

  c = ValidCampaign();
  c["webhook"].erase("url");
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.webhook.url"));

  c = ValidCampaign();
  c["webhook"]["url"] = "hooks.example.com/parley";
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.webhook.url"));

  c = ValidCampaign();
  c["webhook"].erase("secret");
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.webhook.secret"));

  c = ValidCampaign();
  c["webhook"]["events"] = {"status", "transcript"};
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.webhook.events[1]"));

  c = ValidCampaign();
  c["from"] = "+0123";
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.from"));

  c = ValidCampaign();
  c["trunk"] = "-sip";
  EXPECT_TRUE(FailsAt(Campaign(c), "campaign.trunk"));
}

// ----- trunk ----------------------------------------------------------------------------------

TEST(ValidateTrunkTest, KindAndGrpc) {
  EXPECT_TRUE(FailsAt(Trunk(Json::object()), "trunk.kind"));
  EXPECT_TRUE(FailsAt(Trunk({{"kind", "pstn"}}), "trunk.kind"));
  EXPECT_TRUE(FailsAt(Trunk({{"kind", "grpc"}}), "trunk.grpc"));
  EXPECT_TRUE(FailsAt(Trunk({{"kind", "sip"}, {"grpc", {{"address", "a:1"}}}}), "trunk.sip"));

  Json t = ValidGrpcTrunk();
  t["grpc"].erase("address");
  EXPECT_TRUE(FailsAt(Trunk(t), "trunk.grpc.address"));
  for (const char* bad :
       {"localhost", "localhost:", ":50060", "localhost:70000", "::1:50060", "local host:50060"}) {
    t["grpc"]["address"] = bad;
    EXPECT_TRUE(FailsAt(Trunk(t), "trunk.grpc.address")) << bad;
  }
  for (const char* good : {"phone:50060", "[::1]:50060", "10.1.2.3:1"}) {
    t["grpc"]["address"] = good;
    EXPECT_TRUE(Trunk(t).ok()) << good << ": " << Trunk(t);
  }
}

TEST(ValidateTrunkTest, Sip) {
  struct Case {
    const char* field;
    Json value;
  };
  const Case cases[] = {
      {"host", ""},
      {"host", "sip://pbx.example.com"},
      {"port", 70000},
      {"transport", "sctp"},
      {"outbound_proxy", "proxy.example.com:5060"},
      {"auth_credential", ""},  // required with auth_username
      {"external_ip", "my-nat"},
      {"rtp_port_min", 10001},  // odd
      {"rtp_port_min", 80},
      {"rtp_port_max", 70000},
      {"ring_timeout_s", 200},
  };
  for (const Case& c : cases) {
    Json t = ValidSipTrunk();
    t["sip"][c.field] = c.value;
    EXPECT_TRUE(FailsAt(Trunk(t), absl::StrCat("trunk.sip.", c.field))) << c.value;
  }
  Json t = ValidSipTrunk();
  t["sip"]["rtp_port_max"] = 10000;
  EXPECT_TRUE(FailsAt(Trunk(t), "trunk.sip.rtp_port_max"));

  t = ValidSipTrunk();
  t["sip"]["from_numbers"] = {"+14155552671", "5551234"};
  EXPECT_TRUE(FailsAt(Trunk(t), "trunk.sip.from_numbers[1]"));

  t = ValidSipTrunk();
  t["sip"]["codecs"] = {"opus", "g729"};
  EXPECT_TRUE(FailsAt(Trunk(t), "trunk.sip.codecs[1]"));

  t = ValidSipTrunk();
  t["sip"]["codecs"] = {"pcma", "pcma"};
  EXPECT_TRUE(FailsAt(Trunk(t), "trunk.sip.codecs[1]"));

  t = ValidSipTrunk();
  t["sip"]["auth_credential"] = "SIP Password";
  EXPECT_TRUE(FailsAt(Trunk(t), "trunk.sip.auth_credential"));
}

// ----- credential and inbound route -----------------------------------------------------------

TEST(ValidateCredentialTest, Rules) {
  const Json ok = {{"provider", "deepgram"}, {"secret", "dg-123"}, {"description", "prod"}};
  EXPECT_TRUE(ValidateCredential("deepgram", ok, /*creating=*/true).ok());
  EXPECT_TRUE(ValidateCredential("deepgram", {{"provider", "deepgram"}}, /*creating=*/false).ok())
      << "an update may keep the stored secret";
  EXPECT_TRUE(FailsAt(ValidateCredential("deepgram", {{"provider", "deepgram"}}, true),
                      "credential.secret"));
  EXPECT_TRUE(FailsAt(
      ValidateSpec(parley::v1::RESOURCE_KIND_CREDENTIAL, "deepgram", {{"provider", "deepgram"}}),
      "credential.secret"));
  EXPECT_TRUE(
      FailsAt(ValidateCredential("deepgram", {{"secret", "x"}}, true), "credential.provider"));
  EXPECT_TRUE(FailsAt(ValidateCredential("Deepgram", ok, true), "name"));
  EXPECT_TRUE(
      ValidateCredential("deepgram",
                         {{"provider", "x"}, {"hint", "sk-…f3a9"}, {"last_tested_ok", true}}, false)
          .ok())
      << "read-only fields are accepted";
}

TEST(ValidateInboundRouteTest, Rules) {
  Json r = ValidInboundRoute();
  r.erase("number");
  EXPECT_TRUE(FailsAt(Route(r), "inbound_route.number"));

  r = ValidInboundRoute();
  r["number"] = "+1 415 555 2671";
  EXPECT_TRUE(FailsAt(Route(r), "inbound_route.number"));

  r = ValidInboundRoute();
  r.erase("agent");
  EXPECT_TRUE(FailsAt(Route(r), "inbound_route.agent"));

  r = ValidInboundRoute();
  r["campaign"] = "Spring";
  EXPECT_TRUE(FailsAt(Route(r), "inbound_route.campaign"));
}

}  // namespace
}  // namespace parley::config
