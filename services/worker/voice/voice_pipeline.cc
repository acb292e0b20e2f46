#include "services/worker/voice/voice_pipeline.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "common/audio/pcm.h"
#include "common/json/proto_json.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/speech/scripted_policy.h"
#include "common/speech/words.h"
#include "common/status/status.h"

namespace parley::worker {
namespace {

using parley::v1::CallStatus;

// What answering machines say; heard in the first callee utterance they mean voicemail.
const std::vector<std::string>& VoicemailPhrases() {
  static const auto* phrases = new std::vector<std::string>{
      "leave a message", "leave your message", "after the tone", "after the beep",
      "not available",   "voicemail",          "voice mail",     "record your message",
      "mailbox",         "can't come to the phone"};
  return *phrases;
}

bool HasVoicemailPhrase(std::string_view text) {
  for (const std::string& phrase : VoicemailPhrases()) {
    if (speech::ContainsPhrase(text, phrase)) return true;
  }
  return false;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

int64_t FramesIn(absl::Duration d) { return d / absl::Milliseconds(audio::kFrameMs); }

// Cuts `pcm` into 20 ms frames (the last one padded with silence).
std::vector<audio::PcmFrame> ToFrames(std::span<const int16_t> pcm) {
  std::vector<audio::PcmFrame> frames;
  for (size_t at = 0; at < pcm.size(); at += audio::kFrameSamples) {
    audio::PcmFrame frame;
    size_t n = std::min<size_t>(audio::kFrameSamples, pcm.size() - at);
    frame.samples.assign(pcm.begin() + at, pcm.begin() + at + n);
    frame.samples.resize(audio::kFrameSamples, 0);
    frames.push_back(std::move(frame));
  }
  return frames;
}

// The words of `sentences` the callee heard when `frames_sent` of their audio had been sent: whole
// sentences, then the share of the cut one's words proportional to its audio played.
std::string HeardText(const std::vector<std::pair<std::string, int64_t>>& sentences,
                      int64_t frames_sent) {
  std::vector<std::string> heard;
  for (const auto& [text, frames] : sentences) {
    if (frames_sent <= 0) break;
    if (frames_sent >= frames) {
      heard.push_back(text);
      frames_sent -= frames;
      continue;
    }
    std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
    size_t keep = words.size() * frames_sent / std::max<int64_t>(frames, 1);
    if (keep > 0) {
      words.resize(keep);
      heard.push_back(absl::StrJoin(words, " "));
    }
    break;
  }
  return absl::StrJoin(heard, " ");
}

void AddStats(std::map<std::string, double>& metrics, const std::string& name,
              std::vector<double> values) {
  if (values.empty()) return;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
  };
  metrics[name + "_p50_ms"] = at(0.5);
  metrics[name + "_p95_ms"] = at(0.95);
  metrics[name + "_max_ms"] = values.back();
}

}  // namespace

std::function<void(std::string_view, double)> TimingHistograms(metrics::Metrics* metrics) {
  if (metrics == nullptr) return nullptr;
  std::map<std::string, prometheus::Histogram*, std::less<>> histograms;
  for (const char* name :
       {"stt_final", "first_token", "first_tts_audio", "turn_overhead", "barge_in"}) {
    histograms[name] = &metrics->Histogram(
        absl::StrCat("parley_voice_", name, "_ms"),
        absl::StrCat("Voice pipeline per-turn latency: ", name, ", milliseconds"), {},
        {0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000});
  }
  return [histograms = std::move(histograms)](std::string_view name, double ms) {
    auto found = histograms.find(name);
    if (found != histograms.end()) found->second->Observe(ms);
  };
}

VoiceSettings SettingsFromTemplate(const parley::v1::TemplateSpec& spec) {
  VoiceSettings s;
  if (spec.vad().has_threshold()) s.vad.threshold = spec.vad().threshold();
  if (spec.vad().has_min_speech_ms()) s.vad.min_speech_ms = spec.vad().min_speech_ms();
  if (spec.vad().has_min_silence_ms()) s.vad.min_silence_ms = spec.vad().min_silence_ms();
  const auto& e = spec.endpointing();
  if (e.has_min_delay_ms()) s.endpointing.min_delay = absl::Milliseconds(e.min_delay_ms());
  if (e.has_max_delay_ms()) s.endpointing.max_delay = absl::Milliseconds(e.max_delay_ms());
  s.endpointing.stt_punctuates = spec.stt().provider() != "pocketsphinx";
  const auto& i = spec.interruptions();
  if (i.has_allow()) s.interrupt_allow = i.allow();
  if (i.has_min_duration_ms()) s.interrupt_min = absl::Milliseconds(i.min_duration_ms());
  if (i.has_min_words()) s.interrupt_min_words = i.min_words();
  if (i.has_resume_false_interruption()) {
    s.resume_false_interruption = i.resume_false_interruption();
  }
  const auto& l = spec.limits();
  if (l.has_max_duration_s()) s.max_duration = absl::Seconds(l.max_duration_s());
  if (l.has_silence_timeout_s()) s.silence_timeout = absl::Seconds(l.silence_timeout_s());
  s.voicemail_detect = spec.voicemail().detect();
  if (!spec.voicemail().action().empty()) s.voicemail_action = spec.voicemail().action();
  s.voicemail_message = spec.voicemail().message();
  return s;
}

// ------------------------------------------------------------------------------------------------
// Factory.

absl::StatusOr<std::unique_ptr<CallPipeline>> VoicePipelineFactory::Create(
    const PipelineContext& context) {
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<VoicePipeline> pipeline, CreateVoice(context));
  return std::unique_ptr<CallPipeline>(std::move(pipeline));
}

absl::StatusOr<std::unique_ptr<VoicePipeline>> VoicePipelineFactory::CreateVoice(
    const PipelineContext& context) {
  parley::v1::TemplateSpec spec;
  PARLEY_RETURN_IF_ERROR(
      json::ParseSpec(json::StructToJson(context.config->template_()), "template", &spec));
  VoicePipeline::Call call{.call_id = context.call->call_id,
                           .attempt = context.call->attempt,
                           .to = context.call->to,
                           .campaign = context.call->campaign};
  // The chains report fallbacks for as long as they live; until the pipeline exists they are
  // kept and then replayed as events.
  struct Slot {
    absl::Mutex mu;
    VoicePipeline* pipeline ABSL_GUARDED_BY(mu) = nullptr;
    std::vector<Fallback> early ABSL_GUARDED_BY(mu);
  };
  auto slot = std::make_shared<Slot>();
  PARLEY_ASSIGN_OR_RETURN(
      CallProviders providers,
      options_.providers->Build(spec, context.config->credentials(), [slot](const Fallback& f) {
        absl::MutexLock lock(&slot->mu);
        if (slot->pipeline == nullptr) {
          slot->early.push_back(f);
          return;
        }
        slot->pipeline->Event("provider_fallback",
                              {{"kind", f.kind}, {"from", f.from}, {"to", f.to}, {"error", f.error}});
      }));
  std::shared_ptr<speech::LanguageModel> llm = providers.llm;
  VoiceSettings settings = SettingsFromTemplate(spec);
  if (!settings.voicemail_message.empty()) {
    // The message's {variables}: the call's context, then its conversation state, then the
    // agent's default context.
    nlohmann::json call_context = nlohmann::json::parse(context.call->context_json, nullptr, false);
    nlohmann::json state = json::StructToJson(context.state);
    nlohmann::json agent = json::StructToJson(context.config->agent());
    nlohmann::json defaults = agent.is_object() && agent.contains("default_context")
                                  ? agent["default_context"]
                                  : nlohmann::json::object();
    PARLEY_ASSIGN_OR_RETURN(speech::FilledText filled,
                            speech::FillVariables(settings.voicemail_message,
                                                  {&call_context, &state, &defaults}));
    settings.voicemail_message = std::move(filled.text);
  }
  auto pipeline = std::make_unique<VoicePipeline>(options_, std::move(call), std::move(settings),
                                                  std::move(providers));
  VoicePipeline* raw = pipeline.get();
  {
    absl::MutexLock lock(&slot->mu);
    slot->pipeline = raw;
    for (const Fallback& f : slot->early) {
      raw->Event("provider_fallback",
                 {{"kind", f.kind}, {"from", f.from}, {"to", f.to}, {"error", f.error}});
    }
    slot->early.clear();
  }
  PARLEY_ASSIGN_OR_RETURN(
      std::unique_ptr<Dialogue> dialogue,
      options_.dialogues(context, spec, std::move(llm), options_.recorder,
                         [raw](std::string type, std::map<std::string, std::string> detail) {
                           raw->Event(std::move(type), std::move(detail));
                         }));
  pipeline->SetDialogue(std::move(dialogue));
  return pipeline;
}

// ------------------------------------------------------------------------------------------------
// Speaking: text pieces → sentences → synthesis → frames on the leg, tracked for barge-in.

class VoicePipeline::Utterance {
 public:
  Utterance(VoicePipeline* pipeline, std::shared_ptr<speech::CancelFlag> cancel,
            absl::Time decided)
      : p_(pipeline), cancel_(std::move(cancel)), decided_(decided) {}

  void Add(std::string_view text) {
    if (!first_text_) first_text_ = p_->clock_->Now();
    for (std::string& sentence : chunker_.Push(text)) Speak(sentence);
  }
  // Speaks what is left; the status of the first failure.
  absl::Status Finish() {
    if (std::optional<std::string> rest = chunker_.Flush()) Speak(*rest);
    return status_;
  }
  std::optional<absl::Time> first_text() const { return first_text_; }
  std::optional<absl::Time> first_audio() const { return first_audio_; }
  std::optional<absl::Time> first_frame() const { return first_frame_; }
  const std::string& text() const { return text_; }

 private:
  void Speak(const std::string& sentence) {
    if (!status_.ok() || cancel_->cancelled()) return;
    absl::StrAppend(&text_, text_.empty() ? "" : " ", sentence);
    int64_t frames_in_sentence = 0;
    bool first_piece = true;
    std::vector<int16_t> carry;
    auto queue = [&](std::vector<audio::PcmFrame> frames) {
      absl::MutexLock lock(&p_->mu_);
      // Under the lock with the cancel check: a barge-in cannot slip between them.
      if (cancel_->cancelled() || p_->host_ == nullptr || !p_->agent_) return;
      for (audio::PcmFrame& frame : frames) {
        if (!p_->host_->leg().PlayAudio(frame).ok()) return;
        ++frames_in_sentence;
        ++p_->agent_->frames;
        if (!first_frame_) first_frame_ = p_->clock_->Now();
      }
      if (first_piece) {
        p_->agent_->sentences.emplace_back(sentence, 0);
        first_piece = false;
      }
      p_->agent_->sentences.back().second = frames_in_sentence;
    };
    absl::Status status = p_->providers_.tts->Synthesize(
        sentence,
        [&](std::span<const int16_t> pcm) {
          if (!first_audio_) first_audio_ = p_->clock_->Now();
          carry.insert(carry.end(), pcm.begin(), pcm.end());
          size_t whole = carry.size() - carry.size() % audio::kFrameSamples;
          if (whole == 0) return;
          queue(ToFrames(std::span<const int16_t>(carry.data(), whole)));
          carry.erase(carry.begin(), carry.begin() + whole);
        },
        cancel_.get());
    if (!carry.empty()) queue(ToFrames(carry));
    if (!status.ok() && status.code() != absl::StatusCode::kCancelled) status_ = status;
  }

  VoicePipeline* const p_;
  const std::shared_ptr<speech::CancelFlag> cancel_;
  const absl::Time decided_;
  speech::SentenceChunker chunker_;
  std::string text_;
  absl::Status status_;
  std::optional<absl::Time> first_text_, first_audio_, first_frame_;
};

VoicePipeline::VoicePipeline(VoicePipelineOptions options, Call call, VoiceSettings settings,
                             CallProviders providers)
    : options_(std::move(options)),
      call_(std::move(call)),
      settings_(std::move(settings)),
      providers_(std::move(providers)),
      clock_(options_.clock),
      vad_(settings_.vad),
      endpointer_(settings_.endpointing, options_.clock) {}

void VoicePipeline::Timing(std::string_view name, double ms) {
  if (options_.on_timing) options_.on_timing(name, ms);
}

VoicePipeline::~VoicePipeline() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    listen_cv_.SignalAll();
    speak_cv_.SignalAll();
  }
  call_cancel_->Cancel();
  if (listener_.joinable()) listener_.join();
  if (speaker_.joinable()) speaker_.join();
}

void VoicePipeline::Event(std::string type, std::map<std::string, std::string> detail) {
  PipelineHost* host;
  {
    absl::MutexLock lock(&mu_);
    host = host_;
    if (host == nullptr) {
      held_events_.emplace_back(std::move(type), std::move(detail));
      return;
    }
  }
  absl::Status status = host->AppendEvent(type, std::move(detail));
  if (!status.ok()) {
    log::Warn("call event not recorded", {{"call_id", call_.call_id}, {"type", type},
                                                    {"error", status.ToString()}});
  }
}

void VoicePipeline::Prepare() {
  if (!greeting_.empty() || !greeting_text_.empty()) return;
  // The greeting and the recogniser (model loading can take a while), while the phone rings.
  speech::SentenceChunker chunker;
  std::vector<std::string> sentences;
  absl::StatusOr<DialogueTurn> turn = dialogue_->Start([&](std::string_view text) {
    for (std::string& s : chunker.Push(text)) sentences.push_back(std::move(s));
  });
  if (std::optional<std::string> rest = chunker.Flush()) sentences.push_back(std::move(*rest));
  if (!turn.ok()) {
    log::Warn("no greeting", {{"call_id", call_.call_id},
                                       {"error", turn.status().ToString()}});
    return;
  }
  greeting_turn_ = *turn;
  dialogue_->Persist();  // the start node's state and event, while the phone rings
  // The recogniser listens for what the greeting's node expects.
  // Mailbox phrases stay out of the recogniser's phrases: with a grammar, a person's "yes,
  // speaking" came out as "after the beep". Machines are caught by their long greeting and beep;
  // open-vocabulary recognisers hear the phrases anyway.
  speech::SttSessionOptions stt_options{.phrases = dialogue_->ExpectedPhrases()};
  absl::StatusOr<std::unique_ptr<speech::SttSession>> stt =
      providers_.stt->StartSession(stt_options);
  if (stt.ok()) {
    stt_ = std::move(*stt);
  } else {
    log::Warn("no recogniser for the call",
              {{"call_id", call_.call_id}, {"error", stt.status().ToString()}});
  }
  for (const std::string& sentence : sentences) {
    std::vector<int16_t> pcm;
    absl::Status status = providers_.tts->Synthesize(
        sentence, [&](std::span<const int16_t> piece) { pcm.insert(pcm.end(), piece.begin(),
                                                                    piece.end()); },
        call_cancel_.get());
    if (!status.ok()) {
      log::Warn("greeting not synthesised",
                {{"call_id", call_.call_id}, {"error", status.ToString()}});
      continue;
    }
    std::vector<audio::PcmFrame> frames = ToFrames(pcm);
    greeting_sentences_.emplace_back(sentence, static_cast<int64_t>(frames.size()));
    for (audio::PcmFrame& f : frames) greeting_.push_back(std::move(f));
    absl::StrAppend(&greeting_text_, greeting_text_.empty() ? "" : " ", sentence);
  }
}

void VoicePipeline::OnAnswered(PipelineHost& host) {
  Prepare();
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> held;
  {
    absl::MutexLock lock(&mu_);
    host_ = &host;
    answered_at_ = clock_->Now();
    last_activity_ = answered_at_;
    if (!settings_.voicemail_detect) voicemail_ = Voicemail::kNone;
    // The greeting goes out first, before anything else is set up.
    if (!greeting_.empty()) {
      agent_ = AgentTurn{.seq = next_seq_++,
                         .node = greeting_turn_.node,
                         .start = answered_at_,
                         .sentences = greeting_sentences_,
                         .frames = 0,
                         .producing = false,
                         .cancel = std::make_shared<speech::CancelFlag>()};
      for (const audio::PcmFrame& frame : greeting_) {
        if (!host.leg().PlayAudio(frame).ok()) break;
        ++agent_->frames;
      }
      greeting_ms_ = Ms(clock_->Now() - answered_at_);
    }
    if (greeting_turn_.end_call) {
      ending_ = true;
    }
    held.swap(held_events_);
  }
  for (auto& [type, detail] : held) Event(type, std::move(detail));
  if (greeting_turn_.end_call) {
    host.EndCall(greeting_turn_.outcome, greeting_turn_.ended_reason);
  }
  if (options_.threaded) {
    listener_ = std::thread([this] { ListenLoop(); });
    speaker_ = std::thread([this] { SpeakLoop(); });
  }
}

void VoicePipeline::OnAudio(const audio::PcmFrame& frame) {
  if (options_.threaded) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    frames_.emplace_back(frame, clock_->Now());
    listen_cv_.Signal();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || host_ == nullptr) return;
    frame_arrival_ = clock_->Now();
    ProcessFrame(frame);
    CheckTimers();
  }
  Pump();
}

void VoicePipeline::Pump() {
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || host_ == nullptr) return;
      CheckTimers();
      if (options_.threaded || jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      speaker_busy_ = true;
    }
    RunJob(std::move(job));
    absl::MutexLock lock(&mu_);
    speaker_busy_ = false;
  }
}

void VoicePipeline::OnDrain() {
  absl::MutexLock lock(&mu_);
  if (ending_ || host_ == nullptr) return;
  ending_ = true;
  if (agent_ && agent_->cancel) agent_->cancel->Cancel();
  host_->leg().Clear();  // the goodbye now, not after the rest of a long turn
  Post({.kind = Job::Kind::kSay,
        .goodbye = "worker_draining",
        .end_outcome = parley::v1::CALL_STATUS_COMPLETED,
        .end_reason = "worker_draining"});
}

// ------------------------------------------------------------------------------------------------
// Listener.

void VoicePipeline::ListenLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    while (!frames_.empty() && !stopping_) {
      audio::PcmFrame frame = std::move(frames_.front().first);
      frame_arrival_ = frames_.front().second;
      frames_.pop_front();
      ProcessFrame(frame);
    }
    CheckTimers();
    if (stopping_) break;
    absl::Time deadline = NextDeadline();
    // Timers are evaluated at least every frame's worth of time, since the leg's queue drains
    // without telling us (end of an agent turn).
    absl::Duration wait = std::clamp(deadline - clock_->Now(), absl::ZeroDuration(),
                                     absl::Milliseconds(audio::kFrameMs));
    if (frames_.empty()) listen_cv_.WaitWithTimeout(&mu_, wait);
  }
}

absl::Time VoicePipeline::NextDeadline() {
  absl::Time next = endpointer_.deadline();
  if (!max_duration_hit_) next = std::min(next, answered_at_ + settings_.max_duration);
  return next;
}

bool VoicePipeline::AgentTalking() {
  if (!agent_) return false;
  return agent_->producing || host_->leg().QueuedAudio() > absl::ZeroDuration();
}

void VoicePipeline::Post(Job job) {
  if (job.kind == Job::Kind::kInterrupted) {
    jobs_.push_front(std::move(job));
  } else {
    jobs_.push_back(std::move(job));
  }
  speak_cv_.Signal();
}

void VoicePipeline::FillGaps() {
  // A callee side may stop sending while it is silent (discontinuous transmission, a stalled
  // stream): the listener hears silence then, or speech would never end and no turn would.
  if (next_frame_due_ == absl::InfinitePast()) return;
  absl::Time now = clock_->Now();
  constexpr absl::Duration kFrame = absl::Milliseconds(audio::kFrameMs);
  for (int n = 0; now - next_frame_due_ >= 2 * kFrame && n < 100; ++n) {
    absl::Time due = next_frame_due_;
    ProcessFrame(audio::SilenceFrame());
    next_frame_due_ = due + kFrame;
  }
  if (now - next_frame_due_ >= 2 * kFrame) next_frame_due_ = now - kFrame;
}

void VoicePipeline::ProcessFrame(const audio::PcmFrame& frame) {
  if (host_ == nullptr || ending_) return;
  absl::Time now = clock_->Now();
  next_frame_due_ = now + absl::Milliseconds(audio::kFrameMs);
  if (voicemail_ != Voicemail::kNone) DetectVoicemail(frame);
  if (ending_) return;
  speech::VadEvent event = vad_.Process(frame.samples);
  if (event == speech::VadEvent::kSpeechStart) {
    nudges_ = 0;
    barged_in_this_utterance_ = false;
    endpointer_.OnSpeechStart();
    if (turn_text_.empty()) turn_start_ = now - vad_.speech_duration();
    if (stt_ != nullptr) {
      if (phrases_changed_) {
        absl::Status status = stt_->SetPhrases(phrases_);
        if (!status.ok()) {
          log::Warn("recogniser phrases not set",
                    {{"call_id", call_.call_id}, {"error", status.ToString()}});
        }
        phrases_changed_ = false;
      }
      in_utterance_ = stt_->StartUtterance().ok();
      for (const audio::PcmFrame& earlier : preroll_) {
        if (in_utterance_) stt_->Push(earlier.samples).IgnoreError();
      }
    }
    preroll_.clear();
  }
  if (in_utterance_) {
    if (!stt_->Push(frame.samples).ok()) in_utterance_ = false;
  } else if (!vad_.speaking()) {
    preroll_.push_back(frame);
    while (static_cast<int64_t>(preroll_.size()) > FramesIn(settings_.preroll)) {
      preroll_.pop_front();
    }
  }
  if (vad_.speaking()) {
    last_activity_ = now;
    MaybeInterrupt();
  }
  if (event == speech::VadEvent::kSpeechEnd) {
    speech_end_ = now;
    last_activity_ = now;
    endpointer_.OnSpeechEnd(now);
    OnUtteranceEnd();
  }
}

void VoicePipeline::MaybeInterrupt() {
  if (!settings_.interrupt_allow || barged_in_this_utterance_ || !AgentTalking()) return;
  if (vad_.speech_duration() < settings_.interrupt_min) return;
  if (settings_.interrupt_min_words > 0 && in_utterance_) {
    std::vector<std::string> words = speech::PhraseWords(stt_->Partial());
    if (static_cast<int>(words.size()) < settings_.interrupt_min_words) return;
  }
  barged_in_this_utterance_ = true;
  ++interruptions_;
  agent_->cancel->Cancel();
  int64_t queued = FramesIn(host_->leg().QueuedAudio());
  host_->leg().Clear();
  int64_t sent = std::max<int64_t>(0, agent_->frames - queued);
  std::string heard = HeardText(agent_->sentences, sent);
  // What was cut off, from the sentence in progress on, for a false interruption.
  resume_sentences_.clear();
  int64_t left = sent;
  for (const auto& [text, frames] : agent_->sentences) {
    if (left >= frames) {
      left -= frames;
      continue;
    }
    resume_sentences_.push_back(text);
    left = 0;
  }
  // The threshold was crossed on this frame: from its arrival to the Clear is our share of the
  // barge-in latency.
  barge_in_ms_.push_back(Ms(clock_->Now() - frame_arrival_));
  Timing("barge_in", barge_in_ms_.back());
  agent_->interrupted = true;
  FinishAgentTurn(true, heard);
  Post({.kind = Job::Kind::kInterrupted, .text = heard});
}

void VoicePipeline::OnUtteranceEnd() {
  ++utterances_;
  std::string text;
  if (in_utterance_) {
    absl::StatusOr<std::string> final_text = stt_->EndUtterance();
    in_utterance_ = false;
    if (final_text.ok()) text = *final_text;
    stt_final_ms_.push_back(Ms(clock_->Now() - speech_end_));
    Timing("stt_final", stt_final_ms_.back());
  }
  if (voicemail_ == Voicemail::kListening && utterances_ == 1 && HasVoicemailPhrase(text)) {
    OnVoicemail("phrase");
    return;
  }
  if (voicemail_ == Voicemail::kWaitingForBeep || voicemail_ == Voicemail::kLeavingMessage) {
    return;
  }
  if (!text.empty()) {
    absl::StrAppend(&turn_text_, turn_text_.empty() ? "" : " ", text);
    resume_sentences_.clear();
  } else if (barged_in_this_utterance_ && settings_.resume_false_interruption &&
             !resume_sentences_.empty()) {
    // Noise cut the agent off: say the cut sentence and the rest again.
    ++false_interruptions_;
    Post({.kind = Job::Kind::kSay, .text = absl::StrJoin(resume_sentences_, " ")});
    resume_sentences_.clear();
  }
  endpointer_.OnTranscript(turn_text_);
}

void VoicePipeline::EndTurn() {
  std::string text = std::move(turn_text_);
  turn_text_.clear();
  endpointer_.Reset();
  if (text.empty()) return;
  parley::v1::Turn turn;
  turn.set_seq(next_seq_++);
  turn.set_role(parley::v1::ROLE_CALLEE);
  turn.set_text(text);
  turn.set_start_ms(absl::ToInt64Milliseconds(turn_start_ - answered_at_));
  turn.set_end_ms(absl::ToInt64Milliseconds(speech_end_ - answered_at_));
  records_.push_back(std::move(turn));
  Post({.kind = Job::Kind::kReply,
        .text = std::move(text),
        .speech_end = speech_end_,
        .decided = clock_->Now()});
}

void VoicePipeline::CheckTimers() {
  if (host_ == nullptr || stopping_) return;
  FillGaps();
  absl::Time now = clock_->Now();
  // An agent turn ends when everything it queued has been sent.
  if (agent_ && !agent_->producing && host_->leg().QueuedAudio() == absl::ZeroDuration()) {
    FinishAgentTurn(false, "");
    last_activity_ = now;
  }
  if (ending_) return;
  if (!max_duration_hit_ && now - answered_at_ >= settings_.max_duration) {
    max_duration_hit_ = true;
    ending_ = true;
    if (agent_ && agent_->cancel) agent_->cancel->Cancel();
    host_->leg().Clear();
    Post({.kind = Job::Kind::kSay,
          .goodbye = "max_duration",
          .end_outcome = parley::v1::CALL_STATUS_COMPLETED,
          .end_reason = "max_duration"});
    return;
  }
  if (voicemail_ == Voicemail::kWaitingForBeep && now >= voicemail_deadline_) {
    voicemail_ = Voicemail::kLeavingMessage;
    ending_ = true;
    Post({.kind = Job::Kind::kSay,
          .text = settings_.voicemail_message,
          .end_outcome = parley::v1::CALL_STATUS_VOICEMAIL,
          .end_reason = "voicemail_message_left"});
    return;
  }
  if (voicemail_ == Voicemail::kListening && now - answered_at_ > settings_.voicemail_window &&
      !vad_.speaking()) {
    voicemail_ = Voicemail::kNone;
  }
  if (endpointer_.Poll()) EndTurn();
  bool idle = !AgentTalking() && jobs_.empty() && !speaker_busy_ && !vad_.speaking() &&
              !endpointer_.waiting() && turn_text_.empty();
  if (idle && now - last_activity_ >= settings_.silence_timeout) {
    last_activity_ = now;
    if (nudges_++ == 0) {
      Post({.kind = Job::Kind::kSay, .nudge = true});
    } else {
      ending_ = true;
      Post({.kind = Job::Kind::kSay,
            .goodbye = "silence_timeout",
            .end_outcome = parley::v1::CALL_STATUS_COMPLETED,
            .end_reason = "silence_timeout"});
    }
  }
}

void VoicePipeline::DetectVoicemail(const audio::PcmFrame& frame) {
  absl::Time now = clock_->Now();
  if (voicemail_ == Voicemail::kWaitingForBeep) {
    if (beeps_.Process(frame.samples)) {
      // Speak right after the tone.
      voicemail_deadline_ = now;
    } else if (!vad_.speaking() && speech_end_ != absl::Time() &&
               now - speech_end_ > absl::Milliseconds(1500)) {
      // Some machines never beep: the greeting's end and a pause will do.
      voicemail_deadline_ = std::min(voicemail_deadline_, now);
    }
    return;
  }
  if (voicemail_ != Voicemail::kListening) return;
  if (beeps_.Process(frame.samples)) {
    OnVoicemail("beep");
    return;
  }
  if (utterances_ == 0 && vad_.speaking() && vad_.speech_duration() >= settings_.machine_greeting) {
    OnVoicemail("long_greeting");
  }
}

void VoicePipeline::OnVoicemail(std::string why) {
  absl::Time now = clock_->Now();
  log::Info("voicemail detected", {{"call_id", call_.call_id}, {"by", why}});
  if (agent_ && agent_->cancel) agent_->cancel->Cancel();
  host_->leg().Clear();
  if (agent_) FinishAgentTurn(true, HeardText(agent_->sentences, agent_->frames));
  turn_text_.clear();
  endpointer_.Reset();
  records_.push_back([&] {
    parley::v1::Turn t;
    t.set_seq(next_seq_++);
    t.set_role(parley::v1::ROLE_SYSTEM);
    t.set_text(absl::StrCat("voicemail detected (", why, ")"));
    t.set_start_ms(absl::ToInt64Milliseconds(now - answered_at_));
    t.set_end_ms(t.start_ms());
    return t;
  }());
  if (settings_.voicemail_action == "leave_message" && !settings_.voicemail_message.empty()) {
    voicemail_ = Voicemail::kWaitingForBeep;
    voicemail_deadline_ = why == "beep" ? now : now + absl::Seconds(20);
    return;
  }
  voicemail_ = Voicemail::kDetected;
  ending_ = true;
  Post({.kind = Job::Kind::kFlush,
        .end_outcome = parley::v1::CALL_STATUS_VOICEMAIL,
        .end_reason = "voicemail"});
}

void VoicePipeline::FinishAgentTurn(bool interrupted, std::string heard) {
  if (!agent_) return;
  std::vector<std::string> texts;
  for (const auto& [text, frames] : agent_->sentences) texts.push_back(text);
  parley::v1::Turn turn;
  turn.set_seq(agent_->seq);
  turn.set_role(parley::v1::ROLE_AGENT);
  turn.set_text(absl::StrJoin(texts, " "));
  turn.set_node(agent_->node);
  turn.set_start_ms(absl::ToInt64Milliseconds(agent_->start - answered_at_));
  turn.set_end_ms(absl::ToInt64Milliseconds(clock_->Now() - answered_at_));
  turn.set_interrupted(interrupted);
  if (interrupted) turn.set_heard_text(heard);
  agent_.reset();
  if (!turn.text().empty()) {
    records_.push_back(std::move(turn));
    speak_cv_.Signal();  // the speaker writes turns when idle
  }
}

// ------------------------------------------------------------------------------------------------
// Speaker.

void VoicePipeline::SpeakLoop() {
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && jobs_.empty()) {
        speaker_busy_ = false;
        // Turns are written while nothing else is to be done.
        if (!records_.empty()) {
          mu_.Unlock();
          FlushRecords();
          mu_.Lock();
          continue;
        }
        speak_cv_.Wait(&mu_);
      }
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      speaker_busy_ = true;
    }
    RunJob(std::move(job));
  }
}

void VoicePipeline::FlushRecords() {
  std::vector<parley::v1::Turn> turns;
  {
    absl::MutexLock lock(&mu_);
    turns.swap(records_);
  }
  if (turns.empty()) return;
  std::sort(turns.begin(), turns.end(),
            [](const parley::v1::Turn& a, const parley::v1::Turn& b) { return a.seq() < b.seq(); });
  absl::Status status = options_.recorder->AppendTurns(call_.call_id, call_.attempt, turns);
  if (status.ok()) {
    // The call's event stream carries the conversation too, so watchers (parleyctl call create
    // --wait, integrations on WatchEvents) follow it live.
    for (const parley::v1::Turn& turn : turns) {
      std::string role = turn.role() == parley::v1::ROLE_AGENT    ? "agent"
                         : turn.role() == parley::v1::ROLE_CALLEE ? "callee"
                                                                  : "system";
      std::map<std::string, std::string> detail = {
          {"role", role}, {"text", turn.interrupted() ? turn.heard_text() + " …" : turn.text()}};
      if (!turn.node().empty()) detail["node"] = turn.node();
      if (turn.interrupted()) detail["interrupted"] = "true";
      Event("turn", std::move(detail));
    }
  }
  if (!status.ok()) {
    // Kept for the next flush (AppendTurns is idempotent by seq), at the latest in Stop.
    log::Warn("transcript turns not written",
              {{"call_id", call_.call_id}, {"error", status.ToString()}});
    absl::MutexLock lock(&mu_);
    records_.insert(records_.begin(), turns.begin(), turns.end());
  }
}

void VoicePipeline::EndCallNow(CallStatus outcome, std::string reason) {
  PipelineHost* host;
  {
    absl::MutexLock lock(&mu_);
    ending_ = true;
    host = host_;
  }
  if (host != nullptr) host->EndCall(outcome, std::move(reason));
}

void VoicePipeline::RunJob(Job job) {
  if (job.kind == Job::Kind::kInterrupted) {
    dialogue_->Interrupted(job.text);
    return;
  }
  if (job.kind == Job::Kind::kFlush) {
    FlushRecords();
    if (job.end_outcome) EndCallNow(*job.end_outcome, job.end_reason);
    return;
  }
  auto cancel = std::make_shared<speech::CancelFlag>();
  {
    absl::MutexLock lock(&mu_);
    if (host_ == nullptr || stopping_) return;
    // A turn still playing (the callee spoke while interruptions are off) is recorded as said;
    // the new one queues behind its audio.
    if (agent_) FinishAgentTurn(false, "");
    agent_ = AgentTurn{.seq = next_seq_++,
                       .node = dialogue_->current_node(),
                       .start = clock_->Now(),
                       .cancel = cancel};
  }
  Utterance utterance(this, cancel, job.decided);
  DialogueTurn turn;
  if (job.kind == Job::Kind::kSay) {
    if (job.nudge) job.text = dialogue_->NudgeText();
    if (!job.goodbye.empty()) job.text = dialogue_->GoodbyeText(job.goodbye);
    utterance.Add(job.text);
  } else {
    absl::StatusOr<DialogueTurn> reply =
        dialogue_->Reply(job.text, [&](std::string_view text) { utterance.Add(text); },
                         cancel.get());
    if (reply.ok()) {
      turn = *reply;
    } else if (reply.status().code() != absl::StatusCode::kCancelled) {
      log::Warn("no reply", {{"call_id", call_.call_id},
                                      {"error", reply.status().ToString()}});
      Event("dialogue_error", {{"error", std::string(reply.status().message())}});
      utterance.Add(dialogue_->GoodbyeText("error"));
      turn.end_call = true;
      turn.outcome = parley::v1::CALL_STATUS_FAILED;
      turn.ended_reason = "provider_error";
    }
  }
  absl::Status spoken = utterance.Finish();
  if (!spoken.ok()) {
    Event("tts_error", {{"error", std::string(spoken.message())}});
  }
  std::vector<std::string> phrases = dialogue_->ExpectedPhrases();
  {
    absl::MutexLock lock(&mu_);
    if (agent_ && agent_->cancel == cancel) {
      agent_->producing = false;
      agent_->node = dialogue_->current_node();  // the node the reply was spoken in
    }
    phrases_ = std::move(phrases);
    phrases_changed_ = true;
    if (job.kind == Job::Kind::kReply) {
      if (utterance.first_text()) {
        first_token_ms_.push_back(Ms(turn.llm_first_token.value_or(*utterance.first_text() -
                                                                    job.decided)));
        Timing("first_token", first_token_ms_.back());
      }
      if (utterance.first_audio()) {
        first_audio_ms_.push_back(Ms(*utterance.first_audio() - job.decided));
        Timing("first_tts_audio", first_audio_ms_.back());
      }
      if (utterance.first_frame()) {
        turn_overhead_ms_.push_back(Ms(*utterance.first_frame() - job.decided));
        Timing("turn_overhead", turn_overhead_ms_.back());
      }
    }
  }
  // The turn's audio is queued: now the writes it caused — the callee's turn (shown to watchers
  // before the nodes and state it led to), then the dialogue's state patches and events.
  FlushRecords();
  dialogue_->Persist();
  if (turn.opt_out) {
    absl::Status status = options_.recorder->AddDnc(call_.to, "", "opt_out", call_.call_id);
    Event("opt_out", {{"dnc", status.ok() ? "added" : std::string(status.message())}});
  }
  if (!turn.transfer_to.empty()) Event("transfer", {{"to", turn.transfer_to}});
  if (job.end_outcome) {
    EndCallNow(*job.end_outcome, job.end_reason);
  } else if (turn.end_call) {
    EndCallNow(turn.outcome, turn.ended_reason);
  }
}

PipelineReport VoicePipeline::Stop(std::string_view ended_reason) {
  {
    absl::MutexLock lock(&mu_);
    if (agent_ && agent_->cancel) agent_->cancel->Cancel();
  }
  call_cancel_->Cancel();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    listen_cv_.SignalAll();
    speak_cv_.SignalAll();
  }
  if (listener_.joinable()) listener_.join();
  if (speaker_.joinable()) speaker_.join();
  PipelineReport report;
  {
    absl::MutexLock lock(&mu_);
    if (agent_ && host_ != nullptr) {
      // Cut off by the hang-up: what was sent is what was heard.
      int64_t sent = agent_->frames - FramesIn(host_->leg().QueuedAudio());
      std::string heard = HeardText(agent_->sentences, sent);
      bool cut = sent < agent_->frames || agent_->producing;
      FinishAgentTurn(cut, heard);
    }
    if (in_utterance_ && stt_ != nullptr) {
      absl::StatusOr<std::string> text = stt_->EndUtterance();
      in_utterance_ = false;
      if (text.ok() && !text->empty()) absl::StrAppend(&turn_text_, " ", *text);
    }
    if (!turn_text_.empty()) {
      speech_end_ = clock_->Now();
      parley::v1::Turn turn;
      turn.set_seq(next_seq_++);
      turn.set_role(parley::v1::ROLE_CALLEE);
      turn.set_text(std::string(absl::StripAsciiWhitespace(turn_text_)));
      turn.set_start_ms(absl::ToInt64Milliseconds(turn_start_ - answered_at_));
      turn.set_end_ms(absl::ToInt64Milliseconds(speech_end_ - answered_at_));
      records_.push_back(std::move(turn));
      turn_text_.clear();
    }
    AddStats(report.metrics, "stt_final", stt_final_ms_);
    AddStats(report.metrics, "first_token", first_token_ms_);
    AddStats(report.metrics, "first_tts_audio", first_audio_ms_);
    AddStats(report.metrics, "turn_overhead", turn_overhead_ms_);
    AddStats(report.metrics, "barge_in", barge_in_ms_);
    if (greeting_ms_) report.metrics["greeting_queued_ms"] = *greeting_ms_;
    report.metrics["interruptions"] = interruptions_;
    report.metrics["false_interruptions"] = false_interruptions_;
    report.metrics["callee_utterances"] = utterances_;
  }
  FlushRecords();
  if (dialogue_ != nullptr) {
    dialogue_->Persist();
    report.summary = dialogue_->Summary();
  }
  (void)ended_reason;
  return report;
}

}  // namespace parley::worker
