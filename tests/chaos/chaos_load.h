// Steady call load and the end-state checks every chaos scenario shares.
//
//   SteadyLoad load(stack, absl::Milliseconds(400), {.persona = "listener", .tone_ms = 1500});
//   … kill things …
//   load.Stop();
//   EndState end = stack.WaitEnd(load.accepted(), absl::Minutes(2));
//   ExpectEveryCallEndedOnce(end);
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/chaos/chaos_stack.h"

namespace parley::chaos {

// Creates one call every `interval` on a thread of its own until Stop(). A refused CreateCall is
// counted by status code (and never retried: a refused call is not an accepted one).
class SteadyLoad final {
 public:
  SteadyLoad(ChaosStack& stack, absl::Duration interval, CallSpec spec);
  ~SteadyLoad();  // Stop()
  void Stop();
  std::vector<std::string> accepted() const;
  std::map<absl::StatusCode, int> refused() const;
  // Calls accepted so far.
  int accepted_count() const;

 private:
  ChaosStack& stack_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<std::string> accepted_ ABSL_GUARDED_BY(mu_);
  std::map<absl::StatusCode, int> refused_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The promises of DESIGN.md for calls made with max_attempts 1: every accepted call reached a
// terminal status in Redis; the callee got at most one Invite per call id (exactly one when it
// completed); its Postgres history has no attempt left in progress and agrees with Redis; no
// campaign slot, pending job or active conversation row is left. Reports each broken promise as
// a test failure naming the call.
void ExpectEveryCallEndedOnce(const EndState& end);

// "status/ended_reason" → number of calls, for messages and the docs.
std::map<std::string, int> Outcomes(const EndState& end);
std::string Describe(const std::map<std::string, int>& outcomes);

}  // namespace parley::chaos
