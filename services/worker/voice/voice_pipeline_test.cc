// The voice pipeline's audio path on a fake clock: greeting on answer, barge-in, false
// interruptions, silence and duration limits, voicemail, opt-out and provider fallback. Whole
// calls run in milliseconds and deterministically (unthreaded mode, FakeLeg).
#include "services/worker/voice/voice_pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "absl/strings/match.h"
#include "common/audio/pcm.h"
#include "common/json/struct_convert.h"
#include "services/worker/voice/testing/fake_leg.h"
#include "services/worker/voice/testing/instant_providers.h"
#include "services/worker/voice/testing/memory_recorder.h"

namespace parley::worker {
namespace {

using testing::FakeHost;
using testing::FakeLeg;
using testing::ListSpeechToText;
using testing::MemoryRecorder;
using testing::ToneSpeech;

constexpr absl::Duration kFrame = absl::Milliseconds(20);

// A dialogue that greets, then answers each turn with the next scripted reply.
class TestDialogue final : public Dialogue {
 public:
  struct Line {
    std::string text;
    DialogueTurn turn;
  };
  TestDialogue(std::string greeting, std::vector<Line> replies)
      : greeting_(std::move(greeting)), replies_(std::move(replies)) {}

  absl::StatusOr<DialogueTurn> Start(absl::FunctionRef<void(std::string_view)> say) override {
    say(greeting_);
    return DialogueTurn{.node = "greet"};
  }
  absl::StatusOr<DialogueTurn> Reply(std::string_view text,
                                     absl::FunctionRef<void(std::string_view)> say,
                                     const speech::CancelFlag*) override {
    heard.emplace_back(text);
    if (next_ >= replies_.size()) return DialogueTurn{.node = "greet"};
    const auto& reply = replies_[next_++];
    say(reply.text);
    return reply.turn;
  }
  void Interrupted(std::string_view text) override { interrupted.emplace_back(text); }
  std::vector<std::string> ExpectedPhrases() override { return {"yes", "no"}; }
  std::string current_node() override { return "greet"; }
  std::string NudgeText() override { return "Are you still there?"; }
  std::string GoodbyeText(std::string_view reason) override {
    goodbyes.emplace_back(reason);
    return "Thanks for your time. Goodbye.";
  }
  std::string Summary() override { return "test summary"; }

  std::vector<std::string> heard;
  std::vector<std::string> interrupted;
  std::vector<std::string> goodbyes;

 private:
  const std::string greeting_;
  const std::vector<Line> replies_;
  size_t next_ = 0;
};

// 20 ms of the callee's audio.
audio::PcmFrame CalleeFrame(std::string_view kind, std::mt19937& rng) {
  audio::PcmFrame frame;
  frame.samples.resize(audio::kFrameSamples);
  static int64_t phase = 0;
  for (int16_t& s : frame.samples) {
    if (kind == "speech") {
      // Broadband noise at about -25 dBFS: voiced for the VAD, never a tone.
      s = static_cast<int16_t>(std::uniform_int_distribution<int>(-3000, 3000)(rng));
    } else if (kind == "beep") {
      s = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 1000 * phase++ / 16000.0));
    } else {
      s = 0;
    }
  }
  return frame;
}

constexpr char kLongGreeting[] =
    "This is a long greeting sentence number one. This is sentence number two of the greeting. "
    "And here is the third and final sentence of it.";

class VoicePipelineTest : public ::testing::Test {
 protected:
  void Start(VoiceSettings settings, std::vector<std::string> recognised, std::string greeting,
             std::vector<TestDialogue::Line> replies = {}) {
    stt_ = std::make_shared<ListSpeechToText>(std::move(recognised));
    CallProviders providers{.stt = stt_, .tts = tts_, .llm = nullptr};
    pipeline_ = std::make_unique<VoicePipeline>(
        VoicePipelineOptions{.recorder = &recorder_, .clock = &clock_, .threaded = false},
        VoicePipeline::Call{.call_id = "c_test", .attempt = 1, .to = "+14155550100"},
        std::move(settings), std::move(providers));
    auto dialogue = std::make_unique<TestDialogue>(std::move(greeting), std::move(replies));
    dialogue_ = dialogue.get();
    pipeline_->SetDialogue(std::move(dialogue));
    pipeline_->Prepare();
    answered_ = clock_.Now();
    pipeline_->OnAnswered(host_);
  }
  // Plays `d` of callee audio, a frame per 20 ms of clock time.
  void Callee(absl::Duration d, std::string_view kind) {
    for (absl::Duration t; t < d; t += kFrame) {
      clock_.Advance(kFrame);
      pipeline_->OnAudio(CalleeFrame(kind, rng_));
    }
  }
  // Lets time pass with the callee sending nothing at all.
  void Wait(absl::Duration d) {
    for (absl::Duration t; t < d; t += kFrame) {
      clock_.Advance(kFrame);
      pipeline_->Pump();
    }
  }
  double SinceAnswer(absl::Time t) { return absl::ToDoubleMilliseconds(t - answered_); }
  // Sent frames' times, in ms since answer.
  std::vector<double> SentMs() {
    std::vector<double> out;
    for (const auto& f : leg_.SentFrames()) out.push_back(SinceAnswer(f.at));
    return out;
  }

  speech::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  FakeLeg leg_{&clock_};
  FakeHost host_{&leg_};
  MemoryRecorder recorder_;
  std::shared_ptr<ListSpeechToText> stt_;
  std::shared_ptr<ToneSpeech> tts_ = std::make_shared<ToneSpeech>();
  std::unique_ptr<VoicePipeline> pipeline_;
  TestDialogue* dialogue_ = nullptr;
  absl::Time answered_;
  std::mt19937 rng_{7};
};

TEST_F(VoicePipelineTest, GreetingLeavesInTheFirstFrameAfterAnswer) {
  Start({}, {}, "Hello there, this is Parley.");
  int calls_before_answer = tts_->calls();
  Wait(kFrame);
  std::vector<double> sent = SentMs();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), 0);  // queued at answer, sent at once
  // Synthesised during Prepare (ringing), not after the answer.
  EXPECT_EQ(tts_->calls(), calls_before_answer);
  Wait(absl::Seconds(2));
  // 5 words × 200 ms of audio.
  EXPECT_EQ(leg_.SentFrames().size(), 50u);
  pipeline_->Stop("callee_hangup");
  auto turns = recorder_.Sorted();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].role(), parley::v1::ROLE_AGENT);
  EXPECT_EQ(turns[0].text(), "Hello there, this is Parley.");
  EXPECT_FALSE(turns[0].interrupted());
}

// A turn the state service refuses as invalid is dropped, not sent again and again ahead of the
// turns after it (which would then never be written either).
TEST_F(VoicePipelineTest, ATurnRefusedAsInvalidDoesNotHoldBackTheRest) {
  recorder_.refuse_text = "Hello there, this is Parley.";
  Start({}, {"yes it is"}, "Hello there, this is Parley.");
  Wait(absl::Seconds(2));
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(2), "silence");
  pipeline_->Stop("callee_hangup");
  // Refused in its batch and then alone, never again after that.
  EXPECT_GE(recorder_.refused, 1);
  EXPECT_LE(recorder_.refused, 2);
  std::vector<parley::v1::Turn> turns = recorder_.Sorted();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].role(), parley::v1::ROLE_CALLEE);
  EXPECT_EQ(turns[0].text(), "yes it is");
  EXPECT_GE(turns[0].start_ms(), 2000);
}

TEST_F(VoicePipelineTest, BargeInStopsTheAgentAndKeepsOnlyWhatWasHeard) {
  VoiceSettings settings;
  settings.interrupt_min = absl::Milliseconds(500);
  Start(settings, {"wait a moment"}, kLongGreeting,
        {{.text = "Sure, take your time.", .turn = {.node = "greet"}}});
  Callee(absl::Seconds(1), "silence");
  absl::Time speech_start = clock_.Now();
  Callee(absl::Seconds(1), "speech");
  ASSERT_EQ(leg_.clears(), 1);
  double threshold_ms = SinceAnswer(speech_start + settings.interrupt_min);
  double clear_ms = SinceAnswer(leg_.clear_times()[0]);
  EXPECT_LE(clear_ms - threshold_ms, 100);
  EXPECT_GE(clear_ms, threshold_ms - 20);
  // No greeting audio left after the Clear.
  std::vector<double> sent = SentMs();
  for (double at : sent) EXPECT_LE(at, clear_ms);

  Callee(absl::Seconds(2), "silence");  // end of speech, endpointing, the reply
  pipeline_->Stop("callee_hangup");
  ASSERT_EQ(dialogue_->interrupted.size(), 1u);
  const std::string& heard = dialogue_->interrupted[0];
  EXPECT_FALSE(heard.empty());
  EXPECT_TRUE(absl::StartsWith(kLongGreeting, heard)) << heard;
  EXPECT_LT(heard.size(), std::string(kLongGreeting).size());
  EXPECT_EQ(dialogue_->heard, std::vector<std::string>{"wait a moment"});

  auto turns = recorder_.Sorted();
  ASSERT_EQ(turns.size(), 3u);
  EXPECT_EQ(turns[0].role(), parley::v1::ROLE_AGENT);
  EXPECT_TRUE(turns[0].interrupted());
  EXPECT_EQ(turns[0].heard_text(), heard);
  EXPECT_EQ(turns[0].text(), kLongGreeting);
  EXPECT_EQ(turns[1].role(), parley::v1::ROLE_CALLEE);
  EXPECT_EQ(turns[1].text(), "wait a moment");
  EXPECT_EQ(turns[2].role(), parley::v1::ROLE_AGENT);
  EXPECT_EQ(turns[2].text(), "Sure, take your time.");
  EXPECT_FALSE(turns[2].interrupted());
}

TEST_F(VoicePipelineTest, FalseInterruptionResumesTheCutSentence) {
  VoiceSettings settings;
  settings.resume_false_interruption = true;
  Start(settings, {""}, kLongGreeting);
  Callee(absl::Seconds(1), "silence");
  Callee(absl::Milliseconds(700), "speech");  // a cough
  ASSERT_EQ(leg_.clears(), 1);
  double clear_ms = SinceAnswer(leg_.clear_times()[0]);
  Callee(absl::Seconds(3), "silence");
  std::vector<double> sent = SentMs();
  int after = std::count_if(sent.begin(), sent.end(), [&](double t) { return t > clear_ms; });
  // The cut sentence and the rest come again (26 words, 5.2 s); 3 s of it are sent by now.
  EXPECT_GT(after, 100);
  EXPECT_TRUE(dialogue_->heard.empty());
  PipelineReport report = pipeline_->Stop("callee_hangup");
  EXPECT_EQ(report.metrics["false_interruptions"], 1);
  EXPECT_EQ(report.metrics["interruptions"], 1);
}

TEST_F(VoicePipelineTest, NoisyInterruptionIsNotResumedWhenTheTemplateSaysNot) {
  VoiceSettings settings;
  settings.resume_false_interruption = false;
  Start(settings, {""}, kLongGreeting);
  Callee(absl::Seconds(1), "silence");
  Callee(absl::Milliseconds(700), "speech");
  double clear_ms = SinceAnswer(leg_.clear_times().at(0));
  Callee(absl::Seconds(3), "silence");
  for (double at : SentMs()) EXPECT_LE(at, clear_ms);
  pipeline_->Stop("callee_hangup");
}

TEST_F(VoicePipelineTest, AllowFalseKeepsTalking) {
  VoiceSettings settings;
  settings.interrupt_allow = false;
  Start(settings, {"hello"}, kLongGreeting);
  Callee(absl::Seconds(1), "silence");
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(5), "silence");
  EXPECT_EQ(leg_.clears(), 0);
  // The whole greeting went out: 26 words × 200 ms.
  EXPECT_GE(leg_.SentFrames().size(), 260u);
  pipeline_->Stop("callee_hangup");
  auto turns = recorder_.Sorted();
  ASSERT_FALSE(turns.empty());
  EXPECT_FALSE(turns[0].interrupted());
  EXPECT_EQ(dialogue_->heard, std::vector<std::string>{"hello"});
}

TEST_F(VoicePipelineTest, TooFewWordsDoNotInterrupt) {
  VoiceSettings settings;
  settings.interrupt_min_words = 2;
  Start(settings, {"uh"}, kLongGreeting);
  Callee(absl::Seconds(1), "silence");
  Callee(absl::Seconds(1), "speech");
  EXPECT_EQ(leg_.clears(), 0);
  pipeline_->Stop("callee_hangup");
}

TEST_F(VoicePipelineTest, SilenceNudgesThenHangsUp) {
  VoiceSettings settings;
  settings.silence_timeout = absl::Seconds(3);
  Start(settings, {}, "Hello.");
  Wait(absl::Seconds(3) + absl::Milliseconds(300));
  EXPECT_FALSE(host_.ended());
  size_t after_nudge = leg_.SentFrames().size();
  Wait(absl::Seconds(1));
  EXPECT_GT(leg_.SentFrames().size(), after_nudge);  // "Are you still there?" is playing
  Wait(absl::Seconds(4));
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->outcome, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(host_.ended()->reason, "silence_timeout");
  EXPECT_EQ(dialogue_->goodbyes, std::vector<std::string>{"silence_timeout"});
  pipeline_->Stop("silence_timeout");
  auto turns = recorder_.Sorted();
  ASSERT_EQ(turns.size(), 3u);
  EXPECT_EQ(turns[1].text(), "Are you still there?");
  EXPECT_EQ(turns[2].text(), "Thanks for your time. Goodbye.");
}

TEST_F(VoicePipelineTest, SpeechResetsTheSilenceTimer) {
  VoiceSettings settings;
  settings.silence_timeout = absl::Seconds(3);
  Start(settings, {"still here", "yes"}, "Hello.",
        {{.text = "Good.", .turn = {}}, {.text = "Great.", .turn = {}}});
  Wait(absl::Seconds(2));
  Callee(absl::Milliseconds(500), "speech");
  Callee(absl::Seconds(2), "silence");
  Callee(absl::Milliseconds(500), "speech");
  Callee(absl::Seconds(2), "silence");
  EXPECT_FALSE(host_.ended());
  EXPECT_EQ(dialogue_->heard, (std::vector<std::string>{"still here", "yes"}));
  pipeline_->Stop("callee_hangup");
}

// A long reply is handed to the leg in pieces: the first ones at once, and the speaker asks the
// leg for room (WaitPcmBelow) only once 3 s are queued; every frame still goes out, in order.
TEST_F(VoicePipelineTest, LongReplyIsQueuedInPiecesOnceThreeSecondsAreQueued) {
  std::string line =
      "one two three four five six seven eight nine ten eleven twelve thirteen "
      "fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone "
      "twentytwo twentythree twentyfour twentyfive twentysix twentyseven.";
  Start({}, {"tell me more"}, "Hello.", {{.text = line, .turn = {}}});
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(2), "silence");
  EXPECT_EQ(dialogue_->heard, std::vector<std::string>{"tell me more"});
  std::vector<absl::Duration> waits = leg_.pcm_waits();
  ASSERT_FALSE(waits.empty());  // 27 words × 200 ms = 5.4 s: more than 3 s at once
  for (absl::Duration queued : waits) EXPECT_GE(queued, absl::Seconds(3));
  Wait(absl::Seconds(7));
  // The greeting (1 word) and the whole reply, one frame per 20 ms.
  EXPECT_EQ(leg_.SentFrames().size(), 10u + 270u);
  pipeline_->Stop("callee_hangup");
  auto turns = recorder_.Sorted();
  ASSERT_EQ(turns.size(), 3u);
  EXPECT_EQ(turns[2].text(), line);
  EXPECT_FALSE(turns[2].interrupted());
}

// Some callee sides send nothing while silent: speech must still end, and the turn with it.
TEST_F(VoicePipelineTest, ACalleeThatStopsSendingEndsItsTurn) {
  Start({}, {"yes speaking"}, "Hello.", {{.text = "Great.", .turn = {}}});
  Callee(absl::Seconds(1), "speech");
  Wait(absl::Seconds(2));  // no frames at all
  EXPECT_EQ(dialogue_->heard, std::vector<std::string>{"yes speaking"});
  pipeline_->Stop("callee_hangup");
}

TEST_F(VoicePipelineTest, MaxDurationSaysGoodbyeAndEnds) {
  VoiceSettings settings;
  settings.max_duration = absl::Seconds(10);
  settings.silence_timeout = absl::Seconds(100);
  Start(settings, {}, "Hello.");
  Callee(absl::Seconds(9), "silence");
  EXPECT_FALSE(host_.ended());
  Callee(absl::Seconds(2), "silence");
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->reason, "max_duration");
  EXPECT_EQ(dialogue_->goodbyes, std::vector<std::string>{"max_duration"});
  pipeline_->Stop("max_duration");
}

TEST_F(VoicePipelineTest, OptOutPutsTheNumberOnTheDncList) {
  Start({}, {"please stop calling me"}, "Hello.",
        {{.text = "Understood. We won't call again. Goodbye.",
          .turn = {.end_call = true, .ended_reason = "opt_out", .opt_out = true}}});
  Callee(absl::Seconds(1), "silence");
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(2), "silence");
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->reason, "opt_out");
  ASSERT_EQ(recorder_.dnc.size(), 1u);
  EXPECT_EQ(recorder_.dnc[0], (std::vector<std::string>{"+14155550100", "", "opt_out", "c_test"}));
  bool event = false;
  for (const auto& [type, detail] : host_.events()) event |= type == "opt_out";
  EXPECT_TRUE(event);
  pipeline_->Stop("opt_out");
}

TEST_F(VoicePipelineTest, VoicemailBeepHangsUp) {
  VoiceSettings settings;
  settings.voicemail_detect = true;
  Start(settings, {}, "Hello.");
  Callee(absl::Seconds(1), "silence");
  Callee(absl::Milliseconds(400), "beep");
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->outcome, parley::v1::CALL_STATUS_VOICEMAIL);
  EXPECT_EQ(host_.ended()->reason, "voicemail");
  pipeline_->Stop("voicemail");
}

TEST_F(VoicePipelineTest, LongMachineGreetingIsVoicemail) {
  VoiceSettings settings;
  settings.voicemail_detect = true;
  Start(settings, {}, "Hello.");
  Callee(absl::Milliseconds(500), "silence");
  Callee(absl::Seconds(4), "speech");
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->outcome, parley::v1::CALL_STATUS_VOICEMAIL);
  pipeline_->Stop("voicemail");
}

TEST_F(VoicePipelineTest, MailboxPhraseIsVoicemail) {
  VoiceSettings settings;
  settings.voicemail_detect = true;
  Start(settings, {"please leave a message"}, "Hello.");
  Callee(absl::Milliseconds(500), "silence");
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(1), "silence");
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->outcome, parley::v1::CALL_STATUS_VOICEMAIL);
  pipeline_->Stop("voicemail");
}

TEST_F(VoicePipelineTest, APersonSayingHelloIsNotVoicemail) {
  VoiceSettings settings;
  settings.voicemail_detect = true;
  Start(settings, {"hello who is this"}, "Hello.", {{.text = "It's Parley.", .turn = {}}});
  Callee(absl::Milliseconds(500), "silence");
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(2), "silence");
  EXPECT_FALSE(host_.ended());
  EXPECT_EQ(dialogue_->heard, std::vector<std::string>{"hello who is this"});
  pipeline_->Stop("callee_hangup");
}

TEST_F(VoicePipelineTest, LeavesTheMessageAfterTheBeep) {
  VoiceSettings settings;
  settings.voicemail_detect = true;
  settings.voicemail_action = "leave_message";
  settings.voicemail_message = "Hi, this is Parley. Please call us back.";
  Start(settings, {}, "Hello.");
  Callee(absl::Milliseconds(500), "silence");
  Callee(absl::Seconds(4), "speech");  // the machine's greeting
  EXPECT_FALSE(host_.ended());
  Callee(absl::Milliseconds(500), "silence");
  absl::Time beep = clock_.Now();
  Callee(absl::Milliseconds(400), "beep");
  Callee(absl::Milliseconds(100), "silence");
  ASSERT_TRUE(host_.ended());
  EXPECT_EQ(host_.ended()->outcome, parley::v1::CALL_STATUS_VOICEMAIL);
  EXPECT_EQ(host_.ended()->reason, "voicemail_message_left");
  Wait(absl::Seconds(3));
  std::vector<double> sent = SentMs();
  int after_beep =
      std::count_if(sent.begin(), sent.end(), [&](double t) { return t > SinceAnswer(beep); });
  EXPECT_EQ(after_beep, 80);  // 8 words × 200 ms of message
  pipeline_->Stop("voicemail_message_left");
  auto turns = recorder_.Sorted();
  ASSERT_FALSE(turns.empty());
  EXPECT_EQ(turns.back().text(), "Hi, this is Parley. Please call us back.");
}

TEST_F(VoicePipelineTest, RecogniserGetsTheDialoguesPhrases) {
  Start({}, {"yes"}, "Hello.", {{.text = "Good.", .turn = {}}});
  Callee(absl::Seconds(1), "speech");
  Callee(absl::Seconds(2), "silence");
  Callee(absl::Seconds(1), "speech");
  pipeline_->Stop("callee_hangup");
  auto history = stt_->phrase_history();
  ASSERT_GE(history.size(), 2u);
  EXPECT_EQ(history.front(), (std::vector<std::string>{"yes", "no"}));
  EXPECT_EQ(history.back(), (std::vector<std::string>{"yes", "no"}));
}

// Provider chains through the factory: a TTS that fails hands over to its fallback, and the call's
// events say so.
TEST(VoicePipelineFactoryTest, FailingTtsFallsBackAndTheEventSaysSo) {
  ProviderRegistry registry;
  auto stt = std::make_shared<ListSpeechToText>(std::vector<std::string>{});
  auto broken = std::make_shared<ToneSpeech>(testing::ToneSpeechOptions{.fail = true});
  auto tone = std::make_shared<ToneSpeech>();
  registry.AddStt("list", [stt](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(stt);
  });
  registry.AddTts("broken", [broken](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(broken);
  });
  registry.AddTts("tone", [tone](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(tone);
  });
  registry.AddLlm("scripted", [](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::LanguageModel>>(nullptr);
  });
  MemoryRecorder recorder;
  speech::FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  VoicePipelineFactory factory(
      {.providers = &registry,
       .recorder = &recorder,
       .dialogues = [](const PipelineContext&, const parley::v1::TemplateSpec&,
                       std::shared_ptr<speech::LanguageModel>, ConversationRecorder*,
                       auto) -> absl::StatusOr<std::unique_ptr<Dialogue>> {
         return std::make_unique<TestDialogue>("Hello from the fallback.",
                                               std::vector<TestDialogue::Line>{});
       },
       .clock = &clock,
       .threaded = false});
  parley::v1::RuntimeConfig config;
  nlohmann::json tmpl = {{"stt", {{"provider", "list"}}},
                         {"tts", {{"provider", "broken"}, {"fallbacks", {{{"provider", "tone"}}}}}},
                         {"llm", {{"provider", "scripted"}}}};
  *config.mutable_template_() = *json::JsonToStruct(tmpl, "template");
  calls::CallRecord call;
  call.call_id = "c_fallback";
  call.to = "+14155550100";
  PipelineContext context{.call = &call, .config = &config};
  auto pipeline = factory.CreateVoice(context);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  FakeLeg leg(&clock);
  FakeHost host(&leg);
  (*pipeline)->Prepare();
  (*pipeline)->OnAnswered(host);
  EXPECT_GT(leg.QueuedAudio(), absl::ZeroDuration());
  EXPECT_EQ(broken->calls(), 1);  // tried once, then the call stays on the fallback
  EXPECT_GE(tone->calls(), 1);
  auto events = host.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, "provider_fallback");
  EXPECT_EQ(events[0].second.at("kind"), "tts");
  EXPECT_EQ(events[0].second.at("from"), "broken");
  EXPECT_EQ(events[0].second.at("to"), "tone");
  (*pipeline)->Stop("callee_hangup");
}

TEST(VoicePipelineFactoryTest, UnknownProviderFailsNamingIt) {
  ProviderRegistry registry;
  MemoryRecorder recorder;
  VoicePipelineFactory factory(
      {.providers = &registry, .recorder = &recorder, .dialogues = nullptr, .threaded = false});
  parley::v1::RuntimeConfig config;
  nlohmann::json tmpl = {{"stt", {{"provider", "whisperlive"}}}};
  *config.mutable_template_() = *json::JsonToStruct(tmpl, "template");
  calls::CallRecord call;
  PipelineContext context{.call = &call, .config = &config};
  auto pipeline = factory.CreateVoice(context);
  ASSERT_FALSE(pipeline.ok());
  EXPECT_EQ(pipeline.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(pipeline.status().message(), "whisperlive"));
}

}  // namespace
}  // namespace parley::worker

namespace parley::worker {
namespace {

// The same barge-in with the production threads on the wall clock: the listener sees the
// callee's speech while the speaker's turn plays, Clears the leg and the transcript keeps only
// what was sent. (The 100 ms bound is checked deterministically above, on the fake clock.)
TEST(VoicePipelineThreadedTest, BargeInOnTheListenerThread) {
  speech::Clock* clock = speech::SystemClock::Get();
  FakeLeg leg(clock);
  FakeHost host(&leg);
  MemoryRecorder recorder;
  auto stt = std::make_shared<ListSpeechToText>(std::vector<std::string>{"hold on"});
  auto tts = std::make_shared<ToneSpeech>();
  VoiceSettings settings;
  settings.interrupt_min = absl::Milliseconds(300);
  VoicePipeline pipeline({.recorder = &recorder, .clock = clock, .threaded = true},
                         {.call_id = "c_threaded", .to = "+14155550100"}, settings,
                         {.stt = stt, .tts = tts, .llm = nullptr});
  auto dialogue = std::make_unique<TestDialogue>(
      kLongGreeting, std::vector<TestDialogue::Line>{{.text = "Sure.", .turn = {}}});
  TestDialogue* d = dialogue.get();
  pipeline.SetDialogue(std::move(dialogue));
  pipeline.Prepare();
  pipeline.OnAnswered(host);
  std::mt19937 rng(11);
  auto feed = [&](absl::Duration length, std::string_view kind) {
    absl::Time next = absl::Now();
    for (absl::Duration t; t < length; t += kFrame) {
      pipeline.OnAudio(CalleeFrame(kind, rng));
      next += kFrame;
      absl::SleepFor(next - absl::Now());
    }
  };
  feed(absl::Milliseconds(600), "silence");
  feed(absl::Milliseconds(800), "speech");
  feed(absl::Milliseconds(1500), "silence");
  pipeline.Stop("callee_hangup");
  EXPECT_EQ(leg.clears(), 1);
  ASSERT_EQ(d->interrupted.size(), 1u);
  EXPECT_EQ(d->heard, std::vector<std::string>{"hold on"});
  std::vector<parley::v1::Turn> turns = recorder.Sorted();
  ASSERT_GE(turns.size(), 3u);
  EXPECT_TRUE(turns[0].interrupted());
  EXPECT_EQ(turns[0].heard_text(), d->interrupted[0]);
  EXPECT_LT(turns[0].heard_text().size(), turns[0].text().size());
  EXPECT_EQ(turns[1].text(), "hold on");
  EXPECT_EQ(turns[2].text(), "Sure.");
}

}  // namespace
}  // namespace parley::worker
