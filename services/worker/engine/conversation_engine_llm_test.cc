// The engine with a language model (a scripted test double): the request it sends, streaming,
// tool calls (set_state, end_call, transfer, http) and routing by the state tools wrote.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/worker/engine/conversation_engine.h"
#include "services/worker/engine/testing/engine_fixtures.h"

namespace parley::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using testing::FakeLanguageModel;
using testing::FakeReply;
using testing::MakeRuntimeConfig;
using testing::RecordingHooks;

v1::RuntimeConfig BillingConfig() {
  const Json graph = Json::parse(R"({
    "start_node": "ask",
    "terminal_nodes": ["thanks", "bye"],
    "intents": [{"name": "affirm", "phrases": ["yes"]},
                {"name": "opt_out", "phrases": ["stop calling"]}],
    "tools": [
      {"name": "record_payment", "kind": "set_state", "description": "Record a promise to pay.",
       "parameters": {"type": "object", "properties": {"promised": {"type": "boolean"}}}},
      {"name": "lookup_invoice", "kind": "http", "description": "Look up an invoice.",
       "http": {"url": "http://crm.test/lookup", "headers": {"X-Team": "billing"},
                "timeout_ms": 700, "credential": "crm"}}],
    "nodes": [
      {"name": "ask", "description": "Ask whether the customer will pay.", "prompt": "ask-prompt",
       "say": ["Will you pay {amount}?"], "tools": ["record_payment", "lookup_invoice"],
       "transitions": [{"condition": "promised == true", "to": "thanks"},
                       {"intent": "affirm", "to": "confirm"},
                       {"intent": "opt_out", "to": "bye"}]},
      {"name": "confirm", "say": ["Great."], "transitions": [{"to": "bye"}]},
      {"name": "thanks", "say": ["Thank you, {name}."]},
      {"name": "bye", "say": ["Goodbye."]}
    ]})");
  const Json tmpl = {{"llm",
                      {{"provider", "openai"},
                       {"model", "test-model"},
                       {"temperature", 0.2},
                       {"max_tokens", 80}}}};
  const Json agent = {{"system_prompt", "sys"},
                      {"default_context", {{"name", "Sam"}, {"amount", "$10"}}}};
  absl::StatusOr<v1::RuntimeConfig> config = MakeRuntimeConfig(
      graph, tmpl, agent,
      {{"sys", "You call for {company}."}, {"ask-prompt", "Ask {name} about invoice {invoice}."}});
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return {};
  (*config->mutable_credentials())["crm"] = "s3cret";
  return *config;
}

speech::ToolCall Call(std::string id, std::string name, Json args) {
  return {.id = std::move(id), .name = std::move(name), .arguments = args.dump()};
}

struct LlmHarness {
  FakeLanguageModel llm;
  RecordingHooks hooks;
  std::vector<HttpToolRequest> posted;
  std::unique_ptr<ConversationEngine> engine;
  std::vector<std::string> pieces;

  void Make() {
    HttpPoster poster = [this](const HttpToolRequest& request) -> absl::StatusOr<std::string> {
      posted.push_back(request);
      return std::string(R"({"status":"open","due":"Friday"})");
    };
    auto made = ConversationEngine::Create(
        BillingConfig(), Json{{"company", "Acme"}, {"invoice", "1042"}}, Json::object(), &llm,
        hooks.Hooks(poster), {.call_id = "call-7"});
    ASSERT_TRUE(made.ok()) << made.status();
    engine = *std::move(made);
    engine->Start([&](std::string_view t) { pieces.emplace_back(t); });
    pieces.clear();
  }
  absl::StatusOr<TurnOutput> Turn(std::string_view text,
                                  const speech::CancelFlag* cancel = nullptr) {
    return engine->OnUserTurn(
        text, [&](std::string_view t) { pieces.emplace_back(t); }, cancel);
  }
};

std::vector<std::string> ToolNames(const speech::ChatRequest& request) {
  std::vector<std::string> names;
  for (const speech::ToolDefinition& tool : request.tools) names.push_back(tool.name);
  return names;
}

TEST(LlmEngineTest, GreetingNeverAsksTheModel) {
  LlmHarness h;
  h.Make();
  EXPECT_TRUE(h.llm.requests.empty());
  EXPECT_EQ(h.engine->transcript().front().text, "Will you pay $10?");
}

TEST(LlmEngineTest, StreamsAndRunsAnHttpTool) {
  LlmHarness h;
  h.Make();
  h.llm.Push({.deltas = {"Let me check."},
              .tool_calls = {Call("t1", "lookup_invoice", {{"invoice", "1042"}})}});
  h.llm.Push({.deltas = {"It is ", "due Friday."}});
  absl::StatusOr<TurnOutput> out = h.Turn("which invoice is that?");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->text, "Let me check. It is due Friday.");
  EXPECT_THAT(h.pieces, ElementsAre("Let me check.", " ", "It is ", "due Friday."));
  EXPECT_EQ(out->node, "ask");
  EXPECT_FALSE(out->end_call);
  ASSERT_TRUE(out->llm_first_token.has_value());
  EXPECT_EQ(*out->llm_first_token, absl::Milliseconds(42));

  ASSERT_EQ(h.llm.requests.size(), 2u);
  const speech::ChatRequest& first = h.llm.requests[0];
  EXPECT_EQ(first.model, "test-model");
  EXPECT_EQ(first.temperature, 0.2);
  EXPECT_EQ(first.max_tokens, 80);
  ASSERT_GE(first.messages.size(), 3u);
  EXPECT_EQ(first.messages[0].role, "system");
  const std::string& system = first.messages[0].content;
  EXPECT_THAT(system, HasSubstr("You call for Acme."));
  EXPECT_THAT(system, HasSubstr("Current step: ask. Goal: Ask whether the customer will pay."));
  EXPECT_THAT(system, HasSubstr("Ask Sam about invoice 1042."));
  EXPECT_THAT(system, HasSubstr("- Will you pay $10?"));
  EXPECT_EQ(first.messages[1].role, "assistant");  // the greeting
  EXPECT_EQ(first.messages.back().role, "user");
  EXPECT_EQ(first.messages.back().content, "which invoice is that?");
  EXPECT_THAT(ToolNames(first),
              ElementsAre("record_payment", "lookup_invoice", "end_call", "set_state", "transfer"));
  EXPECT_EQ(first.tools[0].parameters["properties"]["promised"]["type"], "boolean");

  ASSERT_EQ(h.posted.size(), 1u);
  EXPECT_EQ(h.posted[0].url, "http://crm.test/lookup");
  EXPECT_EQ(h.posted[0].method, "POST");
  EXPECT_EQ(h.posted[0].timeout, absl::Milliseconds(700));
  EXPECT_EQ(Json::parse(h.posted[0].body), (Json{{"invoice", "1042"}, {"call_id", "call-7"}}));
  EXPECT_THAT(h.posted[0].headers,
              ::testing::UnorderedElementsAre(
                  std::pair<std::string, std::string>("X-Team", "billing"),
                  std::pair<std::string, std::string>("Authorization", "Bearer s3cret")));
  // The second request carries the tool call and its result.
  const std::vector<speech::ChatMessage>& second = h.llm.requests[1].messages;
  ASSERT_GE(second.size(), 2u);
  EXPECT_EQ(second[second.size() - 2].role, "assistant");
  ASSERT_EQ(second[second.size() - 2].tool_calls.size(), 1u);
  EXPECT_EQ(second.back().role, "tool");
  EXPECT_EQ(second.back().tool_call_id, "t1");
  EXPECT_EQ(Json::parse(second.back().content)["due"], "Friday");
  EXPECT_EQ(h.hooks.events.back().type, "tool");
  EXPECT_EQ(h.hooks.events.back().detail.at("ok"), "true");
}

TEST(LlmEngineTest, RoutingFollowsToolWrittenState) {
  LlmHarness h;
  h.Make();
  h.llm.Push({.tool_calls = {Call("t1", "record_payment", {{"promised", true}})}});
  h.llm.Push({.deltas = {"Thank you, Sam. Goodbye."}});
  absl::StatusOr<TurnOutput> out = h.Turn("Friday works for me");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->node, "thanks");
  EXPECT_TRUE(out->end_call);
  EXPECT_EQ(out->ended_reason, "graph_end");
  EXPECT_EQ(out->text, "Thank you, Sam. Goodbye.");
  EXPECT_EQ(h.engine->state()["promised"], true);
  EXPECT_THAT(h.hooks.patches, ::testing::Contains(Json{{"promised", true}}));
  ASSERT_EQ(h.llm.requests.size(), 2u);
  EXPECT_THAT(h.llm.requests[1].messages[0].content, HasSubstr("Current step: thanks."));
  EXPECT_THAT(h.llm.requests[1].messages[0].content, HasSubstr("last step"));
  EXPECT_EQ(h.hooks.Nodes(), (std::vector<std::string>{"ask", "thanks"}));
  EXPECT_EQ(h.hooks.events.back().detail.at("via"), "condition");
}

TEST(LlmEngineTest, IntentRoutingHappensBeforeTheModelSpeaks) {
  LlmHarness h;
  h.Make();
  h.llm.Push({.deltas = {"Great."}});
  absl::StatusOr<TurnOutput> out = h.Turn("yes");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->node, "confirm");
  EXPECT_EQ(out->intent, "affirm");
  EXPECT_THAT(h.llm.requests[0].messages[0].content, HasSubstr("Current step: confirm."));
}

TEST(LlmEngineTest, EndCallAndTransferTools) {
  {
    LlmHarness h;
    h.Make();
    h.llm.Push({.deltas = {"Goodbye!"}, .tool_calls = {Call("t1", "end_call", Json::object())}});
    absl::StatusOr<TurnOutput> out = h.Turn("I have to go");
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out->end_call);
    EXPECT_EQ(out->ended_reason, "end_call");
    EXPECT_EQ(out->text, "Goodbye!");
    EXPECT_EQ(h.llm.requests.size(), 1u);
  }
  {
    LlmHarness h;
    h.Make();
    h.llm.Push({.tool_calls = {Call("t1", "end_call", Json::object())}});
    absl::StatusOr<TurnOutput> out = h.Turn("I have to go");
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->text, EngineOptions().goodbye_text);  // the model said nothing
  }
  {
    LlmHarness h;
    h.Make();
    h.llm.Push({.deltas = {"Transferring you now."},
                .tool_calls = {Call("t1", "transfer", {{"to", "+15550100"}})}});
    absl::StatusOr<TurnOutput> out = h.Turn("can I talk to a person");
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->ended_reason, "transfer");
    EXPECT_EQ(out->transfer_to, "+15550100");
    bool saw = false;
    for (const auto& e : h.hooks.events)
      saw |= e.type == "transfer" && e.detail.at("to") == "+15550100";
    EXPECT_TRUE(saw);
  }
}

TEST(LlmEngineTest, UnknownToolAndBadArgumentsAreReportedToTheModel) {
  LlmHarness h;
  h.Make();
  h.llm.Push({.tool_calls = {Call("t1", "launch_rocket", Json::object()),
                             {.id = "t2", .name = "set_state", .arguments = "[1,2]"}}});
  h.llm.Push({.deltas = {"Sorry about that."}});
  absl::StatusOr<TurnOutput> out = h.Turn("hmm");
  ASSERT_TRUE(out.ok());
  const std::vector<speech::ChatMessage>& messages = h.llm.requests[1].messages;
  EXPECT_EQ(Json::parse(messages[messages.size() - 2].content)["ok"], false);
  EXPECT_EQ(Json::parse(messages.back().content)["ok"], false);
  EXPECT_TRUE(h.hooks.patches.empty());
}

TEST(LlmEngineTest, ModelErrorFallsBackToTheScriptedLines) {
  LlmHarness h;
  h.Make();
  h.llm.Push({.error = absl::UnavailableError("connection refused")});
  absl::StatusOr<TurnOutput> out = h.Turn("what?");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->text, "Will you pay $10?");
  EXPECT_EQ(h.hooks.events.back().type, "error");
  EXPECT_EQ(h.hooks.events.back().detail.at("what"), "llm");
}

TEST(LlmEngineTest, CancelledTurnAndInterruptionKeepOnlyWhatWasHeard) {
  LlmHarness h;
  h.Make();
  speech::CancelFlag cancel;
  cancel.Cancel();
  h.llm.Push({.deltas = {"This will not be heard."}});
  absl::StatusOr<TurnOutput> out = h.Turn("hello?", &cancel);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kCancelled);

  h.llm.Push({.deltas = {"Your invoice is ", "for ten dollars and due on Friday."}});
  out = h.Turn("what is this about?");
  ASSERT_TRUE(out.ok());
  h.engine->OnInterrupted("Your invoice is");
  EXPECT_EQ(h.engine->transcript().back().text, "Your invoice is");
  EXPECT_TRUE(h.engine->transcript().back().interrupted);
  h.llm.Push({.deltas = {"Sorry, go ahead."}});
  out = h.Turn("wait");
  ASSERT_TRUE(out.ok());
  bool truncated = false;
  for (const speech::ChatMessage& m : h.llm.requests.back().messages) {
    EXPECT_THAT(m.content, Not(HasSubstr("due on Friday")));
    truncated |= m.role == "assistant" && m.content == "Your invoice is";
  }
  EXPECT_TRUE(truncated);
}

TEST(LlmEngineTest, OptOutNeverAsksTheModel) {
  LlmHarness h;
  h.Make();
  absl::StatusOr<TurnOutput> out = h.Turn("please stop calling");
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->opt_out);
  EXPECT_EQ(out->node, "bye");
  EXPECT_EQ(out->text, "Goodbye.");
  EXPECT_TRUE(h.llm.requests.empty());
}

TEST(LlmEngineTest, SummaryFromTheModelOrTheStructuredOne) {
  LlmHarness h;
  h.Make();
  h.llm.Push({.deltas = {"Sure."}});
  ASSERT_TRUE(h.Turn("hmm").ok());
  h.llm.Push({.deltas = {"Sam was asked about invoice 1042. No promise was made."}});
  EXPECT_EQ(h.engine->SummarizeWithLlm(), "Sam was asked about invoice 1042. No promise was made.");
  EXPECT_THAT(h.llm.requests.back().messages.back().content, HasSubstr("Callee: hmm"));
  h.llm.Push({.error = absl::UnavailableError("down")});
  EXPECT_EQ(h.engine->SummarizeWithLlm(), h.engine->Summary());
}

TEST(LlmEngineTest, TalkingWithinANodeIsNotALoop) {
  LlmHarness h;
  h.Make();
  for (int i = 0; i < 8; ++i) {
    h.llm.Push({.deltas = {"And what else?"}});
    absl::StatusOr<TurnOutput> out = h.Turn("let me think");
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(out->end_call) << i;
    EXPECT_EQ(out->node, "ask");
  }
}

TEST(LlmEngineTest, TurnLimitEndsTheCall) {
  FakeLanguageModel llm;
  RecordingHooks hooks;
  auto made = ConversationEngine::Create(BillingConfig(), Json::object(), Json::object(), &llm,
                                         hooks.Hooks(), {.max_turns = 2});
  ASSERT_TRUE(made.ok());
  ConversationEngine& engine = **made;
  engine.Start([](std::string_view) {});
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(engine.OnUserTurn("hmm", [](std::string_view) {})->end_call);
  }
  absl::StatusOr<TurnOutput> out = engine.OnUserTurn("hmm", [](std::string_view) {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->ended_reason, "turn_limit");
  EXPECT_EQ(out->text, EngineOptions().goodbye_text);
}

}  // namespace
}  // namespace parley::engine
