// DelayedJobMover against the real Redis (PARLEY_REDIS_URL), a key prefix per test.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/dispatcher/delayed_job_mover.h"

namespace parley::dispatcher {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

class MoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("PARLEY_REDIS_URL");
    ASSERT_NE(url, nullptr) << "PARLEY_REDIS_URL is not set: run through scripts/test";
    static int counter = 0;
    prefix_ = absl::StrCat("t", getpid(), "_m", counter++, ":");
    pool_ = *redis::RedisPool::Create({.url = url, .max_connections = 16});
    store_ =
        std::make_unique<calls::CallStore>(pool_.get(), calls::StoreOptions{.prefix = prefix_});
    ASSERT_TRUE(store_->EnsureGroup().ok());
  }
  void TearDown() override {
    std::string cursor = "0";
    do {
      auto r = pool_->Command({"SCAN", cursor, "MATCH", prefix_ + "*", "COUNT", "1000"});
      ASSERT_TRUE(r.ok());
      cursor = r->elements[0].str;
      for (const auto& k : r->elements[1].elements) (void)pool_->Command({"DEL", k.str});
    } while (cursor != "0");
  }

  // `n` calls scheduled `delay` from now.
  void Schedule(int n, absl::Duration delay) {
    for (int i = 0; i < n; ++i) {
      calls::CallRecord c;
      c.call_id = absl::StrCat("c_", i);
      c.to = "+14155552671";
      c.agent = "pay";
      c.due_ms = absl::ToUnixMillis(absl::Now() + delay);
      ASSERT_TRUE(store_->Create(c, NowMs()).ok());
    }
  }

  // call id → number of jobs in the stream for it.
  std::map<std::string, int> JobsPerCall() {
    std::map<std::string, int> out;
    auto jobs = store_->ReadJobs("reader", 100000, 0);
    EXPECT_TRUE(jobs.ok());
    for (const calls::Job& j : *jobs) ++out[j.call_id];
    return out;
  }

  std::string prefix_;
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<calls::CallStore> store_;
};

// Two dispatcher replicas' movers racing over the same due entries: each is promoted exactly once.
TEST_F(MoverTest, TwoReplicasNeverDuplicateAJob) {
  Schedule(400, absl::Milliseconds(300));
  DelayedJobMover a(store_.get(), {.interval = absl::Milliseconds(1), .batch = 7});
  DelayedJobMover b(store_.get(), {.interval = absl::Milliseconds(1), .batch = 7});
  a.Start();
  b.Start();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (a.promoted() + b.promoted() < 400 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(50));  // let any duplicate show up
  a.Stop();
  b.Stop();
  EXPECT_EQ(a.promoted() + b.promoted(), 400);
  EXPECT_GT(a.promoted(), 0);
  EXPECT_GT(b.promoted(), 0);
  std::map<std::string, int> jobs = JobsPerCall();
  EXPECT_EQ(jobs.size(), 400u);
  for (const auto& [id, n] : jobs) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(pool_->Command({"ZCARD", prefix_ + "delayed"})->integer, 0);
}

TEST_F(MoverTest, RunOnceDrainsABacklogInBatches) {
  Schedule(120, absl::Seconds(1));
  DelayedJobMover mover(store_.get(),
                        {.batch = 50, .clock = [] { return absl::Now() + absl::Seconds(2); }});
  EXPECT_EQ(*mover.RunOnce(), 120);
  EXPECT_EQ(*mover.RunOnce(), 0);
  EXPECT_EQ(store_->Get("c_7")->status, parley::v1::CALL_STATUS_QUEUED);
}

TEST_F(MoverTest, NotDueIsLeftAlone) {
  Schedule(3, absl::Hours(1));
  DelayedJobMover mover(store_.get());
  EXPECT_EQ(*mover.RunOnce(), 0);
  EXPECT_EQ(store_->Get("c_0")->status, parley::v1::CALL_STATUS_SCHEDULED);
  // With a clock an hour ahead, they are due.
  DelayedJobMover later(store_.get(),
                        {.clock = [] { return absl::Now() + absl::Hours(1) + absl::Seconds(1); }});
  EXPECT_EQ(*later.RunOnce(), 3);
}

TEST_F(MoverTest, StopIsPromptAndIdempotent) {
  DelayedJobMover mover(store_.get(), {.interval = absl::Seconds(30)});
  mover.Start();
  absl::Time start = absl::Now();
  mover.Stop();
  mover.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

}  // namespace
}  // namespace parley::dispatcher
