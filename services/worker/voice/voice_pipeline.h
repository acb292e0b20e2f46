// The voice pipeline (DESIGN.md, "Media and the voice pipeline"): hears the callee, decides when
// a turn has ended, asks the dialogue for a reply, speaks it, and stops talking the moment the
// callee talks over it.
//
//   callee frames → VAD → endpointing → STT → Dialogue::Reply → sentence chunks → TTS → the leg
//
// Two threads per call in production: the listener (VAD, recogniser, endpointing, barge-in,
// timers) and the speaker (dialogue replies and synthesis, state and transcript writes), so a
// slow language model never delays barge-in. With `threaded = false` nothing runs on its own:
// OnAudio and Pump do the work on the caller's thread against the injected clock, so tests run
// whole calls faster than real time and deterministically (see testing/fake_leg.h).
//
// What the pipeline does on its own, from the template:
//   - the greeting is synthesised in Prepare (while the phone rings) and queued on answer;
//   - barge-in: callee speech ≥ interruptions.min_duration_ms (and ≥ min_words recognised)
//     while the agent talks cancels the reply, Clears the leg and records the agent turn as
//     interrupted with the text actually played; a false interruption (no words) resumes the cut
//     sentence when resume_false_interruption is on;
//   - silence: a nudge after limits.silence_timeout_s, a goodbye and hang-up after as long again;
//   - limits.max_duration_s: a goodbye and hang-up;
//   - voicemail (voicemail.detect): in the first seconds, a beep, a long greeting or a mailbox
//     phrase → hang up, or leave voicemail.message after the beep; the outcome is `voicemail`;
//   - opt-out: the dialogue says so, the number goes on the DNC list with the call id.
//
//   VoicePipelineFactory factory({.providers = &registry, .recorder = &recorder,
//                                 .dialogues = MakeEngineDialogue});
//   WorkerDeps deps{…, .pipelines = &factory};
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/speech/clock.h"
#include "common/speech/endpointer.h"
#include "common/speech/goertzel.h"
#include "common/speech/providers.h"
#include "common/speech/sentence_chunker.h"
#include "common/speech/vad.h"
#include "services/worker/pipeline.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/dialogue.h"
#include "services/worker/voice/provider_registry.h"

namespace parley::metrics {
class Metrics;
}

namespace parley::worker {

// The template's settings the audio path uses, with Parley's defaults for what it leaves out.
struct VoiceSettings {
  speech::VadOptions vad;
  speech::EndpointerOptions endpointing;
  bool interrupt_allow = true;
  absl::Duration interrupt_min = absl::Milliseconds(500);
  int interrupt_min_words = 0;
  bool resume_false_interruption = true;
  absl::Duration max_duration = absl::Minutes(10);
  absl::Duration silence_timeout = absl::Seconds(10);
  bool voicemail_detect = false;
  std::string voicemail_action = "hangup";  // or "leave_message"
  std::string voicemail_message;            // variables already filled
  // Voicemail is looked for in callee speech that starts this soon after answer…
  absl::Duration voicemail_window = absl::Seconds(5);
  // …and continuous speech this long there is a machine's greeting, not a person's "hello".
  absl::Duration machine_greeting = absl::Milliseconds(3000);
  // Audio fed to the recogniser from before the VAD declared speech (its min_speech_ms lead-in).
  absl::Duration preroll = absl::Milliseconds(300);
};

// The settings of `spec` (TemplateSpec); `fill` fills the voicemail message's variables.
VoiceSettings SettingsFromTemplate(const parley::v1::TemplateSpec& spec);

// Makes the dialogue of one call.
using DialogueMaker = std::function<absl::StatusOr<std::unique_ptr<Dialogue>>(
    const PipelineContext& context, const parley::v1::TemplateSpec& spec,
    std::shared_ptr<speech::LanguageModel> llm, ConversationRecorder* recorder,
    std::function<void(std::string, std::map<std::string, std::string>)> event)>;

struct VoicePipelineOptions {
  ProviderRegistry* providers = nullptr;     // required
  ConversationRecorder* recorder = nullptr;  // required
  DialogueMaker dialogues;                   // required
  speech::Clock* clock = speech::SystemClock::Get();
  // false: no threads, see the file comment (tests, benchmarks).
  bool threaded = true;
  // Each per-turn measurement as it is taken, in ms: "stt_final" (end of speech → final
  // transcript), "first_token" (end of turn → first reply text), "first_tts_audio" (→ first
  // synthesised audio), "turn_overhead" (→ first frame queued on the leg), "barge_in" (frame
  // arrival → Clear). May be called from any call's threads at once.
  std::function<void(std::string_view name, double ms)> on_timing;
};

// An on_timing that feeds the Prometheus histograms parley_voice_<name>_ms of `metrics`.
std::function<void(std::string_view name, double ms)> TimingHistograms(metrics::Metrics* metrics);

class VoicePipeline;

class VoicePipelineFactory final : public PipelineFactory {
 public:
  explicit VoicePipelineFactory(VoicePipelineOptions options) : options_(std::move(options)) {}
  // Fails with the template's parse error, or when no provider of a section can be built.
  absl::StatusOr<std::unique_ptr<CallPipeline>> Create(const PipelineContext& context) override;

  // The same, typed (tests drive Pump on it).
  absl::StatusOr<std::unique_ptr<VoicePipeline>> CreateVoice(const PipelineContext& context);

 private:
  const VoicePipelineOptions options_;
};

class VoicePipeline final : public CallPipeline {
 public:
  struct Call {
    std::string call_id;
    int attempt = 1;
    std::string to;
    std::string campaign;
  };
  VoicePipeline(VoicePipelineOptions options, Call call, VoiceSettings settings,
                CallProviders providers);
  ~VoicePipeline() override;

  // Set once, before Prepare (the dialogue needs the pipeline's event sink).
  void SetDialogue(std::unique_ptr<Dialogue> dialogue) { dialogue_ = std::move(dialogue); }

  void Prepare() override;
  void OnAnswered(PipelineHost& host) override;
  void OnAudio(const audio::PcmFrame& frame) override;
  void OnDrain() override;
  PipelineReport Stop(std::string_view ended_reason) override;

  // Unthreaded mode: runs the timers and any queued speaker work now.
  void Pump();

  // Records an event on the call (provider fallbacks, nodes); before answer they are held back.
  void Event(std::string type, std::map<std::string, std::string> detail);

 private:
  // Work for the speaker thread.
  struct Job {
    enum class Kind { kReply, kSay, kInterrupted, kFlush } kind = Kind::kReply;
    std::string text;  // kReply: the callee's turn; kSay: what to say; kInterrupted: heard
    // kSay: say the dialogue's nudge / its goodbye for this reason instead of `text` (the
    // dialogue is only used on the speaker's thread).
    bool nudge = false;
    std::string goodbye;
    // kSay: end the call after saying it.
    std::optional<parley::v1::CallStatus> end_outcome;
    std::string end_reason;
    absl::Time speech_end;  // kReply: when the callee stopped speaking
    absl::Time decided;     // kReply: when the endpointer ended the turn
  };
  // The agent turn being spoken.
  struct AgentTurn {
    int seq = 0;
    std::string node;
    absl::Time start;
    std::vector<std::pair<std::string, int64_t>> sentences;  // text, frames
    int64_t frames = 0;
    bool producing = true;  // the speaker may still add sentences
    bool interrupted = false;
    std::shared_ptr<speech::CancelFlag> cancel;
  };

  // Listener side.
  void ListenLoop();
  void ProcessFrame(const audio::PcmFrame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CheckTimers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillGaps() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeInterrupt() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnUtteranceEnd() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndTurn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DetectVoicemail(const audio::PcmFrame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnVoicemail(std::string why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AgentTalking() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishAgentTurn(bool interrupted, std::string heard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Post(Job job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextDeadline() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Milliseconds from the answer to `t`, never negative (speech the VAD dates back to before the
  // answer starts at 0).
  int64_t MsSinceAnswer(absl::Time t) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::max<int64_t>(0, absl::ToInt64Milliseconds(t - answered_at_));
  }

  // Speaker side.
  void SpeakLoop();
  void RunJob(Job job);
  // Speaks `text` pieces as they come (chunked into sentences, synthesised, queued on the leg).
  class Utterance;
  // Writes the recorded turns. False when they were kept to be tried again (the write failed
  // with an error that may pass); turns the state service refuses as invalid are dropped.
  bool FlushRecords();
  void EndCallNow(parley::v1::CallStatus outcome, std::string reason);
  void Timing(std::string_view name, double ms);

  const VoicePipelineOptions options_;
  const Call call_;
  const VoiceSettings settings_;
  CallProviders providers_;
  std::unique_ptr<Dialogue> dialogue_;
  speech::Clock* const clock_;
  std::unique_ptr<speech::SttSession> stt_;  // listener's
  std::vector<audio::PcmFrame> greeting_;    // pre-synthesised
  std::string greeting_text_;
  std::vector<std::pair<std::string, int64_t>> greeting_sentences_;
  DialogueTurn greeting_turn_;
  std::shared_ptr<speech::CancelFlag> call_cancel_ = std::make_shared<speech::CancelFlag>();

  absl::Mutex mu_;
  absl::CondVar listen_cv_;
  absl::CondVar speak_cv_;
  PipelineHost* host_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::pair<audio::PcmFrame, absl::Time>> frames_ ABSL_GUARDED_BY(mu_);  // + arrival
  absl::Time frame_arrival_ ABSL_GUARDED_BY(mu_);  // of the frame being processed
  // When the next callee frame is due; InfinitePast before the first one.
  absl::Time next_frame_due_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool speaker_busy_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> held_events_
      ABSL_GUARDED_BY(mu_);
  std::vector<parley::v1::Turn> records_ ABSL_GUARDED_BY(mu_);  // turns not yet written
  int next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<AgentTurn> agent_ ABSL_GUARDED_BY(mu_);
  bool ending_ ABSL_GUARDED_BY(mu_) = false;  // EndCall asked (or about to be)

  // Listener state (guarded too: Pump and OnAudio may run on different threads in tests).
  speech::Vad vad_ ABSL_GUARDED_BY(mu_);
  speech::Endpointer endpointer_ ABSL_GUARDED_BY(mu_);
  speech::BeepDetector beeps_ ABSL_GUARDED_BY(mu_);
  std::deque<audio::PcmFrame> preroll_ ABSL_GUARDED_BY(mu_);
  bool in_utterance_ ABSL_GUARDED_BY(mu_) = false;
  std::string turn_text_ ABSL_GUARDED_BY(mu_);
  absl::Time turn_start_ ABSL_GUARDED_BY(mu_);
  absl::Time speech_end_ ABSL_GUARDED_BY(mu_);
  int utterances_ ABSL_GUARDED_BY(mu_) = 0;
  bool barged_in_this_utterance_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> resume_sentences_ ABSL_GUARDED_BY(mu_);  // after a barge-in
  absl::Time answered_at_ ABSL_GUARDED_BY(mu_);
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_);
  int nudges_ ABSL_GUARDED_BY(mu_) = 0;
  bool max_duration_hit_ ABSL_GUARDED_BY(mu_) = false;
  enum class Voicemail { kListening, kNone, kDetected, kWaitingForBeep, kLeavingMessage };
  Voicemail voicemail_ ABSL_GUARDED_BY(mu_) = Voicemail::kListening;
  absl::Time voicemail_deadline_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> phrases_ ABSL_GUARDED_BY(mu_);  // grammar for the next utterance
  bool phrases_changed_ ABSL_GUARDED_BY(mu_) = false;

  // Measurements (ms), for the report.
  std::vector<double> stt_final_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> first_token_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> first_audio_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> turn_overhead_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> barge_in_ms_ ABSL_GUARDED_BY(mu_);
  std::optional<double> greeting_ms_ ABSL_GUARDED_BY(mu_);
  int interruptions_ ABSL_GUARDED_BY(mu_) = 0;
  int false_interruptions_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread listener_;
  std::thread speaker_;
};

}  // namespace parley::worker
