// config-api and state killed (kill -9) and started again under load: every accepted call ends
// once, none stuck; while config-api is away the worker runs calls on its cached config, and
// while state is away no history row is left in progress (outcomes are written once it is back).
#include <gtest/gtest.h>

#include <iostream>

#include "absl/time/clock.h"
#include "tests/chaos/chaos_load.h"
#include "tests/chaos/chaos_stack.h"

namespace parley::chaos {
namespace {

TEST(ServiceRestartChaosTest, ConfigApiAndStateKilledAndRestartedUnderLoad) {
  ChaosStack stack({.workers = 2, .max_calls = 4, .campaign_slots = 8});
  SteadyLoad load(stack, absl::Milliseconds(400), {.persona = "listener", .tone_ms = 2000});
  absl::SleepFor(absl::Seconds(4));
  stack.Kill("config-api");
  absl::SleepFor(absl::Seconds(5));
  stack.Start("config-api");
  absl::SleepFor(absl::Seconds(3));
  stack.Kill("state");
  absl::SleepFor(absl::Seconds(5));
  stack.Start("state");
  absl::SleepFor(absl::Seconds(4));
  load.Stop();
  std::map<absl::StatusCode, int> refused = load.refused();
  for (const auto& [code, n] : refused) {
    EXPECT_EQ(code, absl::StatusCode::kUnavailable) << n << " CreateCall(s) failed otherwise";
  }
  const std::vector<std::string> ids = load.accepted();
  EndState end = stack.WaitEnd(ids, absl::Seconds(120));
  ExpectEveryCallEndedOnce(end);
  std::map<std::string, int> outcomes = Outcomes(end);
  EXPECT_EQ(outcomes["completed/agent_hangup"], static_cast<int>(ids.size())) << Describe(outcomes);
  std::cout << "[chaos] config-api and state kill -9 + restart: " << ids.size() << " accepted, "
            << refused[absl::StatusCode::kUnavailable]
            << " refused UNAVAILABLE: " << Describe(outcomes) << "; stuck "
            << end.not_terminal.size() << std::endl;
}

}  // namespace
}  // namespace parley::chaos
