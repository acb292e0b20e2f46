// The scripted policy walking the example graphs (deploy/examples) and the engine's built-in
// rules: opt-out, end-call phrases, re-asking, the node visit limit, conditions over the context.
#include "services/worker/engine/conversation_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "services/worker/engine/testing/engine_fixtures.h"

namespace parley::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Json = nlohmann::json;
using testing::ExampleRuntimeConfig;
using testing::MakeRuntimeConfig;
using testing::RecordingHooks;

struct Harness {
  RecordingHooks hooks;
  std::unique_ptr<ConversationEngine> engine;
  std::vector<std::string> pieces;  // every on_text piece, in order

  void Make(const v1::RuntimeConfig& config, Json context = Json::object(),
            Json state = Json::object(), EngineOptions options = {}) {
    absl::StatusOr<std::unique_ptr<ConversationEngine>> made = ConversationEngine::Create(
        config, std::move(context), std::move(state), nullptr, hooks.Hooks(), std::move(options));
    ASSERT_TRUE(made.ok()) << made.status();
    engine = *std::move(made);
  }
  TurnOutput Start() {
    return engine->Start([&](std::string_view t) { pieces.emplace_back(t); });
  }
  TurnOutput Turn(std::string_view text) {
    absl::StatusOr<TurnOutput> out =
        engine->OnUserTurn(text, [&](std::string_view t) { pieces.emplace_back(t); });
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : TurnOutput{};
  }
};

v1::RuntimeConfig Example(std::string_view agent) {
  absl::StatusOr<v1::RuntimeConfig> config = ExampleRuntimeConfig(agent);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : v1::RuntimeConfig();
}

TEST(ScriptedEngineTest, WalksLeadQualifierToABooking) {
  Harness h;
  h.Make(Example("lead-qualifier"), Json{{"lead_name", "Dana"}});
  TurnOutput greeting = h.Start();
  EXPECT_EQ(greeting.text,
            "Hi, this is the virtual assistant from Northwind Software. May I speak with Dana, "
            "please?");
  // Lines after the first carry their separating space: the sink is a stream.
  EXPECT_THAT(h.pieces, ElementsAre("Hi, this is the virtual assistant from Northwind Software.",
                                    " May I speak with Dana, please?"));
  EXPECT_EQ(greeting.node, "greet");
  EXPECT_FALSE(greeting.end_call);

  TurnOutput out = h.Turn("yes that's me");
  EXPECT_EQ(out.node, "verify");
  EXPECT_EQ(out.intent, "affirm");
  EXPECT_THAT(out.text, HasSubstr("Northwind Scheduler on our website"));

  out = h.Turn("yes");
  EXPECT_EQ(out.node, "qualify");
  out = h.Turn("as soon as possible");
  EXPECT_EQ(out.node, "answer");
  EXPECT_EQ(out.intent, "timeline_soon");
  out = h.Turn("yes please");
  EXPECT_EQ(out.node, "book");
  EXPECT_THAT(out.text, HasSubstr("tomorrow at ten in the morning, or Thursday at two in the afternoon"));
  out = h.Turn("the first one");
  EXPECT_EQ(out.node, "exit");
  EXPECT_TRUE(out.end_call);
  EXPECT_EQ(out.ended_reason, "graph_end");
  EXPECT_THAT(out.text, HasSubstr("Thanks for your time, Dana."));

  const Json& state = h.engine->state();
  EXPECT_EQ(state["verified"], true);
  EXPECT_EQ(state["qualified"], true);
  EXPECT_EQ(state["timeline"], "within_3_months");
  EXPECT_EQ(state["appointment_booked"], true);
  EXPECT_EQ(state["appointment_slot"], "slot_1");
  EXPECT_EQ(h.hooks.merged, state);  // every change went through update_state
  EXPECT_THAT(h.engine->nodes_visited(),
              ElementsAre("greet", "verify", "qualify", "answer", "book", "exit"));
  EXPECT_EQ(h.hooks.Nodes(), h.engine->nodes_visited());
  EXPECT_EQ(h.hooks.events[0].detail.at("via"), "start");
  EXPECT_EQ(h.hooks.events[1].detail.at("via"), "intent");
  EXPECT_EQ(h.hooks.events[1].detail.at("from"), "greet");
  EXPECT_EQ(h.hooks.events[1].detail.at("intent"), "affirm");

  // The call is over.
  EXPECT_EQ(h.engine->OnUserTurn("hello?", [](std::string_view) {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.engine->transcript().size(), 11u);
  const std::string summary = h.engine->Summary();
  EXPECT_THAT(summary, HasSubstr("greet -> verify -> qualify -> answer -> book -> exit"));
  EXPECT_THAT(summary, HasSubstr("appointment_slot=\"slot_1\""));
  EXPECT_THAT(summary, HasSubstr("end of the graph"));
}

TEST(ScriptedEngineTest, QualifiedOnAnEarlierCallSkipsTheQuestions) {
  Harness h;
  h.Make(Example("lead-qualifier"), Json::object(), Json{{"qualified", true}});
  h.Start();
  h.Turn("yes, speaking");
  TurnOutput out = h.Turn("yes");
  EXPECT_EQ(out.node, "answer");
  EXPECT_EQ(h.hooks.events.back().detail.at("condition"), "qualified == true");
  EXPECT_EQ(h.engine->state()["verified"], true);
}

TEST(ScriptedEngineTest, GraphOptOutIntentFromAnyNode) {
  for (int depth = 0; depth < 4; ++depth) {
    Harness h;
    h.Make(Example("lead-qualifier"));
    h.Start();
    const std::vector<std::string> path = {"yes", "yes", "soon"};
    for (int i = 0; i < depth && i < 3; ++i) h.Turn(path[i]);
    const std::string from = h.engine->current_node();
    TurnOutput out = h.Turn("Please take me off your list");
    EXPECT_TRUE(out.opt_out) << from;
    EXPECT_TRUE(out.end_call);
    EXPECT_EQ(out.ended_reason, "opt_out");
    EXPECT_EQ(out.node, "opt_out");
    EXPECT_THAT(out.text, HasSubstr("we won't call you again"));
    EXPECT_EQ(h.hooks.merged["opted_out"], true);
  }
}

// A graph without an opt_out intent or transition: the built-in phrases and confirmation.
Json TinyGraph() {
  return Json::parse(R"({
    "start_node": "ask",
    "terminal_nodes": ["done"],
    "intents": [{"name": "affirm", "phrases": ["yes"]}, {"name": "deny", "phrases": ["no"]}],
    "nodes": [
      {"name": "ask", "say": ["Hello {name}.", "Is the amount {amount} right?"],
       "transitions": [
         {"intent": "affirm", "condition": "context.amount > 100", "to": "big"},
         {"intent": "affirm", "to": "done", "set_state": {"confirmed": true}},
         {"intent": "deny", "to": "ask"}]},
      {"name": "big", "say": ["That is a large amount."], "transitions": [{"to": "done"}]},
      {"name": "done", "say": ["Thanks, bye."]}
    ]})");
}

Json TinyTemplate() {
  return Json{{"llm", {{"provider", "scripted"}}}, {"end_call_phrases", {"goodbye", "bye now"}}};
}

Json TinyAgent() { return Json{{"default_context", {{"name", "Sam"}, {"amount", 50}}}}; }

v1::RuntimeConfig Tiny() {
  absl::StatusOr<v1::RuntimeConfig> config =
      MakeRuntimeConfig(TinyGraph(), TinyTemplate(), TinyAgent());
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : v1::RuntimeConfig();
}

TEST(ScriptedEngineTest, BuiltInOptOutWithoutAGraphIntent) {
  Harness h;
  h.Make(Tiny());
  h.Start();
  TurnOutput out = h.Turn("Don't call me ever again.");
  EXPECT_TRUE(out.opt_out);
  EXPECT_EQ(out.ended_reason, "opt_out");
  EXPECT_EQ(out.node, "ask");
  EXPECT_EQ(out.text, EngineOptions().opt_out_text);
  EXPECT_EQ(h.hooks.merged["opted_out"], true);
}

TEST(ScriptedEngineTest, EndCallPhraseSaysGoodbye) {
  Harness h;
  h.Make(Tiny());
  h.Start();
  TurnOutput out = h.Turn("ok, bye now");
  EXPECT_TRUE(out.end_call);
  EXPECT_EQ(out.ended_reason, "end_call_phrase");
  EXPECT_EQ(out.text, EngineOptions().goodbye_text);
  EXPECT_FALSE(out.opt_out);
}

TEST(ScriptedEngineTest, NoMatchReasksThenTheVisitLimitEndsTheCall) {
  Harness h;
  h.Make(Tiny(), Json::object(), Json::object(), {.max_node_visits = 3});
  EXPECT_EQ(h.Start().text, "Hello Sam. Is the amount 50 right?");
  TurnOutput out = h.Turn("banana");
  EXPECT_EQ(out.node, "ask");
  EXPECT_EQ(out.text, "Sorry, could you say that again? Is the amount 50 right?");
  EXPECT_FALSE(out.end_call);
  out = h.Turn("no");  // re-enters ask: the third visit
  EXPECT_FALSE(out.end_call);
  EXPECT_EQ(out.text, "Hello Sam. Is the amount 50 right?");
  out = h.Turn("banana");
  EXPECT_TRUE(out.end_call);
  EXPECT_EQ(out.ended_reason, "node_visit_limit");
  EXPECT_EQ(out.text, EngineOptions().goodbye_text);
}

TEST(ScriptedEngineTest, TemplateLimitsTheVisitsByDefault) {
  Json tmpl = TinyTemplate();
  tmpl["limits"] = {{"max_node_visits", 1}};
  absl::StatusOr<v1::RuntimeConfig> config = MakeRuntimeConfig(TinyGraph(), tmpl, TinyAgent());
  ASSERT_TRUE(config.ok());
  Harness h;
  h.Make(*config);
  h.Start();
  EXPECT_EQ(h.Turn("hmm").ended_reason, "node_visit_limit");
}

TEST(ScriptedEngineTest, ConditionsReadTheCallContext) {
  Harness low;
  low.Make(Tiny());
  low.Start();
  TurnOutput out = low.Turn("yes");
  EXPECT_EQ(out.node, "done");
  EXPECT_EQ(out.ended_reason, "graph_end");
  EXPECT_EQ(low.engine->state()["confirmed"], true);

  Harness high;
  high.Make(Tiny(), Json{{"amount", 250}});
  EXPECT_EQ(high.Start().text, "Hello Sam. Is the amount 250 right?");
  out = high.Turn("yes");
  EXPECT_EQ(out.node, "big");
  EXPECT_FALSE(out.end_call);
  out = high.Turn("whatever");  // the default transition
  EXPECT_EQ(out.node, "done");
  EXPECT_EQ(high.hooks.events.back().detail.at("via"), "default");
}

TEST(ScriptedEngineTest, WalksPaymentReminder) {
  Harness h;
  h.Make(Example("payment-reminder"), Json{{"customer_name", "Alex Doe"}});
  EXPECT_THAT(h.Start().text, HasSubstr("May I speak with Alex Doe"));
  EXPECT_EQ(h.Turn("this is she").node, "verify");
  TurnOutput out = h.Turn("yes, correct");
  EXPECT_EQ(out.node, "remind");
  EXPECT_THAT(out.text, HasSubstr("invoice 1042 for $142.50 is due on March 15"));
  out = h.Turn("I'll pay it on Friday");
  EXPECT_EQ(out.node, "promise_to_pay");
  EXPECT_FALSE(out.end_call);
  out = h.Turn("thanks");
  EXPECT_EQ(out.node, "exit");
  EXPECT_EQ(out.ended_reason, "graph_end");
  EXPECT_EQ(h.engine->state()["promised_payment"], true);
  EXPECT_EQ(h.engine->state()["verified"], true);
}

TEST(ScriptedEngineTest, PaymentReminderWrongPersonNeverHearsTheInvoice) {
  Harness h;
  h.Make(Example("payment-reminder"));
  h.Start();
  TurnOutput out = h.Turn("no, wrong number");
  EXPECT_EQ(out.node, "wrong_person");
  EXPECT_TRUE(out.end_call);
  EXPECT_THAT(absl::StrJoin(h.pieces, " "), Not(HasSubstr("1042")));
}

TEST(ScriptedEngineTest, TemplateGreetingAndExpectedPhrases) {
  Json tmpl = TinyTemplate();
  tmpl["greeting"] = "Hi {name}, it's about {amount}.";
  absl::StatusOr<v1::RuntimeConfig> config = MakeRuntimeConfig(TinyGraph(), tmpl, TinyAgent());
  ASSERT_TRUE(config.ok());
  Harness h;
  h.Make(*config);
  EXPECT_EQ(h.Start().text, "Hi Sam, it's about 50.");
  std::vector<std::string> phrases = h.engine->ExpectedPhrases();
  EXPECT_THAT(phrases, ::testing::IsSupersetOf({"yes", "no", "stop calling", "goodbye"}));
}

TEST(ScriptedEngineTest, InterruptedTurnKeepsWhatWasHeard) {
  Harness h;
  h.Make(Tiny());
  h.Start();
  h.engine->OnInterrupted("Hello Sam.");
  ASSERT_THAT(h.engine->transcript(), Not(IsEmpty()));
  EXPECT_EQ(h.engine->transcript().back().text, "Hello Sam.");
  EXPECT_TRUE(h.engine->transcript().back().interrupted);
}

TEST(ScriptedEngineTest, BadGraphIsRejected) {
  Json graph = TinyGraph();
  graph["nodes"][0]["transitions"][0]["condition"] = "amount >";
  absl::StatusOr<v1::RuntimeConfig> config = MakeRuntimeConfig(graph, TinyTemplate(), TinyAgent());
  ASSERT_TRUE(config.ok());
  RecordingHooks hooks;
  auto made = ConversationEngine::Create(*config, {}, {}, nullptr, hooks.Hooks(), {});
  EXPECT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(made.status().message(), HasSubstr("graph.nodes[0].transitions[0].condition"));
}

// The calls of one config share one graph model; another config (also one allocated where a freed
// one was) gets its own, and a bad config fails as Create does.
TEST(SharedGraphModelTest, OneModelPerLiveConfig) {
  auto tiny = std::make_shared<const v1::RuntimeConfig>(Tiny());
  absl::StatusOr<std::shared_ptr<const GraphModel>> a = SharedGraphModel(tiny);
  absl::StatusOr<std::shared_ptr<const GraphModel>> b = SharedGraphModel(tiny);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->get(), b->get());
  const std::string tiny_start = tiny->graph().spec().fields().at("start_node").string_value();
  EXPECT_EQ((*a)->graph().start_node(), tiny_start);

  // Freed, then configs allocated until one takes its address (malloc reuses the block at once).
  const v1::RuntimeConfig* freed = tiny.get();
  tiny.reset();
  std::vector<std::shared_ptr<const v1::RuntimeConfig>> others;
  for (int i = 0; i < 100 && (others.empty() || others.back().get() != freed); ++i) {
    others.push_back(std::make_shared<const v1::RuntimeConfig>(Example("lead-qualifier")));
  }
  absl::StatusOr<std::shared_ptr<const GraphModel>> c = SharedGraphModel(others.back());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(c->get(), a->get());
  EXPECT_EQ((*c)->graph().start_node(), "greet");
  EXPECT_NE(tiny_start, "greet");

  Json graph = TinyGraph();
  graph["nodes"][0]["transitions"][0]["condition"] = "amount >";
  absl::StatusOr<v1::RuntimeConfig> bad = MakeRuntimeConfig(graph, TinyTemplate(), TinyAgent());
  ASSERT_TRUE(bad.ok());
  absl::StatusOr<std::shared_ptr<const GraphModel>> refused =
      SharedGraphModel(std::make_shared<const v1::RuntimeConfig>(*bad));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::engine
