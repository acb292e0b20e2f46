// kill -9 of parley-worker processes, again and again, under a steady load of calls: no accepted
// call is lost, none is dialed twice, none is stuck, no campaign slot leaks. A killed worker's
// calls that had not been dialed are run by another worker; those being dialed or talked are
// ended failed/worker_lost once their lease runs out (DESIGN.md, "Lease and reclaim").
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/chaos/chaos_load.h"
#include "tests/chaos/chaos_stack.h"

namespace parley::chaos {
namespace {

TEST(WorkerKillChaosTest, RepeatedKillNineUnderLoadLosesNothingAndDialsNothingTwice) {
  // A short config TTL: every call asks config-api, so freezing config-api holds calls between
  // being read and being dialed (the mid-queue kill below).
  ChaosStack stack({.workers = 3,
                    .max_calls = 3,
                    .lease = absl::Seconds(3),
                    .campaign_slots = 6,
                    .config_ttl = absl::Milliseconds(500)});
  constexpr int kRounds = 6;
  const absl::Time started = absl::Now();
  SteadyLoad load(stack, absl::Milliseconds(300), {.persona = "listener", .tone_ms = 2500});
  absl::SleepFor(absl::Seconds(4));  // every worker busy, the campaign full, calls queued
  const std::vector<std::string> workers = stack.Workers();
  // Calls a killed worker held before dialing them: they must run again elsewhere.
  std::map<std::string, parley::v1::CallStatus> mid_queue;
  for (int round = 0; round < kRounds; ++round) {
    const std::string& victim = workers[round % workers.size()];
    const bool freeze = round % 2 == 1;  // every other round, kill it mid-queue
    if (freeze) {
      stack.Signal("config-api", SIGSTOP);
      absl::SleepFor(absl::Seconds(2));
    }
    for (const auto& [id, status] : stack.HeldJobs(victim)) {
      if (status == parley::v1::CALL_STATUS_QUEUED || status == parley::v1::CALL_STATUS_ASSIGNED) {
        mid_queue[id] = status;
      }
    }
    stack.Kill(victim);
    if (freeze) stack.Signal("config-api", SIGCONT);
    absl::SleepFor(absl::Seconds(1));
    stack.Start(victim);
    absl::SleepFor(absl::Seconds(3));
  }
  load.Stop();
  const std::vector<std::string> ids = load.accepted();
  EXPECT_TRUE(load.refused().empty()) << "the dispatcher refused calls while only workers died";
  EndState end = stack.WaitEnd(ids, absl::Seconds(120));
  ExpectEveryCallEndedOnce(end);
  std::map<std::string, int> outcomes = Outcomes(end);
  // The kills hit calls on the line (else this test proves nothing about mid-call kills) and
  // most calls still completed.
  EXPECT_GT(outcomes["failed/worker_lost"], 0) << Describe(outcomes);
  EXPECT_GT(outcomes["completed/agent_hangup"], static_cast<int>(ids.size()) / 2)
      << Describe(outcomes);
  EXPECT_FALSE(mid_queue.empty()) << "no kill caught a call between read and dial";
  for (const auto& [id, status] : mid_queue) {
    const CallEnd& call = end.calls[id];
    EXPECT_EQ(call.redis.status, parley::v1::CALL_STATUS_COMPLETED)
        << id << " was held undialed by a killed worker and ended "
        << calls::StatusName(call.redis.status) << "/" << call.redis.ended_reason;
    EXPECT_EQ(call.dials, 1) << id;
  }
  const int run_again = static_cast<int>(mid_queue.size());
  std::cout << "[chaos] worker kill -9 x" << kRounds << ": " << ids.size() << " calls in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Seconds(1))) << ": "
            << Describe(outcomes) << "; stuck " << end.not_terminal.size() << ", slots "
            << end.active_slots << ", pending " << end.pending_jobs << "; run again after a kill "
            << run_again << std::endl;
}

}  // namespace
}  // namespace parley::chaos
