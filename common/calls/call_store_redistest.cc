// CallStore against the real Redis (PARLEY_REDIS_URL); every test uses a key prefix of its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calls/call_store.h"
#include "common/calls/dnc_index.h"

namespace parley::calls {
namespace {

using parley::v1::CallStatus;

std::atomic<int> counter{0};

class CallStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("PARLEY_REDIS_URL");
    ASSERT_NE(url, nullptr) << "PARLEY_REDIS_URL is not set: run through scripts/test";
    url_ = url;
    pool_ = *redis::RedisPool::Create({.url = url_, .max_connections = 32});
    prefix_ = absl::StrCat("t", getpid(), "_", counter++, ":");
    store_ = std::make_unique<CallStore>(pool_.get(), StoreOptions{.prefix = prefix_});
    ASSERT_TRUE(store_->EnsureGroup().ok());
  }

  CallRecord NewCall(const std::string& id, const std::string& campaign = "") {
    CallRecord c;
    c.call_id = id;
    c.to = "+14155552671";
    c.agent = "payment-reminder";
    c.campaign = campaign;
    c.max_attempts = 3;
    return c;
  }

  long long Len(const std::string& key) { return pool_->Command({"XLEN", prefix_ + key})->integer; }

  std::vector<std::string> Statuses(const std::string& call_id) {
    std::vector<std::string> out;
    std::vector<CallEvent> events = *store_->ReadEvents(call_id, "0", 100, 0);
    for (const CallEvent& e : events) {
      if (e.type == "status") out.emplace_back(StatusName(e.status));
    }
    return out;
  }

  int64_t Now() { return absl::ToUnixMillis(absl::Now()); }

  std::string url_;
  std::string prefix_;
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<CallStore> store_;
};

TEST_F(CallStoreTest, CreateWritesCallEventAndJobAtomically) {
  auto r = store_->Create(NewCall("c1"), Now());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->call.status, parley::v1::CALL_STATUS_QUEUED);
  EXPECT_EQ(r->call.to, "+14155552671");
  EXPECT_EQ(Len("jobs"), 1);
  EXPECT_EQ(Statuses("c1"), std::vector<std::string>{"queued"});

  EXPECT_EQ(store_->Create(NewCall("c1"), Now()).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CallStoreTest, LastEventIdIsAStartingPointForOnlyNewEvents) {
  EXPECT_EQ(*store_->LastEventId(), "0-0");
  ASSERT_TRUE(store_->Create(NewCall("n1"), Now()).ok());
  std::string mark = *store_->LastEventId();
  EXPECT_NE(mark, "0-0");
  EXPECT_TRUE(store_->ReadAllEvents(mark, 10, 0)->empty());
  ASSERT_TRUE(store_->Create(NewCall("n2"), Now()).ok());
  auto fresh = *store_->ReadAllEvents(mark, 10, 0);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].call_id, "n2");
}

TEST_F(CallStoreTest, SameIdempotencyKeyUnderConcurrencyMakesOneCall) {
  std::vector<std::thread> threads;
  std::vector<std::string> ids(50);
  std::atomic<int> created{0};
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      CallRecord c = NewCall(absl::StrCat("idem-", i));
      c.idempotency_key = "crm-42";
      auto r = store_->Create(c, Now());
      ASSERT_TRUE(r.ok()) << r.status();
      ids[i] = r->call.call_id;
      if (r->created) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(Len("jobs"), 1);
}

TEST_F(CallStoreTest, ScheduledCallIsPromotedOnceByConcurrentMovers) {
  CallRecord c = NewCall("s1");
  c.due_ms = Now() + 200;
  ASSERT_TRUE(store_->Create(c, Now()).ok());
  EXPECT_EQ(store_->Get("s1")->status, parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(*store_->PromoteDue(Now(), 100), 0);  // not due yet
  absl::SleepFor(absl::Milliseconds(250));
  std::atomic<int> promoted{0};
  std::vector<std::thread> movers;
  for (int i = 0; i < 4; ++i) {
    movers.emplace_back([&] {
      for (int k = 0; k < 20; ++k) promoted += *store_->PromoteDue(Now(), 100);
    });
  }
  for (auto& t : movers) t.join();
  EXPECT_EQ(promoted.load(), 1);
  EXPECT_EQ(Len("jobs"), 1);
  EXPECT_EQ(store_->Get("s1")->status, parley::v1::CALL_STATUS_QUEUED);
  EXPECT_EQ(Statuses("s1"), (std::vector<std::string>{"scheduled", "queued"}));
}

TEST_F(CallStoreTest, HappyPathEmitsEveryStatusInOrder) {
  ASSERT_TRUE(store_->Create(NewCall("h1"), Now()).ok());
  auto jobs = store_->ReadJobs("w1", 10, 0);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].attempt, 1);
  auto fence = store_->Claim((*jobs)[0], "w1", 10'000, Now());
  ASSERT_TRUE(fence.ok()) << fence.status();
  for (CallStatus s : {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_RINGING,
                       parley::v1::CALL_STATUS_IN_PROGRESS}) {
    ASSERT_TRUE(store_->Transition(*fence, s, Now()).ok());
  }
  EXPECT_GT(store_->Get("h1")->answered_ms, 0);
  EXPECT_FALSE(
      store_->Transition(*fence, parley::v1::CALL_STATUS_RINGING, Now()).ok());  // backwards
  auto done =
      store_->FinishAttempt(*fence, parley::v1::CALL_STATUS_COMPLETED, "agent_hangup", {}, Now());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done->ended_reason, "agent_hangup");
  ASSERT_TRUE(store_->AckJob((*jobs)[0].stream_id).ok());
  EXPECT_EQ(Statuses("h1"), (std::vector<std::string>{"queued", "assigned", "dialing", "ringing",
                                                      "in_progress", "completed"}));
  EXPECT_FALSE(store_->Renew(*fence, 10'000, Now()).ok());  // over: the fence is gone
}

TEST_F(CallStoreTest, EventsResumeFromAnEventId) {
  ASSERT_TRUE(store_->Create(NewCall("e1"), Now()).ok());
  auto jobs = *store_->ReadJobs("w1", 1, 0);
  auto fence = *store_->Claim(jobs[0], "w1", 10'000, Now());
  ASSERT_TRUE(store_->Transition(fence, parley::v1::CALL_STATUS_DIALING, Now()).ok());
  auto all = *store_->ReadEvents("e1", "0", 100, 0);
  ASSERT_EQ(all.size(), 3u);
  auto rest = *store_->ReadEvents("e1", all[0].event_id, 100, 0);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].status, parley::v1::CALL_STATUS_ASSIGNED);
  EXPECT_EQ(rest[0].worker, "w1");
  EXPECT_EQ(rest[1].status, parley::v1::CALL_STATUS_DIALING);
}

TEST_F(CallStoreTest, ReclaimRunsAgainBeforeDialingAndEndsWorkerLostAfter) {
  ASSERT_TRUE(store_->Create(NewCall("r1"), Now()).ok());
  ASSERT_TRUE(store_->Create(NewCall("r2"), Now()).ok());
  auto jobs = *store_->ReadJobs("dead", 10, 0);
  ASSERT_EQ(jobs.size(), 2u);
  auto f1 = *store_->Claim(jobs[0], "dead", 50, Now());
  auto f2 = *store_->Claim(jobs[1], "dead", 50, Now());
  ASSERT_TRUE(store_->Transition(f2, parley::v1::CALL_STATUS_DIALING, Now()).ok());

  // While the lease holds, the owner is alive.
  EXPECT_EQ(*store_->Reclaim(jobs[0], Now(), {}), ReclaimAction::kAlive);
  absl::SleepFor(absl::Milliseconds(100));
  auto stale = *store_->ClaimStaleJobs("w2", 60, 10);
  ASSERT_EQ(stale.size(), 2u);

  // r1 never dialed: it runs again on w2, and the dead owner's writes are refused.
  EXPECT_EQ(*store_->Reclaim(stale[0], Now(), {}), ReclaimAction::kRunAgain);
  auto taken = store_->Claim(stale[0], "w2", 10'000, Now());
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_FALSE(store_->Transition(f1, parley::v1::CALL_STATUS_DIALING, Now()).ok());
  EXPECT_FALSE(store_->Renew(f1, 10'000, Now()).ok());
  EXPECT_TRUE(store_->Transition(*taken, parley::v1::CALL_STATUS_DIALING, Now()).ok());

  // r2 was dialing: ended failed/worker_lost, and the attempt can never be claimed again.
  EXPECT_EQ(*store_->Reclaim(stale[1], Now(), {}), ReclaimAction::kWorkerLost);
  CallRecord r2 = *store_->Get("r2");
  EXPECT_EQ(r2.status, parley::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(r2.ended_reason, "worker_lost");
  auto r2_events = *store_->ReadEvents("r2", "0", 100, 0);
  EXPECT_EQ(r2_events.back().detail.at("lost_worker"), "dead");
  EXPECT_FALSE(store_->Claim(stale[1], "w2", 10'000, Now()).ok());
  EXPECT_FALSE(
      store_->FinishAttempt(f2, parley::v1::CALL_STATUS_COMPLETED, "agent_hangup", {}, Now()).ok());
  EXPECT_EQ(*store_->Reclaim(stale[1], Now(), {}), ReclaimAction::kDrop);
}

TEST_F(CallStoreTest, DeferPutsTheJobBackWithoutUsingTheAttempt) {
  ASSERT_TRUE(store_->Create(NewCall("d1", "full"), Now()).ok());
  auto jobs = *store_->ReadJobs("w1", 1, 0);
  auto fence = *store_->Claim(jobs[0], "w1", 10'000, Now());
  EXPECT_FALSE(
      store_->Defer(jobs[0], "w2", Now() + 50, "campaign_full", Now()).ok());  // not the owner
  ASSERT_TRUE(store_->Defer(jobs[0], "w1", Now() + 50, "campaign_full", Now()).ok());
  CallRecord deferred = *store_->Get("d1");
  EXPECT_EQ(deferred.status, parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(deferred.attempt, 1);
  EXPECT_EQ(deferred.owner, "");
  EXPECT_FALSE(store_->Renew(fence, 10'000, Now()).ok());
  EXPECT_TRUE(store_->ClaimStaleJobs("w2", 0, 10)->empty());  // acked: nothing left pending
  absl::SleepFor(absl::Milliseconds(60));
  ASSERT_EQ(*store_->PromoteDue(Now(), 10), 1);
  auto again = *store_->ReadJobs("w2", 1, 0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1);
  EXPECT_TRUE(store_->Claim(again[0], "w2", 10'000, Now()).ok());
}

TEST_F(CallStoreTest, LiveOwnersJobIsNotReclaimedWhileItRenews) {
  ASSERT_TRUE(store_->Create(NewCall("l1"), Now()).ok());
  auto jobs = *store_->ReadJobs("w1", 1, 0);
  auto fence = *store_->Claim(jobs[0], "w1", 300, Now());
  for (int i = 0; i < 4; ++i) {
    absl::SleepFor(absl::Milliseconds(60));
    ASSERT_TRUE(store_->Renew(fence, 300, Now()).ok());
  }
  EXPECT_TRUE(store_->ClaimStaleJobs("w2", 150, 10)->empty());
}

TEST_F(CallStoreTest, RetryReschedulesTheNextAttemptOnTheSameCall) {
  ASSERT_TRUE(store_->Create(NewCall("y1"), Now()).ok());
  auto jobs = *store_->ReadJobs("w1", 1, 0);
  auto fence = *store_->Claim(jobs[0], "w1", 10'000, Now());
  ASSERT_TRUE(store_->Transition(fence, parley::v1::CALL_STATUS_DIALING, Now()).ok());
  int64_t retry_at = Now() + 100;
  auto busy = store_->FinishAttempt(fence, parley::v1::CALL_STATUS_BUSY, "busy",
                                    {.retry_at_ms = retry_at}, Now());
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->status, parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(busy->attempt, 2);
  ASSERT_TRUE(store_->AckJob(jobs[0].stream_id).ok());
  auto events = *store_->ReadEvents("y1", "0", 100, 0);
  EXPECT_EQ(events[events.size() - 2].status, parley::v1::CALL_STATUS_BUSY);
  EXPECT_EQ(events[events.size() - 2].detail.at("retry_at"), absl::StrCat(retry_at));
  absl::SleepFor(absl::Milliseconds(120));
  EXPECT_EQ(*store_->PromoteDue(Now(), 10), 1);
  auto next = *store_->ReadJobs("w1", 1, 0);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].attempt, 2);
  EXPECT_TRUE(store_->Claim(next[0], "w1", 10'000, Now()).ok());
}

TEST_F(CallStoreTest, CampaignSlotsAreBoundedAndExpiredLeasesFreeThemselves) {
  int64_t now = Now();
  EXPECT_TRUE(*store_->TakeSlot("q4", "a", 2, now + 10'000, now));
  EXPECT_TRUE(*store_->TakeSlot("q4", "b", 2, now + 50, now));
  EXPECT_FALSE(*store_->TakeSlot("q4", "c", 2, now + 10'000, now));
  EXPECT_TRUE(*store_->TakeSlot("q4", "a", 2, now + 10'000, now));  // refresh own slot
  EXPECT_EQ(*store_->ActiveSlots("q4", now), 2);
  // b's holder crashed: its lease runs out and the slot is free again.
  EXPECT_TRUE(*store_->TakeSlot("q4", "c", 2, now + 10'000, now + 100));
  EXPECT_EQ(*store_->ActiveSlots("q4", now + 100), 2);
  ASSERT_TRUE(store_->ReleaseSlot("q4", "a").ok());
  EXPECT_EQ(*store_->ActiveSlots("q4", now + 100), 1);
  EXPECT_TRUE(*store_->TakeSlot("q4", "d", 0, now + 10'000, now));  // 0 = unlimited
}

TEST_F(CallStoreTest, FinishReleasesTheCampaignSlot) {
  ASSERT_TRUE(store_->Create(NewCall("slot1", "camp"), Now()).ok());
  auto jobs = *store_->ReadJobs("w1", 1, 0);
  auto fence = *store_->Claim(jobs[0], "w1", 10'000, Now());
  ASSERT_TRUE(*store_->TakeSlot("camp", "slot1", 1, Now() + 10'000, Now()));
  ASSERT_TRUE(
      store_->FinishAttempt(fence, parley::v1::CALL_STATUS_NO_ANSWER, "ring_timeout", {}, Now())
          .ok());
  EXPECT_EQ(*store_->ActiveSlots("camp", Now()), 0);
}

TEST_F(CallStoreTest, CancelQueuedIsImmediateAndLiveCallsAreAskedThroughTheirWorker) {
  ASSERT_TRUE(store_->Create(NewCall("x1"), Now()).ok());
  auto canceled = store_->Cancel("x1", "operator", Now());
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->status, parley::v1::CALL_STATUS_CANCELED);
  EXPECT_EQ(canceled->ended_reason, "canceled");
  auto x1_events = *store_->ReadEvents("x1", "0", 10, 0);
  EXPECT_EQ(x1_events.back().detail.at("reason"), "operator");
  auto jobs = *store_->ReadJobs("w1", 1, 0);
  EXPECT_FALSE(store_->Claim(jobs[0], "w1", 10'000, Now()).ok());  // the job is dead

  // A live call: the owner hears about it on its control channel and through Renew.
  redisContext* sub = redisConnect("127.0.0.1", std::stoi(url_.substr(url_.rfind(':') + 1)));
  ASSERT_TRUE(sub != nullptr && !sub->err);
  redisReply* r = static_cast<redisReply*>(
      redisCommand(sub, "SUBSCRIBE %s", (prefix_ + "worker:w1:control").c_str()));
  freeReplyObject(r);
  ASSERT_TRUE(store_->Create(NewCall("x2"), Now()).ok());
  jobs = *store_->ReadJobs("w1", 1, 0);
  auto fence = *store_->Claim(jobs[0], "w1", 10'000, Now());
  ASSERT_TRUE(store_->Transition(fence, parley::v1::CALL_STATUS_DIALING, Now()).ok());
  auto requested = store_->Cancel("x2", "operator", Now());
  ASSERT_TRUE(requested.ok());
  EXPECT_EQ(requested->status, parley::v1::CALL_STATUS_DIALING);
  EXPECT_TRUE(requested->cancel_requested);
  EXPECT_EQ(requested->cancel_reason, "operator");
  struct timeval tv = {2, 0};
  redisSetTimeout(sub, tv);
  void* raw = nullptr;
  ASSERT_EQ(redisGetReply(sub, &raw), REDIS_OK);
  r = static_cast<redisReply*>(raw);
  ASSERT_EQ(r->elements, 3u);
  EXPECT_EQ(std::string(r->element[2]->str), "cancel x2 1");
  freeReplyObject(r);
  redisFree(sub);
  EXPECT_TRUE(*store_->Renew(fence, 10'000, Now()));  // cancel flag
  auto done = store_->FinishAttempt(fence, parley::v1::CALL_STATUS_CANCELED, "operator",
                                    {.retry_at_ms = Now() + 1000}, Now());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, parley::v1::CALL_STATUS_CANCELED);  // a cancel wins over a retry
  EXPECT_EQ(store_->Cancel("x2", "again", Now())->status, parley::v1::CALL_STATUS_CANCELED);
}

TEST_F(CallStoreTest, RejectedCallIsRecordedWithItsReason) {
  CallRecord call = NewCall("dnc1", "camp");
  call.idempotency_key = "crm-dnc";
  auto r = store_->CreateRejected(call, "dnc", Now());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->call.status, parley::v1::CALL_STATUS_REJECTED);
  EXPECT_EQ(r->call.ended_reason, "dnc");
  EXPECT_GT(r->call.ended_ms, 0);
  // A retried request with the same key gets the same rejected call, not a second record.
  CallRecord retry = NewCall("dnc2", "camp");
  retry.idempotency_key = "crm-dnc";
  auto again = store_->CreateRejected(retry, "dnc", Now());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->call.call_id, "dnc1");
  EXPECT_EQ((*store_->FindByIdempotencyKey("crm-dnc"))->call_id, "dnc1");
  EXPECT_FALSE(store_->FindByIdempotencyKey("nope")->has_value());
  EXPECT_EQ(Len("jobs"), 0);
  auto page = store_->List("camp", {parley::v1::CALL_STATUS_REJECTED}, 10, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->calls.size(), 1u);
  EXPECT_EQ(page->calls[0].call_id, "dnc1");
}

// What Create returns is what it wrote: the record is built from the request, not read back.
void ExpectSameRecord(const CallRecord& a, const CallRecord& b) {
  EXPECT_EQ(a.call_id, b.call_id);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.agent, b.agent);
  EXPECT_EQ(a.campaign, b.campaign);
  EXPECT_EQ(a.context_json, b.context_json);
  EXPECT_EQ(a.overrides_json, b.overrides_json);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.lead_id, b.lead_id);
  EXPECT_EQ(a.idempotency_key, b.idempotency_key);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.lease_until_ms, b.lease_until_ms);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
  EXPECT_EQ(a.due_ms, b.due_ms);
  EXPECT_EQ(a.ended_ms, b.ended_ms);
  EXPECT_EQ(a.ended_reason, b.ended_reason);
  EXPECT_EQ(a.dialed_attempt, b.dialed_attempt);
}

TEST_F(CallStoreTest, CreateReturnsWhatItWrote) {
  CallRecord c = NewCall("w1", "camp");
  c.context_json = R"({"name":"Jo"})";
  c.lead_id = "L1";
  c.idempotency_key = "k-w1";
  auto queued = store_->Create(c, Now());
  ASSERT_TRUE(queued.ok()) << queued.status();
  ExpectSameRecord(queued->call, *store_->Get("w1"));
  CallRecord later = NewCall("w2");
  later.due_ms = Now() + 60'000;
  auto scheduled = store_->Create(later, Now());
  ASSERT_TRUE(scheduled.ok());
  EXPECT_EQ(scheduled->call.status, parley::v1::CALL_STATUS_SCHEDULED);
  ExpectSameRecord(scheduled->call, *store_->Get("w2"));
  auto rejected = store_->CreateRejected(NewCall("w3"), "outside_calling_window", Now());
  ASSERT_TRUE(rejected.ok());
  ExpectSameRecord(rejected->call, *store_->Get("w3"));
}

TEST_F(CallStoreTest, CreateChecksTheDncIndexInTheSameScript) {
  DncIndex index(pool_.get(), DncIndexKey(prefix_));
  // No complete index: nothing is written, the caller must check another way.
  auto unknown = store_->Create(NewCall("d1", "camp"), Now(), {.dnc = true});
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_TRUE(unknown->dnc_unknown);
  EXPECT_FALSE(unknown->created);
  EXPECT_EQ(unknown->call.call_id, "d1");
  EXPECT_TRUE(absl::IsNotFound(store_->Get("d1").status()));
  // An incomplete set (entries added after Redis lost the index) is not trusted either.
  ASSERT_TRUE(index.Add("+14155550000", "").ok());
  EXPECT_TRUE(store_->Create(NewCall("d1", "camp"), Now(), {.dnc = true})->dnc_unknown);

  ASSERT_TRUE(index.Replace({{"+14155552671", "camp"}}).ok());
  // Listed for its campaign: recorded rejected/dnc, no job.
  auto listed = store_->Create(NewCall("d1", "camp"), Now(), {.dnc = true});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->created);
  EXPECT_EQ(listed->dnc_list, "campaign");
  EXPECT_EQ(listed->call.status, parley::v1::CALL_STATUS_REJECTED);
  EXPECT_EQ(listed->call.ended_reason, "dnc");
  ExpectSameRecord(listed->call, *store_->Get("d1"));
  EXPECT_EQ(Len("jobs"), 0);
  EXPECT_EQ(Statuses("d1"), std::vector<std::string>{"rejected"});
  // Another campaign, or none: queued. Without the check: queued.
  EXPECT_EQ(store_->Create(NewCall("d2", "other"), Now(), {.dnc = true})->call.status,
            parley::v1::CALL_STATUS_QUEUED);
  EXPECT_EQ(store_->Create(NewCall("d3"), Now(), {.dnc = true})->call.status,
            parley::v1::CALL_STATUS_QUEUED);
  EXPECT_EQ(store_->Create(NewCall("d4", "camp"), Now())->call.status,
            parley::v1::CALL_STATUS_QUEUED);
  // A global entry wins over a campaign's, and over a requested rejection reason.
  ASSERT_TRUE(index.Add("+14155552671", "").ok());
  auto global = store_->Create(NewCall("d5", "camp"), Now(),
                               {.dnc = true, .reject_reason = "outside_calling_window"});
  ASSERT_TRUE(global.ok());
  EXPECT_EQ(global->dnc_list, "global");
  EXPECT_EQ(global->call.ended_reason, "dnc");
  EXPECT_EQ(Len("jobs"), 3);
}

// Concurrent Creates share script runs; each must still get its own answer, as if alone.
TEST_F(CallStoreTest, ConcurrentCreatesEachGetTheirOwnAnswer) {
  DncIndex index(pool_.get(), DncIndexKey(prefix_));
  ASSERT_TRUE(index.Replace({{"+14155550000", ""}}).ok());
  constexpr int kThreads = 24, kEach = 20;
  std::atomic<int> created{0}, rejected{0}, existing{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        CallRecord c = NewCall(absl::StrCat("cc", t, "_", i));
        // Every fifth call is to the listed number; every call with i == 0 shares one key.
        if (i % 5 == 0) c.to = "+14155550000";
        if (i == 1) c.idempotency_key = "shared-key";
        auto r = store_->Create(c, Now(), {.dnc = true});
        if (!r.ok()) {
          ++wrong;
          continue;
        }
        if (!r->created) {
          ++existing;
          if (c.idempotency_key.empty()) ++wrong;
        } else if (r->call.status == parley::v1::CALL_STATUS_REJECTED) {
          ++rejected;
          if (c.to != "+14155550000" || r->call.call_id != c.call_id) ++wrong;
        } else {
          ++created;
          if (c.to == "+14155550000" || r->call.call_id != c.call_id) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(rejected, kThreads * kEach / 5);
  EXPECT_EQ(existing, kThreads - 1);  // one of the shared-key requests created the call
  EXPECT_EQ(created, kThreads * kEach - rejected - existing);
  EXPECT_EQ(Len("jobs"), created);
}

// A run writes the ListCalls indexes once, after its calls (one ZADD per index): every call of
// every run still lands in the global index and in its own campaign's, and a campaign's DNC entry
// refuses only that campaign's calls.
TEST_F(CallStoreTest, ConcurrentCreatesOfSeveralCampaignsAreAllIndexed) {
  DncIndex index(pool_.get(), DncIndexKey(prefix_));
  ASSERT_TRUE(index.Replace({{"+14155550000", "camp-1"}}).ok());
  constexpr int kThreads = 12, kEach = 10;
  std::atomic<int> wrong{0}, rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Threads 0, 3, … create without a campaign; the others for camp-1 or camp-2.
        CallRecord c =
            NewCall(absl::StrCat("mc", t, "_", i), t % 3 == 0 ? "" : absl::StrCat("camp-", t % 3));
        if (i % 5 == 0) c.to = "+14155550000";
        auto r = store_->Create(c, Now(), {.dnc = true});
        const bool listed = c.campaign == "camp-1" && c.to == "+14155550000";
        if (!r.ok() || !r->created || r->call.call_id != c.call_id ||
            (r->call.status == parley::v1::CALL_STATUS_REJECTED) != listed ||
            (listed && r->dnc_list != "campaign")) {
          ++wrong;
        }
        if (listed) ++rejected;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(rejected, 4 * 2);  // 4 camp-1 threads, calls 0 and 5
  auto all = store_->List("", {}, 1000, "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->calls.size(), static_cast<size_t>(kThreads * kEach));
  for (const std::string campaign : {"camp-1", "camp-2"}) {
    auto page = store_->List(campaign, {}, 1000, "");
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->calls.size(), static_cast<size_t>(4 * kEach)) << campaign;
    for (const CallRecord& c : page->calls) EXPECT_EQ(c.campaign, campaign);
  }
  EXPECT_EQ(Len("jobs"), kThreads * kEach - 8);
}

TEST_F(CallStoreTest, ListPaginatesNewestFirstAndFiltersByStatus) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Create(NewCall(absl::StrCat("p", i)), Now() + i).ok());
  }
  ASSERT_TRUE(store_->Cancel("p1", "x", Now()).ok());
  auto first = *store_->List("", {}, 2, "");
  ASSERT_EQ(first.calls.size(), 2u);
  EXPECT_EQ(first.calls[0].call_id, "p4");
  auto second = *store_->List("", {}, 2, first.next_cursor);
  EXPECT_EQ(second.calls[0].call_id, "p2");
  auto queued = *store_->List("", {parley::v1::CALL_STATUS_QUEUED}, 10, "");
  EXPECT_EQ(queued.calls.size(), 4u);
  // Tokens no page ever gave: a negative offset would count from the oldest call, a huge one
  // overflow the batch arithmetic.
  for (const char* token : {"-5", "9223372036854775807", "1x"}) {
    absl::StatusOr<CallStore::Page> bad = store_->List("", {}, 2, token);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("page.page_token"));
  }
}

// CreateAsync's answers come from the batcher's threads; mixed with blocking Creates, each
// caller gets exactly one answer, its own, and a store destroyed with Creates still queued
// answers them all first.
TEST_F(CallStoreTest, AsyncCreatesMixedWithBlockingOnesEachGetOneAnswer) {
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> answers{0}, wrong{0}, blocking_created{0};
  {
    CallStore store(pool_.get(), StoreOptions{.prefix = prefix_});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          CallRecord c = NewCall(absl::StrCat("ac", t, "_", i));
          if (i % 2 == 0) {
            std::string id = c.call_id;
            store.CreateAsync(std::move(c), Now(), {}, [&, id](absl::StatusOr<CreateResult> r) {
              ++answers;
              if (!r.ok() || !r->created || r->call.call_id != id) ++wrong;
            });
          } else {
            auto r = store.Create(c, Now());
            if (r.ok() && r->created && r->call.call_id == c.call_id) {
              ++blocking_created;
            } else {
              ++wrong;
            }
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }  // the destructor runs what is still queued
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(answers, kThreads * ((kEach + 1) / 2));
  EXPECT_EQ(blocking_created, kThreads * (kEach / 2));
  EXPECT_EQ(Len("jobs"), kThreads * kEach);
}

}  // namespace
}  // namespace parley::calls
