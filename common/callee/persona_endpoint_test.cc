// PersonaEndpoint over loopback gRPC, with the test playing the worker: Invite, then the
// agent's espeak-ng speech as paced Opus frames, and checks of what the callee does.
#include "common/callee/persona_endpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/audio/tone.h"
#include "common/audio/wav.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "common/media/audio_stream.h"
#include "common/speech/vad.h"

namespace parley::callee {
namespace {

using parley::v1::MediaMessage;
using Clock = std::chrono::steady_clock;
using ::testing::Contains;
using ::testing::ElementsAre;

speech::EspeakTts& Tts() {
  static speech::EspeakTts* tts = [] {
    auto t = speech::EspeakTts::Create();
    if (!t.ok()) {
      ADD_FAILURE() << t.status();
      std::abort();
    }
    return t->release();
  }();
  return *tts;
}

std::vector<int16_t> Speech(std::string_view text) {
  absl::StatusOr<std::vector<int16_t>> pcm = Tts().Synthesize(text);
  EXPECT_TRUE(pcm.ok()) << pcm.status();
  return pcm.ok() ? *pcm : std::vector<int16_t>{};
}

Persona Parse(std::string_view yaml) {
  auto personas = ParsePersonas(yaml, "test");
  EXPECT_TRUE(personas.ok()) << personas.status();
  EXPECT_EQ(personas->size(), 1u);
  return personas->front();
}

// What the fake worker received from the callee.
struct Received {
  MediaMessage message;
  Clock::time_point at;
};

// The worker side of one call.
class FakeWorker {
 public:
  FakeWorker(std::shared_ptr<grpc::Channel> channel, std::string call_id) : call_id_(call_id) {
    stub_ = parley::v1::MediaEndpoint::NewStub(channel);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = stub_->Call(&context_);
    MediaMessage invite;
    invite.mutable_invite()->set_call_id(call_id);
    invite.mutable_invite()->set_to("+14155550100");
    invite.mutable_invite()->set_codec("opus");
    invite.mutable_invite()->set_sample_rate(16000);
    invite.mutable_invite()->set_frame_ms(20);
    stream_->Write(invite);
    reader_ = std::thread([this] {
      MediaMessage m;
      while (stream_->Read(&m)) {
        absl::MutexLock lock(&mu_);
        received_.push_back({m, Clock::now()});
      }
      absl::MutexLock lock(&mu_);
      closed_ = true;
    });
    sender_ = *media::AudioSender::Create(16000);
  }
  ~FakeWorker() {
    if (reader_.joinable()) Finish();
  }

  // Waits until a received message satisfies `pred`; returns it.
  std::optional<Received> WaitFor(const std::function<bool(const MediaMessage&)>& pred,
                                  absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    std::optional<Received> found;
    auto cond = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (const Received& r : received_) {
        if (pred(r.message)) {
          found = r;
          return true;
        }
      }
      return closed_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
    return found;
  }
  bool WaitForAnswer() {
    return WaitFor([](const MediaMessage& m) { return m.has_answer(); }).has_value();
  }
  std::optional<Received> FirstAudioAfter(Clock::time_point t, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        for (const Received& r : received_) {
          if (r.message.has_audio() && r.at >= t) return r;
        }
        if (closed_) return std::nullopt;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return std::nullopt;
  }

  // Sends `pcm` as paced 20 ms frames; returns when the last frame went out.
  Clock::time_point Speak(const std::vector<int16_t>& pcm) {
    Clock::time_point due = Clock::now();
    for (size_t at = 0; at < pcm.size(); at += 320) {
      std::vector<int16_t> frame(320, 0);
      std::copy_n(pcm.begin() + at, std::min<size_t>(320, pcm.size() - at), frame.begin());
      std::this_thread::sleep_until(due);
      MediaMessage m;
      *m.mutable_audio() = *sender_->Encode(frame);
      stream_->Write(m);
      due += std::chrono::milliseconds(20);
    }
    return Clock::now();
  }
  void Send(MediaMessage m) { stream_->Write(m); }
  void HangUp() {
    MediaMessage m;
    m.mutable_hangup()->set_reason(parley::v1::Hangup::REASON_NORMAL);
    stream_->Write(m);
  }
  grpc::Status Finish() {
    stream_->WritesDone();
    reader_.join();
    return stream_->Finish();
  }
  // The callee's audio so far, decoded at 16 kHz.
  std::vector<int16_t> CalleeAudio() {
    auto receiver = *media::AudioReceiver::Create(16000);
    std::vector<int16_t> out;
    absl::MutexLock lock(&mu_);
    for (const Received& r : received_) {
      if (!r.message.has_audio()) continue;
      for (const audio::PcmFrame& f : receiver->Receive(r.message.audio())) {
        out.insert(out.end(), f.samples.begin(), f.samples.end());
      }
    }
    return out;
  }
  std::vector<Received> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  std::string call_id_;
  std::unique_ptr<parley::v1::MediaEndpoint::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<MediaMessage, MediaMessage>> stream_;
  std::unique_ptr<media::AudioSender> sender_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

int VoicedFrames(const std::vector<int16_t>& pcm) {
  int voiced = 0;
  for (size_t at = 0; at + 320 <= pcm.size(); at += 320) {
    if (speech::FrameDbfs(std::span(pcm).subspan(at, 320)) > -35) ++voiced;
  }
  return voiced;
}

class PersonaEndpointTest : public ::testing::Test {
 protected:
  void Serve(Persona persona, PersonaEndpointOptions options = {}) {
    options.tts = &Tts();
    auto endpoint = PersonaEndpoint::Create(std::move(persona), std::move(options));
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *std::move(endpoint);
    server_ = std::make_unique<grpcx::GrpcServer>(grpcx::ServerOptions{.address = "127.0.0.1:0"});
    server_->AddService(endpoint_.get(), "parley.v1.MediaEndpoint");
    ASSERT_TRUE(server_->Start().ok());
    channel_ = grpcx::MakeChannel({.address = server_->address()});
  }
  void TearDown() override {
    if (endpoint_) endpoint_->HangUpAll();
    if (server_) server_->Shutdown();
  }
  CalleeCall WaitEnded(const std::string& call_id) {
    EXPECT_TRUE(endpoint_->WaitUntil(
        [&](const std::vector<CalleeCall>& calls) {
          for (const CalleeCall& c : calls) {
            if (c.invite.call_id() == call_id && c.ended) return true;
          }
          return false;
        },
        absl::Seconds(20)));
    return endpoint_->Find(call_id).value_or(CalleeCall{});
  }

  std::unique_ptr<PersonaEndpoint> endpoint_;
  std::unique_ptr<grpcx::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(PersonaEndpointTest, RepliesAfterTheAgentPausesAndRecords) {
  const std::string wav = (std::filesystem::temp_directory_path() / "persona_call.wav").string();
  std::filesystem::remove(wav);
  Serve(Parse(R"(
kind: persona
name: lead
spec:
  ring_ms: 100
  pause_ms: 600
  replies: ["Yes, speaking.", "Yes, that's right."]
)"),
        {.keep_recording = true, .record_path = wav});
  FakeWorker worker(channel_, "call-1");
  ASSERT_TRUE(worker.WaitFor([](const MediaMessage& m) { return m.has_ringing(); }));
  ASSERT_TRUE(worker.WaitForAnswer());

  // The agent speaks; the callee stays quiet while it does and answers after the pause.
  Clock::time_point spoke = worker.Speak(Speech("Hi, may I speak with Taylor Morgan, please?"));
  const Clock::time_point sent_speech = Clock::now();
  for (const Received& r : worker.received()) {
    EXPECT_FALSE(r.message.has_audio()) << "the callee talked over the agent";
  }
  std::optional<Received> reply = worker.FirstAudioAfter(sent_speech, absl::Seconds(10));
  ASSERT_TRUE(reply.has_value());
  EXPECT_GE(reply->at - spoke, std::chrono::milliseconds(600 - 60));
  ASSERT_TRUE(endpoint_->WaitUntil(
      [](const auto& calls) { return !calls.empty() && calls[0].said.size() == 1; },
      absl::Seconds(5)));
  absl::SleepFor(absl::Seconds(2));  // let the reply play out
  EXPECT_GT(VoicedFrames(worker.CalleeAudio()), 15);

  worker.Speak(Speech("Did I get that right?"));
  ASSERT_TRUE(endpoint_->WaitUntil([](const auto& calls) { return calls[0].said.size() == 2; },
                                   absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(2));
  worker.HangUp();
  EXPECT_TRUE(worker.Finish().ok());

  CalleeCall call = WaitEnded("call-1");
  EXPECT_THAT(call.said, ElementsAre("Yes, speaking.", "Yes, that's right."));
  EXPECT_TRUE(call.answered);
  EXPECT_TRUE(call.worker_hung_up);
  EXPECT_GE(call.agent_utterances, 2);
  std::vector<std::string> kinds;
  for (const CallEvent& e : call.events) kinds.push_back(e.kind);
  EXPECT_THAT(kinds, Contains("agent_speech_end"));
  EXPECT_EQ(kinds.front(), "ringing");
  EXPECT_EQ(kinds.back(), "recorded");
  // The reply starts after the agent's speech ended, on the call's clock.
  const auto said = call.EventsOf("callee_said");
  const auto ends = call.EventsOf("agent_speech_end");
  ASSERT_FALSE(said.empty());
  ASSERT_FALSE(ends.empty());
  EXPECT_GE(said[0].at_ms, ends[0].at_ms + 600 - 40);  // 20 ms ticks either side
  EXPECT_GT(ends[0].duration_ms, 1000);

  // Both voices are in the recording, in order.
  ASSERT_NE(call.recording, nullptr);
  std::vector<int16_t> agent = call.recording->TrackSamples(CallRecording::kAgent);
  std::vector<int16_t> callee = call.recording->TrackSamples(CallRecording::kCallee);
  EXPECT_GT(VoicedFrames(agent), 50);
  EXPECT_GT(VoicedFrames(callee), 30);
  absl::StatusOr<audio::Wav> file = audio::ReadWav(wav);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->sample_rate, 16000);
  EXPECT_EQ(file->samples.size(), call.recording->samples());
  EXPECT_GT(VoicedFrames(file->samples), 80);
}

TEST_F(PersonaEndpointTest, ClearDropsQueuedAgentAudioAndEchoesMarks) {
  Serve(Parse("kind: persona\nname: p\nspec: {ring_ms: 0}\n"));
  FakeWorker worker(channel_, "call-clear");
  ASSERT_TRUE(worker.WaitForAnswer());
  // A mark after nothing queued is echoed at once, not cleared.
  MediaMessage mark0;
  mark0.mutable_mark()->set_name("m0");
  worker.Send(mark0);
  auto echo0 = worker.WaitFor([](const MediaMessage& m) { return m.has_mark(); });
  ASSERT_TRUE(echo0.has_value());
  EXPECT_EQ(echo0->message.mark().name(), "m0");
  EXPECT_FALSE(echo0->message.mark().cleared());

  // A second of agent audio sent at once (the callee plays it out in real time), a mark, Clear.
  auto sender = *media::AudioSender::Create(16000);
  audio::ToneGenerator tone(440, 16000);
  for (int i = 0; i < 50; ++i) {
    MediaMessage m;
    *m.mutable_audio() = *sender->Encode(tone.Next(320));
    worker.Send(m);
  }
  MediaMessage mark1;
  mark1.mutable_mark()->set_name("m1");
  worker.Send(mark1);
  MediaMessage clear;
  clear.mutable_clear();
  worker.Send(clear);
  auto echo1 =
      worker.WaitFor([](const MediaMessage& m) { return m.has_mark() && m.mark().name() == "m1"; });
  ASSERT_TRUE(echo1.has_value());
  EXPECT_TRUE(echo1->message.mark().cleared());
  worker.HangUp();
  EXPECT_TRUE(worker.Finish().ok());
  CalleeCall call = WaitEnded("call-clear");
  EXPECT_EQ(call.clears, 1);
  ASSERT_EQ(call.EventsOf("clear").size(), 1u);
  EXPECT_GT(call.EventsOf("clear")[0].duration_ms, 0);
  EXPECT_LT(call.agent_frames, 50);  // not everything was played
}

TEST_F(PersonaEndpointTest, BusyNoAnswerDeclineAndHangupWhileRinging) {
  Serve(Parse("kind: persona\nname: p\nspec: {ring_ms: 0}\n"));
  ASSERT_TRUE(
      endpoint_
          ->SetPersona("+1busy",
                       Parse("kind: persona\nname: busy\nspec: {answer: busy, ring_ms: 0}\n"))
          .ok());
  ASSERT_TRUE(
      endpoint_
          ->SetPersona("+1none", Parse("kind: persona\nname: none\nspec: {answer: no_answer}\n"))
          .ok());
  ASSERT_TRUE(
      endpoint_
          ->SetPersona("+1decline",
                       Parse("kind: persona\nname: dec\nspec: {answer: decline, ring_ms: 50}\n"))
          .ok());
  ASSERT_TRUE(
      endpoint_
          ->SetPersona(
              "+1gone",
              Parse(
                  "kind: persona\nname: gone\nspec: {answer: hangup_while_ringing, ring_ms: 50}\n"))
          .ok());

  auto dial = [&](const std::string& to) {
    auto stub = parley::v1::MediaEndpoint::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto stream = stub->Call(&ctx);
    MediaMessage invite;
    invite.mutable_invite()->set_call_id("c" + to);
    invite.mutable_invite()->set_to(to);
    invite.mutable_invite()->set_sample_rate(48000);
    stream->Write(invite);
    std::vector<MediaMessage> got;
    MediaMessage m;
    while (stream->Read(&m)) {
      got.push_back(m);
      if (m.has_reject() || m.has_hangup()) break;
      if (to == "+1none" && got.size() == 1) {  // give up after the first Ringing
        absl::SleepFor(absl::Milliseconds(300));
        MediaMessage cancel;
        cancel.mutable_hangup()->set_reason(parley::v1::Hangup::REASON_CANCELED);
        stream->Write(cancel);
        break;
      }
    }
    stream->WritesDone();
    while (stream->Read(&m)) got.push_back(m);
    EXPECT_TRUE(stream->Finish().ok()) << to;
    return got;
  };
  std::vector<MediaMessage> busy = dial("+1busy");
  ASSERT_EQ(busy.size(), 2u);
  EXPECT_TRUE(busy[0].has_ringing());
  EXPECT_EQ(busy[1].reject().reason(), parley::v1::Reject::REASON_BUSY);
  std::vector<MediaMessage> decline = dial("+1decline");
  ASSERT_EQ(decline.size(), 2u);
  EXPECT_EQ(decline[1].reject().reason(), parley::v1::Reject::REASON_DECLINED);
  std::vector<MediaMessage> gone = dial("+1gone");
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_TRUE(gone[1].has_hangup());
  std::vector<MediaMessage> none = dial("+1none");
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].has_ringing());

  CalleeCall no_answer = WaitEnded("c+1none");
  EXPECT_FALSE(no_answer.answered);
  EXPECT_TRUE(no_answer.worker_hung_up);
  EXPECT_EQ(no_answer.persona, "none");
  EXPECT_TRUE(WaitEnded("c+1busy").rejected);
  EXPECT_TRUE(WaitEnded("c+1gone").callee_hung_up);
}

TEST_F(PersonaEndpointTest, KeyedRepliesFollowTheRecogniser) {
  PersonaEndpointOptions options;
  options.recognizer = [](std::span<const int16_t>) {
    return std::string("what is your timeline");
  };
  Serve(Parse(R"(
kind: persona
name: keyed
spec:
  ring_ms: 0
  pause_ms: 400
  replies:
    - "Yes, speaking."
    - {when: [timeline], say: "As soon as possible."}
  hangup: {after_last_reply_ms: 300}
)"),
        std::move(options));
  FakeWorker worker(channel_, "call-keyed");
  ASSERT_TRUE(worker.WaitForAnswer());
  // The keyed reply matches the first turn; the second turn gets what is left, in order.
  worker.Speak(Speech("When would you like to start?"));
  ASSERT_TRUE(endpoint_->WaitUntil([](const auto& calls) { return calls[0].said.size() == 1; },
                                   absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(2));
  worker.Speak(Speech("Is that right?"));
  // The callee hangs up 300 ms after its last reply.
  ASSERT_TRUE(worker.WaitFor([](const MediaMessage& m) { return m.has_hangup(); }).has_value());
  EXPECT_TRUE(worker.Finish().ok());
  CalleeCall call = WaitEnded("call-keyed");
  EXPECT_THAT(call.said, ElementsAre("As soon as possible.", "Yes, speaking."));
  EXPECT_THAT(call.agent_text, ElementsAre("what is your timeline", "what is your timeline"));
  EXPECT_TRUE(call.callee_hung_up);
}

TEST_F(PersonaEndpointTest, InterruptsALongAgentTurnAndStaysSilentWhenTold) {
  Serve(Parse(R"(
kind: persona
name: rude
spec:
  ring_ms: 0
  pause_ms: 300
  replies:
    - silence: true
    - {say: "Sorry, who is this?", interrupt_after_ms: 800}
)"));
  FakeWorker worker(channel_, "call-barge");
  ASSERT_TRUE(worker.WaitForAnswer());
  worker.Speak(Speech("Hello?"));
  ASSERT_TRUE(endpoint_->WaitUntil(
      [](const auto& calls) { return !calls[0].EventsOf("callee_silent").empty(); },
      absl::Seconds(5)));
  const Clock::time_point start = Clock::now();
  Clock::time_point done = worker.Speak(Speech(
      "Hi, this is the virtual assistant from Northwind Software, calling about the scheduling "
      "tool you asked about on our website last week."));
  std::optional<Received> barge = worker.FirstAudioAfter(start, absl::Seconds(1));
  ASSERT_TRUE(barge.has_value());
  EXPECT_LT(barge->at, done) << "the callee waited for the agent to finish";
  EXPECT_GE(barge->at - start, std::chrono::milliseconds(800));
  worker.HangUp();
  EXPECT_TRUE(worker.Finish().ok());
  CalleeCall call = WaitEnded("call-barge");
  EXPECT_THAT(call.said, ElementsAre("Sorry, who is this?"));
}

TEST_F(PersonaEndpointTest, VoicemailGreetsBeepsAndHangsUpAfterTheMessage) {
  Serve(Parse(R"(
kind: persona
name: vm
spec:
  answer: voicemail
  ring_ms: 0
  voicemail: {greeting: "Hi, you've reached Sam. Leave a message.", beep_ms: 400, end_silence_ms: 800}
)"));
  FakeWorker worker(channel_, "call-vm");
  ASSERT_TRUE(worker.WaitForAnswer());
  ASSERT_TRUE(endpoint_->WaitUntil(
      [](const auto& calls) { return !calls[0].EventsOf("voicemail_beep").empty(); },
      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(600));
  worker.Speak(Speech("Hi Sam, please call us back."));
  ASSERT_TRUE(worker.WaitFor([](const MediaMessage& m) { return m.has_hangup(); }).has_value());
  EXPECT_TRUE(worker.Finish().ok());
  CalleeCall call = WaitEnded("call-vm");
  EXPECT_TRUE(call.callee_hung_up);
  ASSERT_EQ(call.said.size(), 1u);
  // The last 400 ms the callee sent before the message is the 1 kHz beep.
  std::vector<int16_t> heard = worker.CalleeAudio();
  const int64_t beep_at = call.EventsOf("voicemail_beep")[0].at_ms;
  ASSERT_GE(heard.size(), static_cast<size_t>((beep_at + 400) * 16));
  std::span<const int16_t> beep = std::span(heard).subspan(heard.size() - 400 * 16 + 1600, 3200);
  EXPECT_GT(audio::GoertzelPower(beep, 16000, 1000), 100 * audio::GoertzelPower(beep, 16000, 440));
}

TEST_F(PersonaEndpointTest, SecondInviteIsAProtocolError) {
  Serve(Parse("kind: persona\nname: p\nspec: {ring_ms: 0}\n"));
  FakeWorker worker(channel_, "call-bad");
  ASSERT_TRUE(worker.WaitForAnswer());
  MediaMessage invite;
  invite.mutable_invite()->set_call_id("again");
  worker.Send(invite);
  grpc::Status status = worker.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(WaitEnded("call-bad").EventsOf("protocol_error").empty());
}

TEST_F(PersonaEndpointTest, TheCallContextPicksANamedPersona) {
  Serve(Parse("kind: persona\nname: default\nspec: {}\n"));
  ASSERT_TRUE(
      endpoint_->AddNamedPersona(Parse("kind: persona\nname: busy\nspec: {answer: busy}\n")).ok());
  ASSERT_TRUE(
      endpoint_->SetPersona("+1n", Parse("kind: persona\nname: by-number\nspec: {}\n")).ok());
  parley::v1::Invite invite;
  EXPECT_EQ(endpoint_->PersonaNameFor(invite), "default");
  invite.set_to("+1n");
  EXPECT_EQ(endpoint_->PersonaNameFor(invite), "by-number");
  (*invite.mutable_context())["persona"] = "busy";
  EXPECT_EQ(endpoint_->PersonaNameFor(invite), "busy");
  (*invite.mutable_context())["persona"] = "nobody";
  EXPECT_EQ(endpoint_->PersonaNameFor(invite), "by-number");
}

// Every persona shipped in deploy/examples/personas loads and synthesises (its voice exists).
TEST_F(PersonaEndpointTest, ShippedPersonasSynthesise) {
  Serve(Parse("kind: persona\nname: p\nspec: {}\n"));
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(PARLEY_SOURCE_DIR) / "deploy/examples/personas")) {
    absl::StatusOr<Persona> persona = LoadPersonaFile(entry.path().string());
    ASSERT_TRUE(persona.ok()) << persona.status();
    absl::Status set = endpoint_->SetPersona(persona->name, *persona);
    EXPECT_TRUE(set.ok()) << entry.path() << ": " << set;
    ++count;
  }
  EXPECT_GE(count, 7);
}

}  // namespace
}  // namespace parley::callee
