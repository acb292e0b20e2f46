// Calls that come in over SIP, end to end: sipp (Debian's sip-tester, a SIP peer not written
// here) calls the worker's SIP port as a UAC; the worker in process (real Redis, config-api and
// state over a scratch database) looks the number's inbound route up, creates the call through a
// real dispatcher (its gRPC CreateCall, direction inbound) and runs it with the leg already
// answered. An answered call gets the agent's audio (sipp echoes the RTP it receives, and the
// worker hears its own 440 Hz prompt back) and is recorded like a dialed one; an unknown number
// gets 404; a full or draining worker 503.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/audio/tone.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/dispatcher_handler.h"
#include "services/worker/inbound_router.h"
#include "services/worker/sip/sip_telephony.h"
#include "services/worker/sip/testing/sipp.h"
#include "services/worker/testing/worker_env.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/voice_pipeline.h"

namespace parley::worker {
namespace {

using sip::testing::SippPeer;
using testing::CallsEnv;
using testing::InProcessWorker;
using testing::NewNumber;
using testing::ServicesEnv;

class SipInboundTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    services_ = new ServicesEnv();
    services_->Apply(parley::v1::RESOURCE_KIND_TEMPLATE, "in-tmpl", "{}");
    services_->Apply(parley::v1::RESOURCE_KIND_GRAPH, "in-graph", R"({
        "start_node": "greet", "terminal_nodes": ["bye"],
        "nodes": [{"name": "greet", "say": ["Hello"], "transitions": [{"to": "bye"}]},
                  {"name": "bye", "say": ["Goodbye"]}]})");
    // The agent's own trunk is for its outbound calls; inbound ones never use it.
    services_->Apply(parley::v1::RESOURCE_KIND_TRUNK, "in-trunk",
                     R"({"kind": "sip", "sip": {"host": "127.0.0.1", "port": 9}})");
    services_->Apply(parley::v1::RESOURCE_KIND_AGENT, "front-desk",
                     R"({"template": "in-tmpl", "graph": "in-graph", "trunk": "in-trunk",
                         "from": "+14155559999"})");
    // The embedded voice pipeline (espeak, pocketsphinx, the scripted policy); the greeting
    // waits for a goodbye, so the caller ends the call. sipp echoes the agent's own voice back:
    // barge-in is off.
    services_->Apply(parley::v1::RESOURCE_KIND_TEMPLATE, "in-voice-tmpl", R"({
        "stt": {"provider": "pocketsphinx", "language": "en-US"},
        "llm": {"provider": "scripted"}, "tts": {"provider": "espeak", "voice": "en-us"},
        "interruptions": {"allow": false},
        "limits": {"max_duration_s": 60, "silence_timeout_s": 30},
        "voicemail": {"detect": false}})");
    services_->Apply(parley::v1::RESOURCE_KIND_GRAPH, "in-voice-graph", R"({
        "start_node": "greet", "terminal_nodes": ["bye"],
        "intents": [{"name": "goodbye", "description": "The caller leaves.",
                     "phrases": ["goodbye"]}],
        "nodes": [{"name": "greet", "say": ["Thanks for calling the front desk."],
                   "transitions": [{"intent": "goodbye", "to": "bye"}]},
                  {"name": "bye", "say": ["Goodbye"]}]})");
    services_->Apply(parley::v1::RESOURCE_KIND_AGENT, "front-desk-voice",
                     R"({"template": "in-voice-tmpl", "graph": "in-voice-graph",
                         "trunk": "in-trunk", "from": "+14155559999"})");
  }
  static void TearDownTestSuite() { delete services_; }

  void SetUp() override {
    auto telephony = sip::SipTelephony::Create(
        {.sip_address = "127.0.0.1", .sip_port = 0, .rtp_address = "127.0.0.1"});
    ASSERT_TRUE(telephony.ok()) << telephony.status();
    sip_ = *std::move(telephony);
    calls_ = std::make_unique<CallsEnv>(services_->redis());
    config_ = std::make_unique<dispatcher::ConfigClient>(
        grpcx::MakeChannel({.address = services_->config_address()}));
    dispatcher_ = std::make_unique<dispatcher::DispatcherHandler>(
        dispatcher::DispatcherDeps{
            .store = &calls_->store(), .redis = calls_->redis(), .config = config_.get()},
        grpcx::TokenAuth::Disabled());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(dispatcher_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    dispatcher_address_ = absl::StrCat("127.0.0.1:", port);
  }

  void TearDown() override {
    if (sip_ != nullptr) sip_->SetInboundHandler(nullptr);
    router_.reset();
    worker_.reset();
    if (server_ != nullptr) server_->Shutdown();
    sip_.reset();
  }

  // A worker (with `max_calls`) taking this test's SIP calls through a router.
  // `voice`: the pipelines the calls get, instead of the test prompt.
  // `transfer_to`: the test prompt transfers the call there instead of hanging up.
  // `create`: how the router creates the call, instead of the dispatcher's CreateCall.
  void StartWorker(int max_calls, int prompt_ms = 2000, PipelineFactory* voice = nullptr,
                   const std::string& transfer_to = "", InboundCallCreator create = nullptr) {
    pipelines_ = std::make_unique<TestPromptFactory>(
        TestPromptOptions{.prompt_ms = prompt_ms, .transfer_to = transfer_to, .keep_heard = true});
    worker_ = std::make_unique<InProcessWorker>(
        *services_, *calls_,
        testing::WorkerSettings{.max_calls = max_calls,
                                .lease = absl::Seconds(5),
                                .pipelines = voice != nullptr ? voice : pipelines_.get(),
                                .sip = sip_.get()});
    router_ = std::make_unique<InboundRouter>(
        &worker_->worker(),
        InboundRoutesFromConfigApi({.address = services_->config_address()}, absl::Seconds(1)),
        create != nullptr ? std::move(create)
                          : InboundCallsThroughDispatcher({.address = dispatcher_address_}));
    sip_->SetInboundHandler(router_.get());
  }

  // A routed number of our own (a route to `agent`).
  std::string RoutedNumber(const std::string& agent = "front-desk") {
    const std::string number = NewNumber();
    services_->Apply(parley::v1::RESOURCE_KIND_INBOUND_ROUTE,
                     absl::StrCat("line-", number.substr(1)),
                     absl::StrCat(R"({"number": ")", number, R"(", "agent": ")", agent, R"("})"));
    return number;
  }

  // sipp calling `number` at the worker from `caller` with `scenario` (`tcp`: over TCP).
  SippPeer Call(const std::string& scenario, const std::string& number,
                const std::map<std::string, std::string>& keys, bool tcp = false) {
    std::vector<std::string> args = {"-s", number, absl::StrCat("127.0.0.1:", sip_->sip_port())};
    if (tcp) args.insert(args.end(), {"-t", "t1"});
    return SippPeer::Start(scenario, keys, args);
  }

  // The keys of inbound_answer.xml: the caller, and an offer of PCMU.
  static std::map<std::string, std::string> AnswerKeys(const std::string& caller) {
    return {{"caller", caller}, {"pt", "0"}, {"rtpmap", "PCMU/8000"}};
  }

  // The id of the one call the store lists, once there is one.
  std::string OnlyCall() {
    for (int i = 0; i < 200; ++i) {
      auto page = calls_->store().List("", {}, 10, "");
      if (page.ok() && !page->calls.empty()) return page->calls.front().call_id;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no call was created";
    return "";
  }

  static ServicesEnv* services_;
  std::unique_ptr<sip::SipTelephony> sip_;
  std::unique_ptr<CallsEnv> calls_;
  std::unique_ptr<dispatcher::ConfigClient> config_;
  std::unique_ptr<dispatcher::DispatcherHandler> dispatcher_;
  std::unique_ptr<grpc::Server> server_;
  std::string dispatcher_address_;
  std::unique_ptr<TestPromptFactory> pipelines_;
  std::unique_ptr<InProcessWorker> worker_;
  std::unique_ptr<InboundRouter> router_;
};

ServicesEnv* SipInboundTest::services_ = nullptr;

// A call to a routed number is answered, carries the agent's audio to the caller (sipp echoes
// it: the worker hears its own 440 Hz prompt come back), and is recorded as an inbound call that
// completes — events, state record and outcome — with the caller as `from`. In G.711 and in Opus
// under the caller's own dynamic payload type.
struct Offer {
  std::string name;
  std::string pt;
  std::string rtpmap;
};

class SipInboundCodecTest : public SipInboundTest, public ::testing::WithParamInterface<Offer> {};

TEST_P(SipInboundCodecTest, RoutedNumberIsAnsweredWithAgentAudioAndCompletes) {
  StartWorker(2);
  const std::string number = RoutedNumber();
  const std::string caller = NewNumber();
  SippPeer phone = Call("inbound_answer.xml", number,
                        {{"caller", caller}, {"pt", GetParam().pt}, {"rtpmap", GetParam().rtpmap}});
  const std::string id = OnlyCall();
  ASSERT_FALSE(id.empty());
  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(done.direction, "inbound");
  EXPECT_EQ(done.to, number);
  EXPECT_EQ(done.from, caller);
  EXPECT_EQ(done.agent, "front-desk");
  EXPECT_EQ(calls_->StatusTrail(id), (std::vector<std::string>{"queued", "assigned", "dialing",
                                                               "in_progress", "completed"}));
  EXPECT_EQ(phone.Wait(absl::Seconds(15)), 0) << phone.Errors();
  // Our answer kept the caller's payload type (96 is not Parley's own for Opus).
  const std::string log = phone.Messages();
  const size_t ok = log.find("SIP/2.0 200 OK");
  ASSERT_NE(ok, std::string::npos) << log;
  EXPECT_NE(log.find(absl::StrCat("RTP/AVP ", GetParam().pt, " 101"), ok), std::string::npos)
      << log.substr(ok, 1200);

  auto record = services_->StateRecord(id, 1);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->direction(), parley::v1::DIRECTION_INBOUND);
  EXPECT_EQ(record->status(), parley::v1::CALL_STATUS_COMPLETED);

  std::vector<int16_t> heard = pipelines_->Heard(id);
  ASSERT_GE(heard.size(), 16000u) << "the echo of the agent's audio did not come back";
  size_t best = 0;
  double best_rms = 0;
  for (size_t at = 0; at + 16000 <= heard.size(); at += 1600) {
    const double rms = audio::Rms(std::span(heard).subspan(at, 16000));
    if (rms > best_rms) {
      best_rms = rms;
      best = at;
    }
  }
  EXPECT_GT(best_rms, 1000);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(std::span(heard).subspan(best, 16000), 16000), 440, 10);
  // Nothing is left behind: the call's own job entry is dropped once the call ended.
  for (int i = 0; i < 200 && calls_->JobsInStream() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(calls_->JobsInStream(), 0);
}

INSTANTIATE_TEST_SUITE_P(Codecs, SipInboundCodecTest,
                         ::testing::Values(Offer{"pcmu", "0", "PCMU/8000"},
                                           Offer{"pcma", "8", "PCMA/8000"},
                                           Offer{"opus", "96", "opus/48000/2"}),
                         [](const ::testing::TestParamInfo<Offer>& info) {
                           return info.param.name;
                         });

// The voice pipeline answers a caller: the greeting is spoken on answer, the caller hangs up,
// and the call completes with its transcript in the state service.
TEST_F(SipInboundTest, VoiceAgentGreetsTheCallerAndRecordsTheTranscript) {
  StateClient state(grpcx::ClientOptions{.address = services_->state_address()});
  ConfigClient config(grpcx::ClientOptions{.address = services_->config_address()});
  GrpcConversationRecorder recorder(&state, &config);
  ProviderRegistry registry;
  RegisterEmbeddedProviders(registry, {});
  VoicePipelineFactory voice(VoicePipelineOptions{
      .providers = &registry, .recorder = &recorder, .dialogues = MakeEngineDialogue});
  StartWorker(2, 2000, &voice);
  const std::string number = RoutedNumber("front-desk-voice");
  const std::string caller = NewNumber();
  SippPeer phone = Call("inbound_hangup.xml", number, {{"caller", caller}, {"talk_ms", "7000"}});
  const std::string id = OnlyCall();
  ASSERT_FALSE(id.empty());
  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(40));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "callee_hangup");
  EXPECT_EQ(phone.Wait(absl::Seconds(15)), 0) << phone.Errors();

  auto stub = parley::v1::StateService::NewStub(
      grpcx::MakeChannel({.address = services_->state_address()}));
  parley::v1::GetTranscriptRequest request;
  request.set_call_id(id);
  parley::v1::GetTranscriptResponse transcript;
  grpc::Status s;
  // Turns are written as they happen; the last may trail the call's end by a moment.
  for (int i = 0; i < 50; ++i) {
    transcript.Clear();
    s = stub->GetTranscript(grpcx::MakeContext({.address = services_->state_address()}).get(),
                            request, &transcript);
    if (s.ok() && transcript.turns_size() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GT(transcript.turns_size(), 0);
  EXPECT_EQ(transcript.turns(0).role(), parley::v1::ROLE_AGENT);
  EXPECT_EQ(transcript.turns(0).text(), "Thanks for calling the front desk.");
  EXPECT_FALSE(transcript.turns(0).interrupted());
}

// The agent transfers a caller (the `transfer` tool's path, PipelineHost::TransferCall): one
// REFER in the inbound call's dialog whose Refer-To is the target number at the host and port the
// call came from (sipp checks the number, the test the rest), sipp accepts it and reports the
// target answered in NOTIFYs, and the worker hangs up: completed/"transferred" with sip_code 200.
// (An inbound leg used to end such a call as if it could not transfer at all.)
// Over UDP, and over TCP (the caller's Contact says ;transport=tcp, as a TCP phone's or PBX's
// does), where the Refer-To carries that transport so that the PBX sends the transferred call
// the same way.
class SipInboundTransferTest : public SipInboundTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SipInboundTransferTest, AgentTransfersTheCallerWithRefer) {
  const bool tcp = GetParam();
  StartWorker(2, 600, nullptr, "+14155550111");
  const std::string number = RoutedNumber();
  SippPeer phone = Call(
      "inbound_refer.xml", number,
      {{"caller", NewNumber()}, {"refer_target", "14155550111"}, {"sipfrag", "SIP/2.0 200 OK"}},
      tcp);
  const std::string id = OnlyCall();
  ASSERT_FALSE(id.empty());
  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "transferred");
  EXPECT_EQ(done.direction, "inbound");
  std::string sip_code;
  for (const calls::CallEvent& e : calls_->Events(id)) {
    EXPECT_NE(e.type, "transfer_failed");
    if (e.detail.count("sip_code") > 0) sip_code = e.detail.at("sip_code");
  }
  EXPECT_EQ(sip_code, "200");
  EXPECT_EQ(phone.Wait(absl::Seconds(15)), 0) << phone.Errors() << phone.Messages();
  const std::string log = phone.Messages();
  EXPECT_NE(log.find(absl::StrCat("Refer-To: <sip:+14155550111@127.0.0.1:", phone.port(),
                                  tcp ? ";transport=tcp>" : ">")),
            std::string::npos)
      << log;
  // The REFER came over the caller's transport (sipp logs each message it receives after a
  // "<transport> message received" line).
  const size_t refer = log.find("\nREFER sip:");
  ASSERT_NE(refer, std::string::npos) << log;
  const size_t received = log.rfind("message received", refer);
  ASSERT_NE(received, std::string::npos) << log;
  EXPECT_EQ(log.substr(received - 4, 3), tcp ? "TCP" : "UDP") << log.substr(received - 4, 200);
  // Our answer's Contact names the transport too, so the caller's requests come back on it.
  const size_t ok = log.find("SIP/2.0 200 OK");
  ASSERT_NE(ok, std::string::npos);
  const size_t contact = log.find("Contact: <sip:", ok);
  ASSERT_NE(contact, std::string::npos);
  const std::string our_contact = log.substr(contact, log.find('\n', contact) - contact);
  EXPECT_EQ(our_contact.find("transport=tcp") != std::string::npos, tcp) << our_contact;
}

INSTANTIATE_TEST_SUITE_P(Transports, SipInboundTransferTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "tcp" : "udp";
                         });

// Only the worker the caller is connected to runs an inbound call. Another worker that reads
// the call's job entry leaves it pending and the call queued; when the answering worker dies
// (here: it claimed the call, reached dialing and stopped renewing), the other worker's reclaim
// path ends the call failed/worker_lost.
TEST_F(SipInboundTest, OtherWorkersNeverRunAnInboundCallAndEndItWhenItsWorkerIsLost) {
  StartWorker(2);
  calls::CallRecord call;
  call.call_id = absl::StrCat("inbound-lost-", getpid());
  call.to = NewNumber();
  call.from = NewNumber();
  call.agent = "front-desk";
  call.direction = "inbound";
  call.max_attempts = 1;
  ASSERT_TRUE(calls_->store().Create(call, absl::ToUnixMillis(absl::Now())).ok());
  for (int i = 0; i < 100 && calls_->PendingJobs() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(calls_->PendingJobs(), 1) << "the worker did not read the job";
  for (int i = 0; i < 100 && worker_->worker().active_sessions() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(worker_->worker().active_sessions(), 0);
  EXPECT_EQ(calls_->store().Get(call.call_id)->status, parley::v1::CALL_STATUS_QUEUED);

  const int64_t now = absl::ToUnixMillis(absl::Now());
  absl::StatusOr<calls::Fence> fence =
      calls_->store().Claim({.call_id = call.call_id, .attempt = 1}, "gone-worker", 1000, now);
  ASSERT_TRUE(fence.ok()) << fence.status();
  ASSERT_TRUE(calls_->store().Transition(*fence, parley::v1::CALL_STATUS_DIALING, now, {}).ok());
  calls::CallRecord done = calls_->WaitTerminal(call.call_id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(done.ended_reason, "worker_lost");
  EXPECT_EQ(calls_->StatusTrail(call.call_id),
            (std::vector<std::string>{"queued", "assigned", "dialing", "failed"}));
  for (int i = 0; i < 100 && calls_->JobsInStream() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(calls_->JobsInStream(), 0);
}

// The caller gives up (CANCEL) after the call was created and before the worker answers: the
// caller gets 487, the worker's answer finds the dialog gone and sends nothing, and the call ends
// at once as abandoned (no_answer: nobody answered; not completed, which means a conversation
// took place) — not queued or ringing until a timeout — freeing the worker's only slot for the
// next caller. The router is held between CreateCall and the answer until
// sipp has its 487, so the CANCEL always lands in that window.
TEST_F(SipInboundTest, CallerWhoCancelsBeforeTheAnswerEndsTheCall) {
  // Shared with the router's thread, which may still be in the creator when an ASSERT below
  // ends the test early (TearDown stops the router after the test's locals are gone).
  struct Gate {
    absl::Notification caller_gone;
    std::atomic<int> created = 0;
  };
  auto gate = std::make_shared<Gate>();
  InboundCallCreator through = InboundCallsThroughDispatcher({.address = dispatcher_address_});
  StartWorker(
      1, 2000, nullptr, "",
      [gate,
       through](const parley::v1::CreateCallRequest& request) -> absl::StatusOr<parley::v1::Call> {
        absl::StatusOr<parley::v1::Call> call = through(request);
        if (gate->created++ == 0) {
          gate->caller_gone.WaitForNotificationWithTimeout(absl::Seconds(20));
        }
        return call;
      });
  const std::string number = RoutedNumber();
  SippPeer phone = Call("inbound_cancel.xml", number, {{"caller", NewNumber()}});
  const std::string id = OnlyCall();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(phone.Wait(absl::Seconds(20)), 0) << phone.Errors() << phone.Messages();
  gate->caller_gone.Notify();

  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(10));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_NO_ANSWER) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "abandoned");
  EXPECT_EQ(done.direction, "inbound");
  EXPECT_EQ(calls_->StatusTrail(id),
            (std::vector<std::string>{"queued", "assigned", "dialing", "no_answer"}));
  for (int i = 0; i < 100 && calls_->JobsInStream() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(calls_->JobsInStream(), 0);

  // The slot is free again: the next caller is answered, not refused as a full worker's.
  SippPeer next = Call("inbound_answer.xml", number, AnswerKeys(NewNumber()));
  EXPECT_EQ(next.Wait(absl::Seconds(30)), 0) << next.Errors();
}

// The worker answers a caller and lets the leg go before the stack sent the 200 (a session that
// could not start does this): the caller still gets a final response, 480 — not silence until
// it gives up, which is what a CANCEL of ours got (nua refuses it: the INVITE is the caller's).
// The handler runs on the SIP stack's thread, so the answer cannot leave before the leg is gone.
TEST_F(SipInboundTest, AnswerDroppedBeforeItLeftStillRefusesTheCaller) {
  struct AnswerThenDrop final : InboundCallHandler {
    void OnIncomingCall(std::unique_ptr<IncomingCall> call) override {
      answered = call->Answer("dropped-at-once") != nullptr;  // the leg closes right here
    }
    std::atomic<bool> answered = false;
  } handler;
  sip_->SetInboundHandler(&handler);
  SippPeer phone = Call("inbound_refused.xml", NewNumber(), {{"code", "480"}});
  EXPECT_EQ(phone.Wait(absl::Seconds(20)), 0) << phone.Errors() << phone.Messages();
  EXPECT_TRUE(handler.answered);
  sip_->SetInboundHandler(nullptr);
}

// A number without an inbound route: 404, and no call is created.
TEST_F(SipInboundTest, UnknownNumberGetsNotFound) {
  StartWorker(2);
  SippPeer phone = Call("inbound_refused.xml", NewNumber(), {{"code", "404"}});
  EXPECT_EQ(phone.Wait(absl::Seconds(20)), 0) << phone.Errors();
  auto page = calls_->store().List("", {}, 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->calls.empty());
}

// The worker's one slot is taken by a call in progress: the next caller gets 503, and the first
// call goes on to complete.
TEST_F(SipInboundTest, FullWorkerAnswersServiceUnavailable) {
  StartWorker(1, /*prompt_ms=*/8000);
  const std::string number = RoutedNumber();
  SippPeer first = Call("inbound_answer.xml", number, AnswerKeys(NewNumber()));
  const std::string id = OnlyCall();
  ASSERT_FALSE(id.empty());
  calls_->WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS, absl::Seconds(20));
  SippPeer second = Call("inbound_refused.xml", number, {{"code", "503"}});
  EXPECT_EQ(second.Wait(absl::Seconds(20)), 0) << second.Errors();
  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(first.Wait(absl::Seconds(15)), 0) << first.Errors();
  auto page = calls_->store().List("", {}, 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->calls.size(), 1u);
}

// A draining worker takes no new calls: 503.
TEST_F(SipInboundTest, DrainingWorkerAnswersServiceUnavailable) {
  StartWorker(2);
  const std::string number = RoutedNumber();
  worker_->worker().Drain(absl::Seconds(30));
  SippPeer phone = Call("inbound_refused.xml", number, {{"code", "503"}});
  EXPECT_EQ(phone.Wait(absl::Seconds(20)), 0) << phone.Errors();
}

}  // namespace
}  // namespace parley::worker
