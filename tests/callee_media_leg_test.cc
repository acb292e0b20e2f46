// The worker's real media leg (services/worker/media_leg.h) against the simulated callee
// (common/callee): the two ends of media.proto as written by different hands must agree — the
// answer, the persona's reply heard by the worker after it speaks and pauses, Mark/Clear, a busy
// line, and the callee hanging up.
#include <gtest/gtest.h>

#include <deque>

#include "absl/synchronization/mutex.h"
#include "common/callee/persona_endpoint.h"
#include "common/grpc/server.h"
#include "common/speech/vad.h"
#include "services/worker/media_leg.h"

namespace parley {
namespace {

using callee::CalleeCall;
using callee::ParsePersonas;
using callee::Persona;
using worker::LegEvent;
using worker::LegEventType;

Persona Parse(std::string_view yaml) {
  auto personas = ParsePersonas(yaml, "test");
  EXPECT_TRUE(personas.ok()) << personas.status();
  return personas->front();
}

// Records what the leg reports.
class Listener final : public worker::LegListener {
 public:
  void OnLegEvent(const LegEvent& event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
  }
  void OnLegAudio(const audio::PcmFrame& frame) override {
    absl::MutexLock lock(&mu_);
    if (speech::FrameDbfs(frame.samples) > -35) ++voiced_;
  }
  bool WaitFor(LegEventType type, absl::Duration timeout = absl::Seconds(15)) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (const LegEvent& e : events_) {
        if (e.type == type) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  std::vector<LegEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  int voiced() {
    absl::MutexLock lock(&mu_);
    return voiced_;
  }

 private:
  absl::Mutex mu_;
  std::vector<LegEvent> events_ ABSL_GUARDED_BY(mu_);
  int voiced_ ABSL_GUARDED_BY(mu_) = 0;
};

class CalleeMediaLegTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tts = speech::EspeakTts::Create();
    ASSERT_TRUE(tts.ok()) << tts.status();
    tts_ = *std::move(tts);
    auto endpoint = callee::PersonaEndpoint::Create(Parse(R"(
kind: persona
name: lead
spec:
  ring_ms: 100
  pause_ms: 500
  replies: ["Yes, speaking.", "Yes, that's right."]
  hangup: {after_last_reply_ms: 500}
)"),
                                                    {.tts = tts_.get()});
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *std::move(endpoint);
    ASSERT_TRUE(
        endpoint_->SetPersona("+1busy", Parse("kind: persona\nname: busy\nspec: {answer: busy}\n"))
            .ok());
    server_ = std::make_unique<grpcx::GrpcServer>(grpcx::ServerOptions{.address = "127.0.0.1:0"});
    server_->AddService(endpoint_.get(), "parley.v1.MediaEndpoint");
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    endpoint_->HangUpAll();
    server_->Shutdown();
  }
  void Say(worker::CallLeg& leg, std::string_view text) {
    auto pcm = tts_->Synthesize(text);
    ASSERT_TRUE(pcm.ok());
    for (const audio::PcmFrame& f : audio::SplitFrames(*pcm, 16000)) {
      ASSERT_TRUE(leg.PlayAudio(f).ok());
    }
  }

  std::unique_ptr<speech::EspeakTts> tts_;
  std::unique_ptr<callee::PersonaEndpoint> endpoint_;
  std::unique_ptr<grpcx::GrpcServer> server_;
  worker::GrpcTelephony telephony_;
};

TEST_F(CalleeMediaLegTest, TwoTurnsThenTheCalleeHangsUp) {
  Listener listener;
  auto leg = telephony_.DialAddress(
      {.call_id = "leg-1", .to = "+14155550100", .agent = "lead-qualifier", .listener = &listener},
      server_->address());
  ASSERT_TRUE(leg.ok()) << leg.status();
  ASSERT_TRUE(listener.WaitFor(LegEventType::kAnswered));
  Say(**leg, "Hi, may I speak with Taylor Morgan, please?");
  ASSERT_TRUE((*leg)->PlayMark("turn-1").ok());
  ASSERT_TRUE(listener.WaitFor(LegEventType::kMark));
  ASSERT_TRUE(endpoint_->WaitUntil(
      [](const std::vector<CalleeCall>& c) { return c.size() == 1 && c[0].said.size() == 1; },
      absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(2));
  Say(**leg, "Did I get that right?");
  ASSERT_TRUE(listener.WaitFor(LegEventType::kHangup, absl::Seconds(20)));
  EXPECT_GT(listener.voiced(), 40);  // both replies reached the worker as speech

  std::optional<CalleeCall> call = endpoint_->Find("leg-1");
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->said, (std::vector<std::string>{"Yes, speaking.", "Yes, that's right."}));
  EXPECT_EQ(call->invite.agent(), "lead-qualifier");
  EXPECT_TRUE(call->callee_hung_up);
  for (const LegEvent& e : listener.events()) {
    if (e.type == LegEventType::kMark) {
      EXPECT_FALSE(e.mark_cleared);
    }
    if (e.type == LegEventType::kHangup) {
      EXPECT_EQ(e.reason, "callee_hangup");
    }
  }
}

TEST_F(CalleeMediaLegTest, BusyLine) {
  Listener listener;
  auto leg = telephony_.DialAddress({.call_id = "leg-busy", .to = "+1busy", .listener = &listener},
                                    server_->address());
  ASSERT_TRUE(leg.ok()) << leg.status();
  ASSERT_TRUE(listener.WaitFor(LegEventType::kBusy));
  for (const LegEvent& e : listener.events()) {
    if (e.type == LegEventType::kBusy) {
      EXPECT_EQ(e.sip_code, 486);
    }
  }
}

TEST_F(CalleeMediaLegTest, WorkerHangupAndClear) {
  Listener listener;
  auto leg = telephony_.DialAddress({.call_id = "leg-2", .to = "+1", .listener = &listener},
                                    server_->address());
  ASSERT_TRUE(leg.ok()) << leg.status();
  ASSERT_TRUE(listener.WaitFor(LegEventType::kAnswered));
  Say(**leg,
      "This is a long sentence that the callee will not hear to the end, because we clear it.");
  ASSERT_TRUE((*leg)->PlayMark("long").ok());
  absl::SleepFor(absl::Milliseconds(500));
  (*leg)->Clear();
  (*leg)->Hangup(worker::HangupCause::kNormal, "agent_hangup");
  ASSERT_TRUE(endpoint_->WaitUntil(
      [](const std::vector<CalleeCall>& c) { return !c.empty() && c[0].ended; },
      absl::Seconds(10)));
  CalleeCall call = endpoint_->Calls()[0];
  EXPECT_TRUE(call.worker_hung_up);
  EXPECT_EQ(call.worker_hangup.detail(), "agent_hangup");
  EXPECT_TRUE(call.said.empty());
}

}  // namespace
}  // namespace parley
