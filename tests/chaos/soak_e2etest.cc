// Soak: a steady load of calls for PARLEY_SOAK_SECONDS (default 120: the CI run; an hour by hand:
// PARLEY_SOAK_SECONDS=3600 ctest -R soak_e2etest --timeout 4000). Every 10 s it samples the RSS and
// open file descriptors of every service process, the Redis keys that are not per-call keys and
// the Postgres connections. After a warm-up (the first fifth of the run, at least 20 s) each must
// stay flat:
//   RSS          the last sample at most 20 % + 16 MiB above the first sample after warm-up
//   fds          at most 8 more
//   Redis keys   at most 2 more (per-call keys excluded: call:<id>…, conv:<id>…, idem:…)
//   Postgres     at most 4 more connections to the stack's database
// and at the end every call has ended once (chaos_load.h), none stuck, no slot leaked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "tests/chaos/chaos_load.h"
#include "tests/chaos/chaos_stack.h"

namespace parley::chaos {
namespace {

struct Snapshot {
  absl::Duration at;
  std::map<std::string, ProcessSample> processes;
  int redis_keys = 0;
  int pg_connections = 0;
};

TEST(SoakTest, SteadyLoadKeepsResourcesFlatAndNoCallStuck) {
  int seconds = 120;
  if (const char* text = std::getenv("PARLEY_SOAK_SECONDS"); text != nullptr) {
    ASSERT_TRUE(absl::SimpleAtoi(text, &seconds)) << text;
  }
  ChaosStack stack({.workers = 2, .max_calls = 4, .campaign_slots = 8});
  const absl::Time start = absl::Now();
  // About 4 calls a second of 1.5 s each: 6 on the line at a time.
  SteadyLoad load(stack, absl::Milliseconds(250), {.persona = "listener", .tone_ms = 1500});
  const absl::Duration warm_up = std::max(absl::Seconds(20), absl::Seconds(seconds) / 5);
  std::vector<Snapshot> snapshots;
  while (absl::Now() - start < absl::Seconds(seconds)) {
    absl::SleepFor(absl::Seconds(10));
    Snapshot s{.at = absl::Now() - start};
    for (const std::string& name : stack.Services()) s.processes[name] = stack.Sample(name);
    s.redis_keys = stack.NonCallRedisKeys();
    s.pg_connections = stack.PgConnections();
    snapshots.push_back(std::move(s));
  }
  load.Stop();
  const std::vector<std::string> ids = load.accepted();
  EndState end = stack.WaitEnd(ids, absl::Seconds(120));
  ExpectEveryCallEndedOnce(end);
  EXPECT_TRUE(load.refused().empty());

  const Snapshot* base = nullptr;
  for (const Snapshot& s : snapshots) {
    if (s.at >= warm_up) {
      base = &s;
      break;
    }
  }
  ASSERT_NE(base, nullptr) << "the run is shorter than its warm-up";
  const Snapshot& last = snapshots.back();
  std::cout << "[soak] " << seconds << " s, " << ids.size() << " calls: " << Describe(Outcomes(end))
            << "\n[soak] process    rss_kb(base→last)   fds(base→last)\n";
  for (const auto& [name, sample] : last.processes) {
    const ProcessSample& b = base->processes.at(name);
    std::cout << "[soak] " << std::left << std::setw(11) << name << b.rss_kb << "→" << sample.rss_kb
              << "   " << b.fds << "→" << sample.fds << "\n";
    EXPECT_LE(sample.rss_kb, b.rss_kb * 6 / 5 + 16 * 1024) << name << " RSS grew";
    EXPECT_LE(sample.fds, b.fds + 8) << name << " leaks file descriptors";
  }
  std::cout << "[soak] redis non-call keys " << base->redis_keys << "→" << last.redis_keys
            << ", postgres connections " << base->pg_connections << "→" << last.pg_connections
            << std::endl;
  EXPECT_LE(last.redis_keys, base->redis_keys + 2);
  EXPECT_LE(last.pg_connections, base->pg_connections + 4);
}

}  // namespace
}  // namespace parley::chaos
