// Callees that misbehave (tests/chaos/personas): one that never answers, one that hangs up in the
// middle of a word, one that sends garbage instead of Opus, one whose packets stop arriving. Each
// call ends failed or completed with a reason that says what happened — never stuck — and the
// worker survives them all. Runs the voice pipeline (espeak, pocketsphinx, scripted dialogue).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "absl/time/clock.h"
#include "tests/chaos/chaos_load.h"
#include "tests/chaos/chaos_stack.h"

namespace parley::chaos {
namespace {

TEST(BadCalleeChaosTest, EveryMisbehavingCalleeEndsWithTheRightReason) {
  ChaosStack stack({.workers = 1, .max_calls = 4, .pipeline = "voice", .campaign_slots = 4});
  constexpr char kLimits[] =
      R"({"limits": {"ring_timeout_s": 6, "silence_timeout_s": 6, "max_duration_s": 60}})";
  struct Case {
    std::string persona;
    parley::v1::CallStatus status;
    std::vector<std::string> reasons;  // any of these
  };
  const std::vector<Case> cases = {
      {"never-answers", parley::v1::CALL_STATUS_NO_ANSWER, {"ring_timeout"}},
      {"hangs-up-mid-word", parley::v1::CALL_STATUS_COMPLETED, {"callee_hangup"}},
      // Noise decoded from garbage is heard as nothing or as unintelligible speech: the agent
      // nudges and gives up, or the call runs into its length limit. Or the noise is heard as
      // answers — the grammar search of the embedded recogniser has no out-of-grammar
      // rejection, and "no" is a phrase of the agent's first node — and the conversation
      // reaches a terminal node (seen once in CI: graph_end after 5 turns) or the graph's limit
      // on visits to one node.
      {"garbage-audio",
       parley::v1::CALL_STATUS_COMPLETED,
       {"silence_timeout", "max_duration", "agent_hangup", "graph_end", "node_visit_limit"}},
      {"goes-dead", parley::v1::CALL_STATUS_COMPLETED, {"silence_timeout"}},
  };
  std::vector<std::string> ids;
  for (const Case& c : cases) {
    absl::StatusOr<std::string> id =
        stack.CreateCall({.persona = c.persona, .overrides_json = kLimits});
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  EndState end = stack.WaitEnd(ids, absl::Seconds(150));
  ExpectEveryCallEndedOnce(end);
  for (size_t i = 0; i < cases.size(); ++i) {
    const CallEnd& call = end.calls[ids[i]];
    const std::string reason = call.redis.ended_reason;
    EXPECT_EQ(call.redis.status, cases[i].status)
        << cases[i].persona << ": " << calls::StatusName(call.redis.status) << "/" << reason;
    EXPECT_NE(std::find(cases[i].reasons.begin(), cases[i].reasons.end(), reason),
              cases[i].reasons.end())
        << cases[i].persona << " ended " << calls::StatusName(call.redis.status) << "/" << reason;
    EXPECT_EQ(call.dials, 1) << cases[i].persona;
    std::cout << "[chaos] callee " << cases[i].persona << ": "
              << calls::StatusName(call.redis.status) << "/" << reason << ", " << call.turns
              << " turns" << std::endl;
  }
  EXPECT_TRUE(stack.Running("worker-0")) << stack.LogTail("worker-0");
}

}  // namespace
}  // namespace parley::chaos
