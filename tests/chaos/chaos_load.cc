#include "tests/chaos/chaos_load.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status/status.h"

namespace parley::chaos {

SteadyLoad::SteadyLoad(ChaosStack& stack, absl::Duration interval, CallSpec spec) : stack_(stack) {
  thread_ = std::thread([this, interval, spec] {
    absl::Time next = absl::Now();
    while (!stop_.load()) {
      absl::StatusOr<std::string> id = stack_.CreateCall(spec, absl::Seconds(3));
      {
        absl::MutexLock lock(&mu_);
        if (id.ok()) {
          accepted_.push_back(*id);
        } else {
          ++refused_[id.status().code()];
        }
      }
      next += interval;
      const absl::Time now = absl::Now();
      if (next > now) {
        absl::SleepFor(next - now);
      } else {
        next = now;  // fell behind (a CreateCall waited out its deadline): no burst to catch up
      }
    }
  });
}

SteadyLoad::~SteadyLoad() { Stop(); }

void SteadyLoad::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> SteadyLoad::accepted() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

int SteadyLoad::accepted_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(accepted_.size());
}

std::map<absl::StatusCode, int> SteadyLoad::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

void ExpectEveryCallEndedOnce(const EndState& end) {
  EXPECT_TRUE(end.not_terminal.empty())
      << end.not_terminal.size() << " call(s) stuck, e.g. " << end.not_terminal.front()
      << " in status " << calls::StatusName(end.calls.at(end.not_terminal.front()).redis.status);
  for (const auto& [id, call] : end.calls) {
    const std::string status(calls::StatusName(call.redis.status));
    EXPECT_LE(call.dials, 1) << id << " was dialed " << call.dials << " times (" << status << "/"
                             << call.redis.ended_reason << ")";
    if (call.redis.status == parley::v1::CALL_STATUS_COMPLETED) {
      EXPECT_EQ(call.dials, 1) << id << " completed without being dialed";
    }
    bool agrees = call.history.empty();
    for (const auto& [row_status, reason] : call.history) {
      EXPECT_NE(row_status, "in_progress") << id << ": history row left in progress";
      if (row_status == status) agrees = true;
    }
    EXPECT_TRUE(agrees) << id << ": Redis says " << status << "/" << call.redis.ended_reason
                        << ", Postgres history says " << call.history.front().first << "/"
                        << call.history.front().second;
    if (call.dials > 0 && calls::IsTerminal(call.redis.status)) {
      EXPECT_FALSE(call.history.empty()) << id << " was dialed but has no history row";
    }
  }
  EXPECT_EQ(end.active_slots, 0) << "campaign slots leaked";
  EXPECT_EQ(end.pending_jobs, 0) << "jobs delivered and never acknowledged";
  EXPECT_EQ(end.active_state_rows, 0) << "conversation_state rows left active";
}

std::map<std::string, int> Outcomes(const EndState& end) {
  std::map<std::string, int> outcomes;
  for (const auto& [id, call] : end.calls) {
    ++outcomes[absl::StrCat(AbslView(calls::StatusName(call.redis.status)), "/",
                            call.redis.ended_reason)];
  }
  return outcomes;
}

std::string Describe(const std::map<std::string, int>& outcomes) {
  std::vector<std::string> parts;
  for (const auto& [what, n] : outcomes) parts.push_back(absl::StrCat(what, "=", n));
  return absl::StrJoin(parts, " ");
}

}  // namespace parley::chaos
