// The gRPC media protocol client (media_leg.h) against the scripted callee, on loopback: outcome
// mapping, ring timeout, hang-up from either side, DTMF, Clear, marks, pacing and audio fidelity.
#include "services/worker/media_leg.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/synchronization/mutex.h"
#include "common/audio/tone.h"
#include "common/grpc/server.h"
#include "common/media/testing/scripted_endpoint.h"

namespace parley::worker {
namespace {

using media::testing::CalleeScript;
using media::testing::EndpointCall;
using media::testing::ScriptedEndpoint;

// Records what a leg reports.
class Recorder final : public LegListener {
 public:
  void OnLegEvent(const LegEvent& event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
  }
  void OnLegAudio(const audio::PcmFrame& frame) override {
    absl::MutexLock lock(&mu_);
    heard_.insert(heard_.end(), frame.samples.begin(), frame.samples.end());
  }
  // Waits for an event of `type`; returns it.
  std::optional<LegEvent> WaitFor(LegEventType type, absl::Duration timeout = absl::Seconds(5)) {
    absl::MutexLock lock(&mu_);
    auto has = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return std::any_of(events_.begin(), events_.end(),
                         [&](const LegEvent& e) { return e.type == type; });
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&has), timeout)) return std::nullopt;
    return *std::find_if(events_.begin(), events_.end(),
                         [&](const LegEvent& e) { return e.type == type; });
  }
  std::vector<LegEventType> Types() {
    absl::MutexLock lock(&mu_);
    std::vector<LegEventType> out;
    for (const LegEvent& e : events_) out.push_back(e.type);
    return out;
  }
  std::vector<int16_t> Heard() {
    absl::MutexLock lock(&mu_);
    return heard_;
  }

 private:
  absl::Mutex mu_;
  std::vector<LegEvent> events_ ABSL_GUARDED_BY(mu_);
  std::vector<int16_t> heard_ ABSL_GUARDED_BY(mu_);
};

class MediaLegTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<grpcx::GrpcServer>(
        grpcx::ServerOptions{.address = "127.0.0.1:0", .log_requests = false});
    server_->AddService(&endpoint_, "parley.v1.MediaEndpoint");
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    endpoint_.HangUpAll();
    server_->Shutdown();
  }

  std::unique_ptr<CallLeg> Dial(const std::string& to, Recorder* recorder,
                                absl::Duration ring_timeout = absl::Seconds(5)) {
    auto leg = telephony_.DialAddress({.call_id = "c-" + to,
                                       .to = to,
                                       .from = "+14155550000",
                                       .agent = "test",
                                       .ring_timeout = ring_timeout,
                                       .listener = recorder},
                                      server_->address());
    EXPECT_TRUE(leg.ok()) << leg.status();
    return leg.ok() ? *std::move(leg) : nullptr;
  }

  bool WaitEnded(const std::string& call_id) {
    return endpoint_.WaitUntil(
        [&](const std::vector<EndpointCall>& calls) {
          return std::any_of(calls.begin(), calls.end(), [&](const EndpointCall& c) {
            return c.invite.call_id() == call_id && c.ended;
          });
        },
        absl::Seconds(5));
  }

  ScriptedEndpoint endpoint_;
  std::unique_ptr<grpcx::GrpcServer> server_;
  GrpcTelephony telephony_;
};

TEST_F(MediaLegTest, RejectReasonsMapToOutcomes) {
  struct Case {
    parley::v1::Reject::Reason reason;
    LegEventType type;
    const char* ended_reason;
  };
  const Case cases[] = {
      {parley::v1::Reject::REASON_BUSY, LegEventType::kBusy, "busy"},
      {parley::v1::Reject::REASON_NO_ANSWER, LegEventType::kNoAnswer, "no_answer"},
      {parley::v1::Reject::REASON_DECLINED, LegEventType::kDeclined, "declined"},
      {parley::v1::Reject::REASON_INVALID_NUMBER, LegEventType::kFailed, "invalid_number"},
      {parley::v1::Reject::REASON_UNAVAILABLE, LegEventType::kFailed, "trunk_error"},
  };
  int n = 0;
  for (const Case& c : cases) {
    std::string to = "+1415555010" + std::to_string(n++);
    endpoint_.SetScript(to, {.pickup = CalleeScript::Pickup::kReject,
                             .ring_for = absl::Milliseconds(50),
                             .reject_reason = c.reason,
                             .reject_sip_code = 486});
    Recorder recorder;
    auto leg = Dial(to, &recorder);
    auto event = recorder.WaitFor(c.type);
    ASSERT_TRUE(event.has_value()) << to;
    EXPECT_EQ(event->reason, c.ended_reason);
    EXPECT_EQ(event->sip_code, 486);
    EXPECT_EQ(recorder.Types().front(), LegEventType::kRinging);
    EXPECT_TRUE(WaitEnded("c-" + to));
    leg.reset();
    EXPECT_EQ(endpoint_.Find("c-" + to)->log, (std::vector<std::string>{"ringing", "reject"}));
  }
}

TEST_F(MediaLegTest, RingTimeoutGivesUpAndReportsNoAnswer) {
  endpoint_.SetScript("+14155550200", {.pickup = CalleeScript::Pickup::kNeverAnswer});
  Recorder recorder;
  absl::Time start = absl::Now();
  auto leg = Dial("+14155550200", &recorder, absl::Milliseconds(400));
  auto event = recorder.WaitFor(LegEventType::kNoAnswer);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->reason, "ring_timeout");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(390));
  ASSERT_TRUE(WaitEnded("c-+14155550200"));
  EndpointCall call = *endpoint_.Find("c-+14155550200");
  EXPECT_TRUE(call.worker_hung_up);
  EXPECT_EQ(call.worker_hangup.reason(), parley::v1::Hangup::REASON_CANCELED);
  EXPECT_EQ(call.worker_hangup.detail(), "ring_timeout");
}

TEST_F(MediaLegTest, CancelWhileRingingSendsHangupAndNoEvent) {
  endpoint_.SetScript("+14155550201", {.pickup = CalleeScript::Pickup::kNeverAnswer});
  Recorder recorder;
  auto leg = Dial("+14155550201", &recorder);
  ASSERT_TRUE(recorder.WaitFor(LegEventType::kRinging).has_value());
  leg->Hangup(HangupCause::kCanceled, "canceled");
  ASSERT_TRUE(WaitEnded("c-+14155550201"));
  leg.reset();
  EXPECT_EQ(recorder.Types(), std::vector<LegEventType>{LegEventType::kRinging});
  EXPECT_EQ(endpoint_.Find("c-+14155550201")->worker_hangup.reason(),
            parley::v1::Hangup::REASON_CANCELED);
}

TEST_F(MediaLegTest, AudioIsPacedInRealTimeAndArrivesIntact) {
  // The callee answers at 48 kHz and speaks a 1 kHz tone; we play 2 s of 440 Hz.
  endpoint_.SetScript("+14155550300", {.ring_for = absl::Milliseconds(50),
                                       .answer_rate = 48000,
                                       .tone_hz = 1000,
                                       .tone_for = absl::Seconds(1)});
  Recorder recorder;
  auto leg = Dial("+14155550300", &recorder);
  auto answered = recorder.WaitFor(LegEventType::kAnswered);
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->answer_rate, 48000);
  audio::ToneGenerator tone(440, 16000);
  absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(leg->PlayAudio({16000, tone.Next(320)}).ok());
  }
  ASSERT_TRUE(leg->WaitAudioSent(absl::Seconds(5)));
  absl::Duration took = absl::Now() - start;
  // Paced in real time, never faster. (How late frames run under load is bench/worker_bench's
  // figure, not a bound a test on a shared machine can keep.)
  EXPECT_GE(took, absl::Milliseconds(1950));
  absl::SleepFor(absl::Milliseconds(100));
  leg->Hangup(HangupCause::kNormal, "agent_hangup");
  ASSERT_TRUE(WaitEnded("c-+14155550300"));
  EndpointCall call = *endpoint_.Find("c-+14155550300");
  ASSERT_EQ(call.frames.size(), 100u);
  for (size_t i = 1; i < call.frames.size(); ++i) {
    EXPECT_EQ(call.frames[i].seq, call.frames[i - 1].seq + 1);
  }
  std::span<const int16_t> heard(call.heard);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(heard.subspan(1600), 16000), 440, 5);
  // The callee's 48 kHz tone came back resampled to 16 kHz.
  std::vector<int16_t> ours = recorder.Heard();
  ASSERT_GE(ours.size(), 16000u * 8 / 10);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(std::span(ours).subspan(1600, 8000), 16000), 1000, 10);
  LegStats stats = leg->Stats();
  EXPECT_EQ(stats.frames_sent, 100);
  EXPECT_GE(stats.frames_received, 45);
  EXPECT_EQ(call.worker_hangup.detail(), "agent_hangup");
}

TEST_F(MediaLegTest, QueuedAudioIsEncodedAheadOldestFirst) {
  // 100 frames queued at once: while more than 25 are PCM the leg encodes the oldest ahead (3 per
  // frame sent), so the PCM backlog falls well before the audio has been sent, and every frame
  // still arrives in order and decodes to the tone.
  endpoint_.SetScript("+14155550310", {.ring_for = absl::Milliseconds(20)});
  Recorder recorder;
  auto leg = Dial("+14155550310", &recorder);
  ASSERT_TRUE(recorder.WaitFor(LegEventType::kAnswered).has_value());
  audio::ToneGenerator tone(440, 16000);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(leg->PlayAudio({16000, tone.Next(320)}).ok());
  EXPECT_FALSE(leg->WaitPcmBelow(30, absl::ZeroDuration()));
  ASSERT_TRUE(leg->WaitPcmBelow(30, absl::Seconds(5)));
  // At most ~20 frames were sent while ~50 were encoded.
  EXPECT_GT(leg->QueuedAudio(), absl::Milliseconds(1000));
  ASSERT_TRUE(leg->WaitAudioSent(absl::Seconds(5)));
  leg->Hangup(HangupCause::kNormal, "agent_hangup");
  EXPECT_TRUE(leg->WaitPcmBelow(0, absl::ZeroDuration()));  // ended: nothing to wait for
  ASSERT_TRUE(WaitEnded("c-+14155550310"));
  EndpointCall call = *endpoint_.Find("c-+14155550310");
  ASSERT_EQ(call.frames.size(), 100u);
  for (size_t i = 1; i < call.frames.size(); ++i) {
    EXPECT_EQ(call.frames[i].seq, call.frames[i - 1].seq + 1);
  }
  EXPECT_NEAR(
      audio::ZeroCrossingFrequency(std::span<const int16_t>(call.heard).subspan(1600), 16000), 440,
      5);
}

TEST_F(MediaLegTest, DtmfMarksClearAndCalleeHangup) {
  endpoint_.SetScript("+14155550400", {.ring_for = absl::Milliseconds(20),
                                       .hangup_after = absl::Milliseconds(1500),
                                       .dtmf = {{absl::Milliseconds(100), "5"}}});
  Recorder recorder;
  auto leg = Dial("+14155550400", &recorder);
  ASSERT_TRUE(recorder.WaitFor(LegEventType::kAnswered).has_value());
  EXPECT_EQ(leg->PlayAudio({16000, std::vector<int16_t>(100)}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(leg->SendDtmf("7").ok());
  EXPECT_EQ(leg->SendDtmf("x").code(), absl::StatusCode::kInvalidArgument);
  audio::ToneGenerator tone(440, 16000);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(leg->PlayAudio({16000, tone.Next(320)}).ok());
  ASSERT_TRUE(leg->PlayMark("played").ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(leg->PlayAudio({16000, tone.Next(320)}).ok());
  ASSERT_TRUE(leg->PlayMark("dropped").ok());
  auto played = recorder.WaitFor(LegEventType::kMark);
  ASSERT_TRUE(played.has_value());
  EXPECT_EQ(played->mark, "played");
  EXPECT_FALSE(played->mark_cleared);
  EXPECT_GT(leg->QueuedAudio(), absl::Milliseconds(500));
  leg->Clear();
  EXPECT_EQ(leg->QueuedAudio(), absl::ZeroDuration());
  auto dtmf = recorder.WaitFor(LegEventType::kDtmf);
  ASSERT_TRUE(dtmf.has_value());
  EXPECT_EQ(dtmf->digit, "5");
  auto hangup = recorder.WaitFor(LegEventType::kHangup, absl::Seconds(3));
  ASSERT_TRUE(hangup.has_value());
  EXPECT_EQ(hangup->reason, "callee_hangup");
  ASSERT_TRUE(WaitEnded("c-+14155550400"));
  EndpointCall call = *endpoint_.Find("c-+14155550400");
  EXPECT_EQ(call.clears, 1);
  EXPECT_LT(call.frames.size(), 20u);  // the 50 queued frames never left
  EXPECT_NE(std::find(call.log.begin(), call.log.end(), "dtmf:7"), call.log.end());
  EXPECT_FALSE(call.worker_hung_up);
  std::vector<LegEventType> types = recorder.Types();
  EXPECT_EQ(std::count(types.begin(), types.end(), LegEventType::kMark), 2);  // played + cleared
  EXPECT_EQ(leg->PlayAudio({16000, tone.Next(320)}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(MediaLegTest, DroppedStreamIsMediaLostAfterAnswerAndTrunkErrorBefore) {
  endpoint_.SetScript("+14155550500",
                      {.ring_for = absl::Milliseconds(20), .drop_after = absl::Milliseconds(200)});
  endpoint_.SetScript("+14155550501", {.pickup = CalleeScript::Pickup::kDropWhileRinging,
                                       .ring_for = absl::Milliseconds(50)});
  Recorder talking;
  Recorder ringing;
  auto leg1 = Dial("+14155550500", &talking);
  auto leg2 = Dial("+14155550501", &ringing);
  auto lost = talking.WaitFor(LegEventType::kMediaLost);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->reason, "media_lost");
  auto failed = ringing.WaitFor(LegEventType::kFailed);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->reason, "trunk_error");
}

TEST_F(MediaLegTest, UnreachableEndpointFailsWithTrunkError) {
  Recorder recorder;
  auto leg = telephony_.DialAddress({.call_id = "c-x", .to = "+14155550600", .listener = &recorder},
                                    "127.0.0.1:1");
  ASSERT_TRUE(leg.ok());
  auto failed = recorder.WaitFor(LegEventType::kFailed);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->reason, "trunk_error");
}

TEST(GrpcTrunkTest, AddressFromTheTrunkSpec) {
  parley::v1::Resource trunk;
  trunk.set_name("t");
  auto& f = *trunk.mutable_spec()->mutable_fields();
  f["kind"].set_string_value("sip");
  EXPECT_EQ(GrpcTrunkAddress(trunk).status().code(), absl::StatusCode::kUnimplemented);
  f["kind"].set_string_value("grpc");
  EXPECT_EQ(GrpcTrunkAddress(trunk).status().code(), absl::StatusCode::kInvalidArgument);
  (*f["grpc"].mutable_struct_value()->mutable_fields())["address"].set_string_value("h:1");
  EXPECT_EQ(*GrpcTrunkAddress(trunk), "h:1");
}

}  // namespace
}  // namespace parley::worker
