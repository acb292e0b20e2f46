// The worker end to end in one process: real Redis, config-api and state over a scratch Postgres
// database, and the scripted callee. A call runs from CallStore::Create to its outcome with every
// lifecycle event, the audio is paced in real time and arrives intact, and busy, no-answer,
// declined, failed, callee hang-up, dropped media and cancel all end the way a user expects.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/audio/tone.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/dispatcher_handler.h"
#include "services/worker/testing/worker_env.h"

namespace parley::worker {
namespace {

using media::testing::CalleeScript;
using media::testing::EndpointCall;
using parley::v1::CallStatus;
using testing::CallsEnv;
using testing::InProcessWorker;
using testing::NewNumber;
using testing::ServicesEnv;

class WorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    services_ = new ServicesEnv();
    services_->MakeAgent("talker", R"({"limits": {"ring_timeout_s": 5}})");
    services_->MakeCampaign("outcomes", R"({"agent": "talker",
        "retry_policy": {"retry_on": ["busy"], "max_attempts": 2,
                         "backoff": {"initial_delay_s": 1, "max_delay_s": 1}}})");
    services_->MakeCampaign("narrow", R"({"agent": "talker", "max_concurrent_calls": 1,
        "retry_policy": {"max_attempts": 1}})");
  }
  static void TearDownTestSuite() { delete services_; }

  media::testing::ScriptedEndpoint& endpoint() { return services_->endpoint(); }

  // Waits until the callee side of `call_id` is over.
  EndpointCall CalleeEnd(const std::string& call_id) {
    bool ended = endpoint().WaitUntil(
        [&](const std::vector<EndpointCall>&) {
          auto c = endpoint().Find(call_id);
          return c.has_value() && c->ended;
        },
        absl::Seconds(10));
    EXPECT_TRUE(ended) << call_id;
    return endpoint().Find(call_id).value_or(EndpointCall{});
  }

  static ServicesEnv* services_;
};

ServicesEnv* WorkerTest::services_ = nullptr;

TEST_F(WorkerTest, CallRunsToCompletedWithEveryEventAndRealTimeAudio) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls);
  const std::string to = NewNumber();
  // The callee answers at 48 kHz after 300 ms of ringing and "speaks" a 1 kHz tone for 1.5 s.
  endpoint().SetScript(to, {.ring_for = absl::Milliseconds(300),
                            .answer_rate = 48000,
                            .tone_hz = 1000,
                            .tone_start = absl::Milliseconds(100),
                            .tone_for = absl::Milliseconds(1500)});
  std::string id = calls.CreateCall(
      {.agent = "talker", .to = to, .context_json = R"({"test_prompt_ms": 2000})"});
  calls::CallRecord done = calls.WaitTerminal(id);
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(calls.StatusTrail(id),
            (std::vector<std::string>{"queued", "assigned", "dialing", "ringing", "in_progress",
                                      "completed"}));
  for (const calls::CallEvent& e : calls.Events(id)) {
    if (e.status != parley::v1::CALL_STATUS_QUEUED) {
      EXPECT_EQ(e.worker, worker.id());
    }
    EXPECT_EQ(e.attempt, 1);
  }

  // The callee heard 2 s of 440 Hz, one frame every 20 ms.
  EndpointCall callee = CalleeEnd(id);
  EXPECT_EQ(callee.invite.to(), to);
  EXPECT_EQ(callee.invite.from(), "+14155559999");
  EXPECT_EQ(callee.invite.sample_rate(), 16000);
  ASSERT_EQ(callee.frames.size(), 100u);
  // Paced in real time rather than sent in a burst: the last frame cannot leave before it is due,
  // so the arrivals span at least 99 frame times. (How late frames run under load is a benchmark
  // figure, bench/worker_bench, not something a test on a shared machine can bound.)
  const double span = callee.frames.back().arrival_ms - callee.frames.front().arrival_ms;
  EXPECT_GE(span, 99 * 20 - 20);
  std::span<const int16_t> heard(callee.heard);
  ASSERT_GE(heard.size(), 30000u);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(heard.subspan(1600, 28000), 16000), 440, 5);
  EXPECT_GT(audio::GoertzelPower(heard.subspan(1600, 28000), 16000, 440),
            50 * audio::GoertzelPower(heard.subspan(1600, 28000), 16000, 1000));
  EXPECT_TRUE(callee.worker_hung_up);
  EXPECT_EQ(callee.worker_hangup.reason(), parley::v1::Hangup::REASON_NORMAL);

  // The worker heard the callee's 48 kHz tone, resampled to 16 kHz.
  std::vector<int16_t> ours = worker.pipelines().Heard(id);
  ASSERT_GE(ours.size(), 16000u);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(std::span(ours).subspan(3200, 16000), 16000), 1000, 10);

  // State recorded the attempt and its report; the job is gone.
  auto record = services_->StateRecord(id, 1);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->status(), parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(record->ended_reason(), "agent_hangup");
  EXPECT_EQ(record->worker_id(), worker.id());
  EXPECT_TRUE(record->has_answer_time());
  EXPECT_NEAR(record->metrics().at("heard_hz"), 1000, 20);
  EXPECT_EQ(record->metrics().at("frames_sent"), 100);
  EXPECT_TRUE(record->metrics().contains("late_frames_pct"));
  EXPECT_EQ(calls.JobsInStream(), 0);
  EXPECT_EQ(calls.PendingJobs(), 0);
}

// The `transfer` tool on the gRPC media leg, which cannot transfer: the call ends as it did
// before SIP transfers existed, completed/"transfer", with no transfer_failed event — in Redis
// and in the state record.
TEST_F(WorkerTest, TransferOnTheMediaLegEndsTheCallAsTransfer) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls);
  const std::string to = NewNumber();
  endpoint().SetScript(to, {.ring_for = absl::Milliseconds(100)});
  std::string id = calls.CreateCall(
      {.agent = "talker",
       .to = to,
       .context_json = R"({"test_prompt_ms": 400, "test_transfer_to": "+14155550111"})"});
  calls::CallRecord done = calls.WaitTerminal(id);
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "transfer");
  for (const calls::CallEvent& e : calls.Events(id)) EXPECT_NE(e.type, "transfer_failed");
  EXPECT_TRUE(CalleeEnd(id).worker_hung_up);
  auto record = services_->StateRecord(id, 1);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->ended_reason(), "transfer");
}

TEST_F(WorkerTest, UnansweredCallsEndWithTheirOutcome) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls);
  struct Case {
    CalleeScript script;
    CallStatus status;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {{.pickup = CalleeScript::Pickup::kReject,
        .reject_reason = parley::v1::Reject::REASON_DECLINED},
       parley::v1::CALL_STATUS_DECLINED,
       "declined"},
      {{.pickup = CalleeScript::Pickup::kReject,
        .reject_reason = parley::v1::Reject::REASON_NO_ANSWER},
       parley::v1::CALL_STATUS_NO_ANSWER,
       "no_answer"},
      {{.pickup = CalleeScript::Pickup::kNeverAnswer},
       parley::v1::CALL_STATUS_NO_ANSWER,
       "ring_timeout"},
      {{.pickup = CalleeScript::Pickup::kReject,
        .reject_reason = parley::v1::Reject::REASON_INVALID_NUMBER,
        .reject_sip_code = 404},
       parley::v1::CALL_STATUS_FAILED,
       "invalid_number"},
      {{.pickup = CalleeScript::Pickup::kDropWhileRinging},
       parley::v1::CALL_STATUS_FAILED,
       "trunk_error"},
      {{.hangup_after = absl::Milliseconds(500)},
       parley::v1::CALL_STATUS_COMPLETED,
       "callee_hangup"},
      {{.drop_after = absl::Milliseconds(500)}, parley::v1::CALL_STATUS_FAILED, "media_lost"},
  };
  std::vector<std::string> ids;
  for (const Case& c : cases) {
    std::string to = NewNumber();
    endpoint().SetScript(to, c.script);
    ids.push_back(calls.CreateCall(
        {.agent = "talker", .to = to, .context_json = R"({"test_prompt_ms": 5000})"}));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    calls::CallRecord done = calls.WaitTerminal(ids[i], absl::Seconds(20));
    EXPECT_EQ(done.status, cases[i].status) << cases[i].reason;
    EXPECT_EQ(done.ended_reason, cases[i].reason);
    auto record = services_->StateRecord(ids[i], 1);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(record->status(), cases[i].status) << cases[i].reason;
  }
  // The ring timeout gave up ringing like a SIP CANCEL.
  EndpointCall timed_out = CalleeEnd(ids[2]);
  EXPECT_EQ(timed_out.worker_hangup.reason(), parley::v1::Hangup::REASON_CANCELED);
  EXPECT_EQ(calls.StatusTrail(ids[2]),
            (std::vector<std::string>{"queued", "assigned", "dialing", "ringing", "no_answer"}));
  // The 404 travelled into the event.
  std::vector<calls::CallEvent> events = calls.Events(ids[3]);
  EXPECT_EQ(events.back().detail["sip_code"], "404");
  EXPECT_EQ(calls.PendingJobs(), 0);
}

TEST_F(WorkerTest, BusyIsRetriedByTheCampaignPolicyThenEnds) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls);
  std::string to = NewNumber();
  endpoint().SetScript(to, {.pickup = CalleeScript::Pickup::kReject,
                            .reject_reason = parley::v1::Reject::REASON_BUSY,
                            .reject_sip_code = 486});
  std::string id =
      calls.CreateCall({.agent = "talker", .campaign = "outcomes", .to = to, .max_attempts = 2});
  calls::CallRecord scheduled = calls.WaitStatus(id, parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(scheduled.attempt, 2);
  EXPECT_EQ(scheduled.ended_reason, "busy");
  // The dispatcher's mover promotes due retries; here the test does.
  calls.WaitFor(id, [&](const calls::CallRecord&) {
    return calls.store().PromoteDue(absl::ToUnixMillis(absl::Now()), 10).value_or(0) > 0;
  });
  calls::CallRecord done = calls.WaitFor(
      id, [](const calls::CallRecord& c) { return c.attempt == 2 && calls::IsTerminal(c.status); });
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_BUSY);
  EXPECT_EQ(endpoint().InvitesFor(id), 2);
  EXPECT_TRUE(services_->StateRecord(id, 1).ok());
  EXPECT_EQ(services_->StateRecord(id, 2)->status(), parley::v1::CALL_STATUS_BUSY);
}

TEST_F(WorkerTest, CancelWhileRingingAndWhileTalking) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls);
  std::string ringing_to = NewNumber();
  endpoint().SetScript(ringing_to, {.pickup = CalleeScript::Pickup::kNeverAnswer});
  std::string talking_to = NewNumber();
  endpoint().SetScript(talking_to, {.ring_for = absl::Milliseconds(50)});
  std::string ringing = calls.CreateCall({.agent = "talker", .to = ringing_to});
  std::string talking = calls.CreateCall(
      {.agent = "talker", .to = talking_to, .context_json = R"({"test_prompt_ms": 30000})"});
  calls.WaitStatus(ringing, parley::v1::CALL_STATUS_RINGING);
  calls.WaitStatus(talking, parley::v1::CALL_STATUS_IN_PROGRESS);
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time asked = absl::Now();
  ASSERT_TRUE(calls.store().Cancel(ringing, "changed our mind", absl::ToUnixMillis(asked)).ok());
  ASSERT_TRUE(calls.store().Cancel(talking, "changed our mind", absl::ToUnixMillis(asked)).ok());
  for (const std::string& id : {ringing, talking}) {
    calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(5));
    EXPECT_EQ(done.status, parley::v1::CALL_STATUS_CANCELED);
    EXPECT_EQ(done.ended_reason, "canceled");
  }
  // Promptly: the control channel (or, failing that, the next renewal) brings the cancel; the
  // bound is loose for shared CI machines.
  EXPECT_LT(absl::Now() - asked, absl::Seconds(3));
  EXPECT_EQ(CalleeEnd(ringing).worker_hangup.reason(), parley::v1::Hangup::REASON_CANCELED);
  EndpointCall talked = CalleeEnd(talking);
  EXPECT_EQ(talked.worker_hangup.reason(), parley::v1::Hangup::REASON_NORMAL);
  EXPECT_EQ(talked.worker_hangup.detail(), "canceled");
  EXPECT_LT(talked.frames.size(), 200u);
  EXPECT_EQ(services_->StateRecord(talking, 1)->status(), parley::v1::CALL_STATUS_CANCELED);
  EXPECT_EQ(calls.PendingJobs(), 0);
}

TEST_F(WorkerTest, CampaignSlotsLimitConcurrencyAndAreAllFreedAfterwards) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.max_calls = 4, .lease = absl::Seconds(1)});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(calls.CreateCall(
        {.agent = "talker", .campaign = "narrow", .context_json = R"({"test_prompt_ms": 600})"}));
  }
  // Never two of the campaign's calls on the line at once.
  int max_live = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int ended = 0;
  while (ended < 3 && absl::Now() < deadline) {
    int live = 0;
    ended = 0;
    for (const std::string& id : ids) {
      auto c = calls.store().Get(id);
      if (!c.ok()) continue;
      if (calls::IsTerminal(c->status)) ++ended;
      if (c->status == parley::v1::CALL_STATUS_DIALING ||
          c->status == parley::v1::CALL_STATUS_RINGING ||
          c->status == parley::v1::CALL_STATUS_IN_PROGRESS) {
        ++live;
      }
    }
    max_live = std::max(max_live, live);
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(ended, 3);
  EXPECT_EQ(max_live, 1);
  for (const std::string& id : ids) {
    EXPECT_EQ(calls.store().Get(id)->status, parley::v1::CALL_STATUS_COMPLETED);
  }
  EXPECT_EQ(*calls.store().ActiveSlots("narrow", absl::ToUnixMillis(absl::Now())), 0);
  EXPECT_EQ(calls.PendingJobs(), 0);
}

TEST_F(WorkerTest, ConfigApiDownUsesTheCachedConfigThenTheDefaults) {
  CallsEnv calls(services_->redis());
  std::unique_ptr<grpcx::GrpcServer> config = services_->StartConfigServer();
  const std::string default_trunk = services_->endpoint_address();
  InProcessWorker worker(*services_, calls,
                         {.config_ttl = absl::Milliseconds(500),
                          .config_address = config->address(),
                          .default_trunk = default_trunk});
  auto counter = [&](const std::string& result) {
    std::string text = worker.metrics().Scrape();
    std::string needle = "parley_worker_config_cache_total{result=\"" + result + "\"} ";
    size_t at = text.find(needle);
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + needle.size()));
  };
  const std::string context = R"({"test_prompt_ms": 300})";
  std::string first = calls.CreateCall({.agent = "talker", .context_json = context});
  EXPECT_EQ(calls.WaitTerminal(first).status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_GE(counter("miss"), 1);

  config->Shutdown();
  absl::SleepFor(absl::Seconds(1));  // the entry expires; config-api cannot refresh it
  std::string second = calls.CreateCall({.agent = "talker", .context_json = context});
  calls::CallRecord done = calls.WaitTerminal(second);
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_GE(counter("stale"), 1);
  // The stale config is the agent's own: its caller id reached the callee.
  EXPECT_EQ(services_->endpoint().Find(second)->invite.from(), "+14155559999");

  // An agent never resolved before: the system defaults, dialing the default trunk.
  services_->MakeAgent("newcomer");
  std::string third = calls.CreateCall({.agent = "newcomer", .context_json = context});
  EXPECT_EQ(calls.WaitTerminal(third).status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(counter("default"), 1);
  EXPECT_EQ(services_->endpoint().Find(third)->invite.from(), "");
}

TEST_F(WorkerTest, ALostLeaseHangsUpAtOnceAndWritesNothingMore) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.lease = absl::Seconds(1)});
  std::string id =
      calls.CreateCall({.agent = "talker", .context_json = R"({"test_prompt_ms": 30000})"});
  calls.WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS);
  // Another worker took the attempt over (as a reclaim after a stall would).
  ASSERT_TRUE(
      calls.redis()->Command({"HSET", calls.prefix() + "call:" + id, "owner", "usurper"}).ok());
  EndpointCall callee = CalleeEnd(id);
  EXPECT_EQ(callee.worker_hangup.reason(), parley::v1::Hangup::REASON_ERROR);
  EXPECT_EQ(callee.worker_hangup.detail(), "lease_lost");
  absl::SleepFor(absl::Milliseconds(500));
  calls::CallRecord after = *calls.store().Get(id);
  EXPECT_EQ(after.status, parley::v1::CALL_STATUS_IN_PROGRESS);  // untouched: not ours to end
  EXPECT_EQ(after.owner, "usurper");
  EXPECT_EQ(calls.StatusTrail(id).back(), "in_progress");
  EXPECT_EQ(calls.PendingJobs(), 1);  // not acked: the new owner's to finish
  EXPECT_EQ(worker.worker().Info().active_calls(), 0);
}

// The whole front-to-back path: a CRM's CreateCall on the dispatcher (number in a human format)
// is dialed by a worker and completes, with the dispatcher reporting the final call.
TEST_F(WorkerTest, DispatcherCreateCallIsDialedOnceAndCompletes) {
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls);
  dispatcher::ConfigClient config(grpcx::MakeChannel({.address = services_->config_address()}));
  dispatcher::DispatcherHandler front(
      {.store = &calls.store(), .redis = calls.redis(), .config = &config},
      grpcx::TokenAuth::Disabled());
  const std::string to = NewNumber();
  endpoint().SetScript(to, {.ring_for = absl::Milliseconds(100)});
  parley::v1::CreateCallRequest request;
  request.set_to(to.substr(2));  // national format: "415…" without "+1"; region US by default
  request.set_agent("talker");
  request.set_idempotency_key("crm-" + to);
  parley::v1::Call created;
  // CreateCall is a callback-API method: reach it over gRPC, as a CRM does.
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&front);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = parley::v1::DispatcherService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext create_context;
  grpc::Status s = stub->CreateCall(&create_context, request, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.to(), to);
  // The CRM retries its request: the same call, not a second one.
  parley::v1::Call again;
  grpc::ClientContext retry_context;
  ASSERT_TRUE(stub->CreateCall(&retry_context, request, &again).ok());
  EXPECT_EQ(again.call_id(), created.call_id());

  calls::CallRecord done = calls.WaitTerminal(created.call_id());
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(endpoint().InvitesFor(created.call_id()), 1);
  parley::v1::GetCallRequest get;
  get.set_call_id(created.call_id());
  parley::v1::Call final_call;
  grpc::ServerContext get_context;
  ASSERT_TRUE(front.GetCall(&get_context, &get, &final_call).ok());
  EXPECT_EQ(final_call.status(), parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(final_call.worker_id(), "");
  EXPECT_GT(final_call.answer_time().seconds(), 0);
  EXPECT_GE(final_call.end_time().seconds(), final_call.answer_time().seconds());
  server->Shutdown();
}

}  // namespace
}  // namespace parley::worker
