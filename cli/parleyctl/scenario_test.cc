#include "cli/parleyctl/scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/parleyctl/personas.h"

namespace parley::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kTwo[] = R"(
kind: persona
name: ignored
spec: {}
---
kind: scenario
name: books
agent: lead-qualifier
persona: cooperative-lead
context: {slot_1: "tomorrow at ten"}
expect:
  outcome: completed
  ended_reason: graph_end
  nodes: [greet, verify, exit]
  state: {appointment_booked: true, appointment_slot: slot_1, "a.b": 2}
  transcript_contains: ["All set", {role: callee, text: "earlier one"}]
  dnc: false
---
kind: scenario
name: busy
agent: lead-qualifier
campaign: lead-followup-us
persona: ../personas/busy.yaml
to: "+14155550100"
timeout_s: 30
expect: {outcome: busy, nodes_include: [greet]}
)";

TEST(ScenarioTest, ParsesEveryField) {
  auto all = ParseScenarios(kTwo, "tests/lead.yaml");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  const Scenario& a = (*all)[0];
  EXPECT_EQ(a.name, "books");
  EXPECT_FALSE(a.PersonaIsPath());
  EXPECT_EQ(a.context["slot_1"], "tomorrow at ten");
  EXPECT_EQ(a.expect.outcome, "completed");
  EXPECT_EQ(a.expect.ended_reason, "graph_end");
  EXPECT_THAT(*a.expect.nodes, ElementsAre("greet", "verify", "exit"));
  ASSERT_EQ(a.expect.state.size(), 3u);
  EXPECT_EQ(a.expect.transcript_contains[1].role, "callee");
  EXPECT_EQ(a.expect.dnc, false);
  const Scenario& b = (*all)[1];
  EXPECT_TRUE(b.PersonaIsPath());
  EXPECT_EQ(b.PersonaPath(), "personas/busy.yaml");
  EXPECT_EQ(b.timeout, absl::Seconds(30));
  EXPECT_EQ(b.to, "+14155550100");
  EXPECT_THAT(b.expect.nodes_include, ElementsAre("greet"));
}

TEST(ScenarioTest, BadScenariosSayWhereAndWhat) {
  auto missing = ParseScenarios("kind: scenario\nname: x\nagent: a\npersona: p\n", "s.yaml");
  EXPECT_EQ(missing.status().message(),
            "s.yaml: scenario x: expect: required (at least expect.outcome)");
  auto outcome = ParseScenarios(
      "kind: scenario\nname: x\nagent: a\npersona: p\nexpect: {outcome: done}\n", "s.yaml");
  EXPECT_THAT(outcome.status().message(), HasSubstr("expect.outcome: unknown status \"done\""));
  auto typo = ParseScenarios(
      "kind: scenario\nname: x\nagent: a\npersona: p\nexpect: {outcome: busy, node: [a]}\n",
      "s.yaml");
  EXPECT_THAT(typo.status().message(), HasSubstr("expect.node: unknown field"));
  auto role = ParseScenarios(
      "kind: scenario\nname: x\nagent: a\npersona: p\n"
      "expect: {outcome: busy, transcript_contains: [{role: bot, text: hi}]}\n",
      "s.yaml");
  EXPECT_THAT(role.status().message(), HasSubstr("role \"bot\": want agent or callee"));
  auto unnamed = ParseScenarios("kind: scenario\nagent: a\n", "s.yaml");
  EXPECT_EQ(unnamed.status().message(), "s.yaml: scenario #1: name: required");
  auto malformed = ParseScenarios("kind: scenario\nname: [x\n", "s.yaml");
  EXPECT_THAT(malformed.status().message(), HasSubstr("s.yaml:"));
}

TEST(ScenarioTest, ChecksEachExpectation) {
  auto all = ParseScenarios(kTwo, "lead.yaml");
  ASSERT_TRUE(all.ok()) << all.status();
  const Expectations& e = (*all)[0].expect;
  Observed good;
  good.outcome = "completed";
  good.ended_reason = "graph_end";
  good.nodes = {"greet", "verify", "exit"};
  good.state = {{"appointment_booked", true}, {"appointment_slot", "slot_1"}, {"a", {{"b", 2.0}}}};
  good.transcript = {{"agent", "You're all set with Priya."},
                     {"callee", "The earlier one, please."}};
  good.dnc = false;
  EXPECT_THAT(CheckScenario(e, good), IsEmpty());

  Observed bad = good;
  bad.outcome = "busy";
  bad.ended_reason = "callee_busy";
  bad.nodes = {"greet"};
  bad.state = {{"appointment_booked", false}};
  bad.transcript = {{"agent", "The earlier one"}};  // right words, wrong role
  bad.dnc = true;
  EXPECT_THAT(CheckScenario(e, bad),
              ElementsAre("outcome: want completed, got busy (callee_busy)",
                          "ended_reason: want graph_end, got callee_busy",
                          "nodes: want [greet, verify, exit], got [greet]",
                          "state.a.b: want 2, got nothing",
                          "state.appointment_booked: want true, got false",
                          "state.appointment_slot: want \"slot_1\", got nothing",
                          "transcript: no turn says \"All set\"",
                          "transcript: no callee turn says \"earlier one\"",
                          "dnc: the number is on the DNC list"));

  Expectations in_order = (*all)[1].expect;
  in_order.nodes_include = {"greet", "book"};
  Observed visited;
  visited.outcome = "busy";
  visited.nodes = {"greet", "verify", "book", "exit"};
  EXPECT_THAT(CheckScenario(in_order, visited), IsEmpty());
  visited.nodes = {"book", "greet"};
  EXPECT_THAT(CheckScenario(in_order, visited),
              ElementsAre("nodes_include: want [greet, book] in this order, got [book, greet]"));
}

// The shipped scenarios load, and each names a persona that deploy/examples/personas has.
TEST(ScenarioTest, ExampleScenariosLoadAndTheirPersonasExist) {
  const std::string root = PARLEY_SOURCE_DIR;
  auto all = LoadScenarios(root + "/deploy/examples/tests");
  ASSERT_TRUE(all.ok()) << all.status();
  auto personas = LoadPersonaDir(root + "/deploy/examples/personas");
  ASSERT_TRUE(personas.ok()) << personas.status();
  for (const Scenario& s : *all) {
    if (s.PersonaIsPath()) {
      EXPECT_TRUE(std::filesystem::exists(s.PersonaPath())) << s.name << ": " << s.PersonaPath();
      continue;
    }
    bool found = false;
    for (const callee::Persona& p : *personas) found = found || p.name == s.persona;
    EXPECT_TRUE(found) << s.name << ": no persona " << s.persona;
  }
}

TEST(ScenarioTest, LoadingRefusesDuplicateNamesAndEmptyFiles) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "scenario-load";
  std::filesystem::create_directories(dir);
  const std::string one =
      "kind: scenario\nname: same\nagent: a\npersona: p\nexpect: {outcome: busy}\n";
  std::ofstream(dir / "a.yaml") << one;
  std::ofstream(dir / "b.yaml") << one;
  EXPECT_THAT(LoadScenarios(dir.string()).status().message(), HasSubstr("name: used twice"));
  std::ofstream(dir / "b.yaml") << "kind: persona\nname: p\nspec: {}\n";
  auto loaded = LoadScenarios(dir.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->size(), 1u);
  EXPECT_THAT(LoadScenarios((dir / "b.yaml").string()).status().message(),
              HasSubstr("no kind: scenario documents"));
}

}  // namespace
}  // namespace parley::cli
