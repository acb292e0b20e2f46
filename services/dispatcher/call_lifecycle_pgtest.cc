// GetCall, ListCalls, CancelCall, WatchCall, WatchEvents and ListWorkers over gRPC on loopback,
// with a worker's side of the lifecycle played through calls::CallStore, against a real
// config-api (in process, scratch Postgres) and the shared Redis (a key prefix per test).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/calls/retry_policy.h"
#include "common/redis/redis_url.h"
#include "common/status/status.h"
#include "services/dispatcher/delayed_job_mover.h"
#include "services/dispatcher/testing/dispatcher_env.h"

namespace parley::dispatcher {
namespace {

using parley::v1::Call;
using parley::v1::CallEvent;
using parley::v1::CallStatus;
using testing::ConfigApiEnv;
using testing::DispatcherEnv;

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

class LifecycleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new ConfigApiEnv();
    config_->MakeAgent("pay");
    config_->MakeAgent("lead");
    config_->MakeCampaign("pay-us", R"({"agent": "pay", "region": "US",
        "max_concurrent_calls": 1, "retry_policy": {"retry_on": ["busy"], "max_attempts": 3,
        "backoff": {"initial_delay_s": 1}}})");
    config_->MakeCampaign("lead-us", R"({"agent": "lead", "region": "US"})");
  }
  static void TearDownTestSuite() { delete config_; }

  void SetUp() override { env_ = std::make_unique<DispatcherEnv>(config_->channel()); }
  void TearDown() override { env_.reset(); }

  Call CreateOk(const std::string& campaign = "pay-us", const std::string& to = "+14155552671",
                absl::Duration delay = absl::ZeroDuration()) {
    parley::v1::CreateCallRequest r;
    r.set_to(to);
    r.set_campaign(campaign);
    if (delay > absl::ZeroDuration()) {
      r.mutable_schedule_at()->set_seconds(absl::ToUnixSeconds(absl::Now() + delay));
    }
    Call call;
    grpc::Status s = env_->stub().CreateCall(env_->Ctx().get(), r, &call);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return call;
  }

  // What a worker does first: read the next job and claim it.
  calls::Fence ClaimNext(const std::string& worker = "w1", int block_ms = 1000) {
    auto jobs = env_->store().ReadJobs(worker, 1, block_ms);
    EXPECT_TRUE(jobs.ok() && jobs->size() == 1) << jobs.status();
    if (!jobs.ok() || jobs->empty()) return {};
    auto fence = env_->store().Claim((*jobs)[0], worker, 30'000, NowMs());
    EXPECT_TRUE(fence.ok()) << fence.status();
    return fence.ok() ? *fence : calls::Fence{};
  }

  void Advance(const calls::Fence& f, std::initializer_list<CallStatus> steps) {
    for (CallStatus s : steps) {
      absl::Status st = env_->store().Transition(f, s, NowMs());
      ASSERT_TRUE(st.ok()) << st;
    }
  }

  grpc::Status Cancel(const std::string& id, Call* out) {
    parley::v1::CancelCallRequest r;
    r.set_call_id(id);
    r.set_reason("customer asked");
    return env_->stub().CancelCall(env_->Ctx().get(), r, out);
  }

  // Runs WatchCall to its end; returns the status, events in `events`.
  grpc::Status Watch(const std::string& id, const std::string& after,
                     std::vector<CallEvent>* events, absl::Duration deadline = absl::Seconds(20)) {
    parley::v1::WatchCallRequest r;
    r.set_call_id(id);
    r.set_after_event_id(after);
    auto ctx = env_->Ctx(testing::kCallsToken, deadline);
    auto reader = env_->stub().WatchCall(ctx.get(), r);
    CallEvent e;
    while (reader->Read(&e)) events->push_back(e);
    return reader->Finish();
  }

  static std::vector<std::string> Names(const std::vector<CallEvent>& events) {
    std::vector<std::string> out;
    for (const CallEvent& e : events) {
      out.push_back(absl::StrCat(AbslView(calls::StatusName(e.status())), "/", e.attempt()));
    }
    return out;
  }

  static ConfigApiEnv* config_;
  std::unique_ptr<DispatcherEnv> env_;
};

ConfigApiEnv* LifecycleTest::config_;

TEST_F(LifecycleTest, GetCall) {
  Call created = CreateOk();
  Call got;
  parley::v1::GetCallRequest r;
  r.set_call_id(created.call_id());
  ASSERT_TRUE(env_->stub().GetCall(env_->Ctx().get(), r, &got).ok());
  EXPECT_EQ(got.call_id(), created.call_id());
  EXPECT_EQ(got.campaign(), "pay-us");
  EXPECT_EQ(got.agent(), "pay");
  EXPECT_EQ(got.max_attempts(), 3);
  r.set_call_id("c_unknown");
  EXPECT_EQ(env_->stub().GetCall(env_->Ctx().get(), r, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  r.clear_call_id();
  grpc::Status s = env_->stub().GetCall(env_->Ctx().get(), r, &got);
  EXPECT_EQ(s.error_message(), "call_id: required");
}

TEST_F(LifecycleTest, ListCallsFiltersAndPages) {
  std::set<std::string> pay;
  for (int i = 0; i < 5; ++i) pay.insert(CreateOk("pay-us").call_id());
  std::string lead = CreateOk("lead-us").call_id();
  Call canceled;
  ASSERT_TRUE(Cancel(*pay.begin(), &canceled).ok());

  std::set<std::string> seen;
  parley::v1::ListCallsRequest r;
  r.set_campaign("pay-us");
  r.mutable_page()->set_page_size(2);
  int pages = 0;
  do {
    parley::v1::ListCallsResponse out;
    ASSERT_TRUE(env_->stub().ListCalls(env_->Ctx().get(), r, &out).ok());
    EXPECT_LE(out.calls_size(), 2);
    for (const Call& c : out.calls()) EXPECT_TRUE(seen.insert(c.call_id()).second);
    r.mutable_page()->set_page_token(out.next_page_token());
    ++pages;
  } while (!r.page().page_token().empty() && pages < 10);
  EXPECT_EQ(seen, pay);
  EXPECT_EQ(pages, 3);

  parley::v1::ListCallsRequest by_status;
  by_status.add_statuses(parley::v1::CALL_STATUS_CANCELED);
  parley::v1::ListCallsResponse out;
  ASSERT_TRUE(env_->stub().ListCalls(env_->Ctx().get(), by_status, &out).ok());
  ASSERT_EQ(out.calls_size(), 1);
  EXPECT_EQ(out.calls(0).call_id(), *pay.begin());

  parley::v1::ListCallsRequest by_agent;
  by_agent.set_agent("lead");
  out.Clear();
  ASSERT_TRUE(env_->stub().ListCalls(env_->Ctx().get(), by_agent, &out).ok());
  ASSERT_EQ(out.calls_size(), 1);
  EXPECT_EQ(out.calls(0).call_id(), lead);

  by_status.add_statuses(parley::v1::CALL_STATUS_UNSPECIFIED);
  grpc::Status s = env_->stub().ListCalls(env_->Ctx().get(), by_status, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "statuses[1]: ")) << s.error_message();
}

TEST_F(LifecycleTest, CancelQueuedAndScheduled) {
  Call queued = CreateOk();
  Call out;
  ASSERT_TRUE(Cancel(queued.call_id(), &out).ok());
  EXPECT_EQ(out.status(), parley::v1::CALL_STATUS_CANCELED);
  // Its job is still in the stream, but no worker can claim it.
  auto jobs = env_->store().ReadJobs("w1", 10, 0);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_FALSE(env_->store().Claim((*jobs)[0], "w1", 30'000, NowMs()).ok());

  Call scheduled = CreateOk("pay-us", "+14155552671", absl::Hours(1));
  EXPECT_EQ(scheduled.status(), parley::v1::CALL_STATUS_SCHEDULED);
  ASSERT_TRUE(Cancel(scheduled.call_id(), &out).ok());
  EXPECT_EQ(out.status(), parley::v1::CALL_STATUS_CANCELED);
  EXPECT_EQ(env_->redis().Command({"ZCARD", env_->prefix() + "delayed"})->integer, 0);

  // Canceling again returns the canceled call.
  ASSERT_TRUE(Cancel(scheduled.call_id(), &out).ok());
  EXPECT_EQ(out.status(), parley::v1::CALL_STATUS_CANCELED);
  EXPECT_EQ(Cancel("c_nope", &out).error_code(), grpc::StatusCode::NOT_FOUND);
  parley::v1::CancelCallRequest odd;
  odd.set_call_id(scheduled.call_id());
  odd.set_reason("line one\nline two");
  grpc::Status s = env_->stub().CancelCall(env_->Ctx().get(), odd, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "reason: must not contain control characters");
}

TEST_F(LifecycleTest, CancelAssignedEndsAtOnce) {
  Call call = CreateOk();
  calls::Fence fence = ClaimNext();
  Call out;
  ASSERT_TRUE(Cancel(call.call_id(), &out).ok());
  EXPECT_EQ(out.status(), parley::v1::CALL_STATUS_CANCELED);
  // The worker finds out on its next renew and must stop.
  EXPECT_FALSE(env_->store().Renew(fence, 30'000, NowMs()).ok());
}

// Subscribes to a worker's control channel with a connection of its own.
class ControlChannel {
 public:
  explicit ControlChannel(const std::string& channel) {
    auto url = *redis::ParseRedisUrl(std::getenv("PARLEY_REDIS_URL"));
    timeval tv{5, 0};
    c_ = redisConnectWithTimeout(url.host.c_str(), url.port, tv);
    redisSetTimeout(c_, tv);
    if (!url.password.empty()) freeReplyObject(redisCommand(c_, "AUTH %s", url.password.c_str()));
    freeReplyObject(redisCommand(c_, "SUBSCRIBE %s", channel.c_str()));
  }
  ~ControlChannel() { redisFree(c_); }
  // The next message, or "" after 5 s.
  std::string Next() {
    void* reply = nullptr;
    if (redisGetReply(c_, &reply) != REDIS_OK || reply == nullptr) return "";
    auto* r = static_cast<redisReply*>(reply);
    std::string out = r->type == REDIS_REPLY_ARRAY && r->elements == 3 ? r->element[2]->str : "";
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_;
};

TEST_F(LifecycleTest, CancelInProgressTellsTheOwningWorker) {
  for (CallStatus state : {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_IN_PROGRESS}) {
    SCOPED_TRACE(calls::StatusName(state));
    Call call = CreateOk();
    calls::Fence fence = ClaimNext("w1");
    if (state == parley::v1::CALL_STATUS_DIALING) {
      Advance(fence, {parley::v1::CALL_STATUS_DIALING});
    } else {
      Advance(fence, {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_RINGING,
                      parley::v1::CALL_STATUS_IN_PROGRESS});
    }
    ControlChannel control(env_->prefix() + "worker:w1:control");
    Call out;
    ASSERT_TRUE(Cancel(call.call_id(), &out).ok());
    EXPECT_EQ(out.status(), state);  // not ended until the worker hangs up
    EXPECT_EQ(control.Next(), absl::StrCat("cancel ", call.call_id(), " 1"));
    EXPECT_TRUE(env_->store().Get(call.call_id())->cancel_requested);
    EXPECT_TRUE(*env_->store().Renew(fence, 30'000, NowMs()));  // renew reports the cancel

    // The worker hangs up and ends the attempt canceled; no retry wins over a cancel.
    ASSERT_TRUE(env_->store()
                    .FinishAttempt(fence, parley::v1::CALL_STATUS_CANCELED, "canceled",
                                   {.retry_at_ms = NowMs() + 1000}, NowMs())
                    .ok());
    ASSERT_TRUE(Cancel(call.call_id(), &out).ok());
    EXPECT_EQ(out.status(), parley::v1::CALL_STATUS_CANCELED);
    ASSERT_TRUE(env_->store().AckJob(fence.job_id).ok());
  }
}

TEST_F(LifecycleTest, CancelAnEndedCallFails) {
  Call call = CreateOk();
  calls::Fence fence = ClaimNext();
  Advance(fence, {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_RINGING,
                  parley::v1::CALL_STATUS_IN_PROGRESS});
  ASSERT_TRUE(
      env_->store()
          .FinishAttempt(fence, parley::v1::CALL_STATUS_COMPLETED, "callee_hangup", {}, NowMs())
          .ok());
  Call out;
  grpc::Status s = Cancel(call.call_id(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "already ended (completed)"))
      << s.error_message();
}

TEST_F(LifecycleTest, WatchCallReplaysAndResumes) {
  Call call = CreateOk();
  calls::Fence fence = ClaimNext();
  Advance(fence, {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_RINGING,
                  parley::v1::CALL_STATUS_IN_PROGRESS});
  ASSERT_TRUE(
      env_->store()
          .FinishAttempt(fence, parley::v1::CALL_STATUS_COMPLETED, "agent_hangup", {}, NowMs())
          .ok());

  std::vector<CallEvent> all;
  grpc::Status s = Watch(call.call_id(), "", &all);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Names(all), (std::vector<std::string>{"queued/1", "assigned/1", "dialing/1",
                                                  "ringing/1", "in_progress/1", "completed/1"}));
  EXPECT_EQ(all.back().ended_reason(), "agent_hangup");
  EXPECT_EQ(all.back().campaign(), "pay-us");
  EXPECT_EQ(all[1].worker_id(), "w1");

  std::vector<CallEvent> rest;
  ASSERT_TRUE(Watch(call.call_id(), all[2].event_id(), &rest).ok());
  EXPECT_EQ(Names(rest), (std::vector<std::string>{"ringing/1", "in_progress/1", "completed/1"}));
  EXPECT_EQ(rest[0].event_id(), all[3].event_id());

  // Resumed after the final event: nothing more will come; the stream ends at once.
  std::vector<CallEvent> none;
  absl::Time start = absl::Now();
  ASSERT_TRUE(Watch(call.call_id(), all.back().event_id(), &none).ok());
  EXPECT_TRUE(none.empty());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  EXPECT_EQ(Watch("c_nope", "", &none).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Watch(call.call_id(), "yesterday", &none).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Retry scheduling end to end: attempt 1 busy → scheduled (attempt 2, retry_at) → the mover
// promotes it → attempt 2 completes. A live watcher sees all of it and ends after the last.
TEST_F(LifecycleTest, WatchFollowsARetriedCallToItsEnd) {
  Call call = CreateOk();
  std::vector<CallEvent> events;
  grpc::Status watch_status;
  // A jthread: joined (the watch ends at its deadline) even when an assertion returns early.
  std::jthread watcher([&] { watch_status = Watch(call.call_id(), "", &events); });

  calls::Fence first = ClaimNext();
  Advance(first, {parley::v1::CALL_STATUS_DIALING});
  // The campaign's policy: busy is retried, first after 1 s.
  calls::RetryPolicy policy = calls::RetryPolicy::FromJson(
      nlohmann::json::parse(R"({"retry_on": ["busy"], "max_attempts": 3,
                                "backoff": {"initial_delay_s": 1}})"),
      call.max_attempts());
  calls::RetryDecision retry =
      policy.Decide(parley::v1::CALL_STATUS_BUSY, first.attempt, absl::Now(),
                    calls::CallingWindow::AlwaysOpen(), absl::UTCTimeZone());
  ASSERT_GT(retry.retry_at_ms, NowMs());
  auto after = env_->store().FinishAttempt(first, parley::v1::CALL_STATUS_BUSY, "busy", retry,
                                           NowMs(), {{"sip_code", "486"}});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status, parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(after->attempt, 2);
  ASSERT_TRUE(env_->store().AckJob(first.job_id).ok());

  DelayedJobMover mover(&env_->store(), {.interval = absl::Milliseconds(20)});
  mover.Start();
  calls::Fence second = ClaimNext("w1", 5000);  // waits for the mover to queue attempt 2
  mover.Stop();
  EXPECT_EQ(second.attempt, 2);
  EXPECT_EQ(mover.promoted(), 1);
  Advance(second, {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_RINGING,
                   parley::v1::CALL_STATUS_IN_PROGRESS});
  ASSERT_TRUE(
      env_->store()
          .FinishAttempt(second, parley::v1::CALL_STATUS_COMPLETED, "callee_hangup", {}, NowMs())
          .ok());
  watcher.join();
  ASSERT_TRUE(watch_status.ok()) << watch_status.error_message();
  EXPECT_EQ(Names(events),
            (std::vector<std::string>{"queued/1", "assigned/1", "dialing/1", "busy/1",
                                      "scheduled/2", "queued/2", "assigned/2", "dialing/2",
                                      "ringing/2", "in_progress/2", "completed/2"}));
  ASSERT_EQ(events.size(), 11u);
  EXPECT_TRUE(absl::EndsWith(events[3].detail().at("retry_at"), "Z")) << events[3].DebugString();
  EXPECT_EQ(events[3].detail().at("sip_code"), "486");
}

TEST_F(LifecycleTest, WatchEventsFromNowFilteredByCampaign) {
  CreateOk("lead-us");  // before the watch: not "from now on"
  parley::v1::WatchEventsRequest r;
  r.set_campaign("lead-us");
  auto ctx = env_->Ctx(testing::kCallsToken, absl::Seconds(20));
  auto reader = env_->stub().WatchEvents(ctx.get(), r);
  reader->WaitForInitialMetadata();  // the stream is set up: "now" is fixed
  CreateOk("pay-us");
  Call lead = CreateOk("lead-us");
  CallEvent e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.call_id(), lead.call_id());
  EXPECT_EQ(e.campaign(), "lead-us");
  EXPECT_EQ(e.status(), parley::v1::CALL_STATUS_QUEUED);
  ctx->TryCancel();
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // "0" replays what is retained.
  r.set_after_event_id("0");
  auto ctx2 = env_->Ctx(testing::kCallsToken, absl::Seconds(20));
  auto replay = env_->stub().WatchEvents(ctx2.get(), r);
  int lead_events = 0;
  while (lead_events < 2 && replay->Read(&e)) {
    EXPECT_EQ(e.campaign(), "lead-us");
    ++lead_events;
  }
  EXPECT_EQ(lead_events, 2);
  ctx2->TryCancel();
  while (replay->Read(&e)) {
  }
  replay->Finish();
}

TEST_F(LifecycleTest, ListWorkersReadsTheRegistry) {
  redis::RedisPool& redis = env_->redis();
  const std::string p = env_->prefix();
  ASSERT_TRUE(redis
                  .Command({"HSET",         p + "worker:w2",
                            "worker_id",    "w2",
                            "host",         "box-b",
                            "pid",          "22",
                            "capacity",     "4",
                            "active_calls", "1",
                            "version",      "0.1.0",
                            "draining",     "0",
                            "heartbeat_ms", absl::StrCat(NowMs()),
                            "call_ids",     "c_9"})
                  .ok());
  ASSERT_TRUE(
      redis
          .Command({"HSET", p + "worker:w1", "worker_id", "w1", "host", "box-a", "pid", "11",
                    "capacity", "8", "active_calls", "0", "draining", "1", "call_ids", ""})
          .ok());
  ASSERT_TRUE(redis.Command({"SADD", p + "worker:w1:something", "x"}).ok());  // not a worker
  parley::v1::ListWorkersResponse out;
  grpc::Status s = env_->stub().ListWorkers(env_->Ctx().get(), {}, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.workers_size(), 2);
  EXPECT_EQ(out.workers(0).worker_id(), "w1");
  EXPECT_TRUE(out.workers(0).draining());
  EXPECT_EQ(out.workers(0).call_ids_size(), 0);
  EXPECT_EQ(out.workers(1).host(), "box-b");
  EXPECT_EQ(out.workers(1).capacity(), 4);
  EXPECT_EQ(out.workers(1).active_calls(), 1);
  ASSERT_EQ(out.workers(1).call_ids_size(), 1);
  EXPECT_GT(out.workers(1).heartbeat_time().seconds(), 0);
  EXPECT_EQ(env_->stub().ListWorkers(env_->Ctx(testing::kConfigToken).get(), {}, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// Campaign concurrency (max_concurrent_calls 1 for pay-us): a slot whose lease expired — a
// crashed worker — frees itself; a live one does not.
TEST_F(LifecycleTest, ExpiredLeaseFreesACampaignSlot) {
  calls::CallStore& store = env_->store();
  const int64_t t0 = NowMs();
  ASSERT_TRUE(*store.TakeSlot("pay-us", "c_crashed", 1, t0 + 5'000, t0));
  EXPECT_FALSE(*store.TakeSlot("pay-us", "c_next", 1, t0 + 35'000, t0 + 1'000));  // still held
  EXPECT_EQ(*store.ActiveSlots("pay-us", t0 + 1'000), 1);
  // Past the crashed worker's lease: the slot is free again.
  EXPECT_TRUE(*store.TakeSlot("pay-us", "c_next", 1, t0 + 40'000, t0 + 6'000));
  EXPECT_EQ(*store.ActiveSlots("pay-us", t0 + 6'000), 1);
  EXPECT_FALSE(*store.TakeSlot("pay-us", "c_third", 1, t0 + 40'000, t0 + 7'000));
}

}  // namespace
}  // namespace parley::dispatcher
