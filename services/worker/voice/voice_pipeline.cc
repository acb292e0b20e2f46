#include "services/worker/voice/voice_pipeline.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/audio/pcm.h"
#include "common/json/proto_json.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/speech/scripted_policy.h"
#include "common/speech/words.h"
#include "common/status/status.h"
#include "services/worker/voice/voice_internal.h"

namespace parley::worker {

using parley::v1::CallStatus;
using voice_internal::AddStats;
using voice_internal::FramesIn;
using voice_internal::HasVoicemailPhrase;
using voice_internal::HeardText;
using voice_internal::Ms;
using voice_internal::ToFrames;

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
        slot->pipeline->Event("provider_fallback", {{"kind", f.kind},
                                                    {"from", f.from},
                                                    {"to", f.to},
                                                    {"error", f.error},
                                                    {"reason", f.reason}});
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
    PARLEY_ASSIGN_OR_RETURN(
        speech::FilledText filled,
        speech::FillVariables(settings.voicemail_message, {&call_context, &state, &defaults}));
    settings.voicemail_message = std::move(filled.text);
  }
  auto pipeline = std::make_unique<VoicePipeline>(options_, std::move(call), std::move(settings),
                                                  std::move(providers));
  VoicePipeline* raw = pipeline.get();
  {
    absl::MutexLock lock(&slot->mu);
    slot->pipeline = raw;
    for (const Fallback& f : slot->early) {
      raw->Event("provider_fallback", {{"kind", f.kind},
                                       {"from", f.from},
                                       {"to", f.to},
                                       {"error", f.error},
                                       {"reason", f.reason}});
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
  Utterance(VoicePipeline* pipeline, std::shared_ptr<speech::CancelFlag> cancel, absl::Time decided)
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
    std::vector<int16_t> carry;  // less than a frame, waiting for the rest
    // Queues `pcm` (whole frames, or the sentence's last part, padded with silence) one frame at
    // a time: the synthesiser's audio is not copied again as a vector of frames (with a whole
    // sentence in one piece, those copies were a large part of a call's peak memory).
    auto queue_now = [&](std::span<const int16_t> pcm) {
      absl::MutexLock lock(&p_->mu_);
      // Under the lock with the cancel check: a barge-in cannot slip between them.
      if (cancel_->cancelled() || p_->host_ == nullptr || !p_->agent_) return;
      audio::PcmFrame frame;
      for (size_t at = 0; at < pcm.size(); at += audio::kFrameSamples) {
        const size_t n = std::min<size_t>(audio::kFrameSamples, pcm.size() - at);
        frame.samples.assign(pcm.begin() + at, pcm.begin() + at + n);
        frame.samples.resize(audio::kFrameSamples, 0);
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
    // A piece at a time, each once the leg has encoded most of what came before
    // (CallLeg::WaitPcmBelow): a long reply otherwise sits in the leg's queue whole, as PCM, and
    // calls that speak at once add up to the process's peak memory. The wait is outside the
    // pipeline's lock, so a barge-in still cancels at once.
    // The utterance's first piece never waits (turn overhead is the time to it), and once other
    // work waits for the speaker (the callee's next turn) the rest goes at once, as before. Nor
    // does a piece wait while less than kAhead is queued: a speaker thread starved for a moment
    // (an overloaded machine) must not leave a gap in the agent's audio, which the callee would
    // take for the end of the agent's turn.
    auto queue = [&](std::span<const int16_t> pcm) {
      constexpr size_t kPiece = 25 * audio::kFrameSamples;  // 0.5 s
      constexpr int64_t kMaxPcmFrames = 50;
      constexpr absl::Duration kAhead = absl::Seconds(3);
      while (!pcm.empty()) {
        CallLeg* leg;
        {
          absl::MutexLock lock(&p_->mu_);
          if (cancel_->cancelled() || p_->host_ == nullptr || !p_->agent_) return;
          leg = &p_->host_->leg();
          if (!p_->jobs_.empty()) hurry_ = true;
        }
        while (first_frame_ && !hurry_ && leg->QueuedAudio() >= kAhead &&
               !leg->WaitPcmBelow(kMaxPcmFrames, absl::Milliseconds(20))) {
          if (cancel_->cancelled()) return;
          absl::MutexLock lock(&p_->mu_);
          if (!p_->jobs_.empty()) hurry_ = true;
        }
        const size_t n = std::min(pcm.size(), kPiece);
        queue_now(pcm.first(n));
        pcm = pcm.subspan(n);
      }
    };
    absl::Status status = p_->providers_.tts->Synthesize(
        sentence,
        [&](std::span<const int16_t> pcm) {
          if (!first_audio_) first_audio_ = p_->clock_->Now();
          if (!carry.empty()) {
            const size_t take = std::min<size_t>(pcm.size(), audio::kFrameSamples - carry.size());
            carry.insert(carry.end(), pcm.begin(), pcm.begin() + take);
            pcm = pcm.subspan(take);
            if (carry.size() < static_cast<size_t>(audio::kFrameSamples)) return;
            queue(carry);
            carry.clear();
          }
          const size_t whole = pcm.size() - pcm.size() % audio::kFrameSamples;
          if (whole > 0) queue(pcm.first(whole));
          carry.assign(pcm.begin() + whole, pcm.end());
        },
        cancel_.get());
    if (!carry.empty()) queue(carry);
    if (!status.ok() && status.code() != absl::StatusCode::kCancelled) status_ = status;
  }

  VoicePipeline* const p_;
  const std::shared_ptr<speech::CancelFlag> cancel_;
  const absl::Time decided_;
  speech::SentenceChunker chunker_;
  std::string text_;
  absl::Status status_;
  std::optional<absl::Time> first_text_, first_audio_, first_frame_;
  bool hurry_ = false;  // queue the rest without waiting for the leg (see Speak)
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
    log::Warn("call event not recorded",
              {{"call_id", call_.call_id}, {"type", type}, {"error", status.ToString()}});
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
    log::Warn("no greeting", {{"call_id", call_.call_id}, {"error", turn.status().ToString()}});
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
        sentence,
        [&](std::span<const int16_t> piece) { pcm.insert(pcm.end(), piece.begin(), piece.end()); },
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
      for (audio::PcmFrame& frame : greeting_) {
        if (!host.leg().PlayAudio(frame).ok()) break;
        ++agent_->frames;
        std::vector<int16_t>().swap(frame.samples);  // never two copies of the whole greeting
      }
      // The leg holds its own copy now; this one would stay for the whole call (~130 KiB for a
      // four-second greeting).
      std::vector<audio::PcmFrame>().swap(greeting_);
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
          const bool flushed = FlushRecords();
          mu_.Lock();
          // A failed write is tried again after a pause, not in a loop.
          if (!flushed && !stopping_ && jobs_.empty())
            speak_cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
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

bool VoicePipeline::FlushRecords() {
  std::vector<parley::v1::Turn> turns;
  {
    absl::MutexLock lock(&mu_);
    turns.swap(records_);
  }
  if (turns.empty()) return true;
  std::sort(turns.begin(), turns.end(),
            [](const parley::v1::Turn& a, const parley::v1::Turn& b) { return a.seq() < b.seq(); });
  absl::Status status = options_.recorder->AppendTurns(call_.call_id, call_.attempt, turns);
  bool all_written = true;
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    // Never accepted however often it is sent: kept, it would hold back every later turn. The
    // batch is refused whole, so each turn goes alone and only the refused ones are dropped.
    std::vector<parley::v1::Turn> written;
    std::vector<parley::v1::Turn> kept;
    for (parley::v1::Turn& turn : turns) {
      absl::Status one = turns.size() == 1
                             ? status
                             : options_.recorder->AppendTurns(call_.call_id, call_.attempt, {turn});
      if (one.ok()) {
        written.push_back(std::move(turn));
      } else if (one.code() != absl::StatusCode::kInvalidArgument) {
        kept.push_back(std::move(turn));  // may pass later: the next flush tries it again
      } else {
        log::Error("transcript turn refused and dropped", {{"call_id", call_.call_id},
                                                           {"seq", absl::StrCat(turn.seq())},
                                                           {"error", one.ToString()}});
      }
    }
    turns = std::move(written);
    status = absl::OkStatus();
    if (!kept.empty()) {
      all_written = false;
      absl::MutexLock lock(&mu_);
      records_.insert(records_.begin(), kept.begin(), kept.end());
    }
  }
  if (!status.ok()) {
    // Kept for the next flush (AppendTurns is idempotent by seq), at the latest in Stop.
    log::Warn("transcript turns not written",
              {{"call_id", call_.call_id}, {"error", status.ToString()}});
    absl::MutexLock lock(&mu_);
    records_.insert(records_.begin(), turns.begin(), turns.end());
    return false;
  }
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
  return all_written;
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
    absl::StatusOr<DialogueTurn> reply = dialogue_->Reply(
        job.text, [&](std::string_view text) { utterance.Add(text); }, cancel.get());
    if (reply.ok()) {
      turn = *reply;
    } else if (reply.status().code() != absl::StatusCode::kCancelled) {
      log::Warn("no reply", {{"call_id", call_.call_id}, {"error", reply.status().ToString()}});
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
        first_token_ms_.push_back(
            Ms(turn.llm_first_token.value_or(*utterance.first_text() - job.decided)));
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
  } else if (!turn.transfer_to.empty()) {
    // The `transfer` tool: the session transfers the callee once this turn's audio played.
    PipelineHost* host;
    {
      absl::MutexLock lock(&mu_);
      ending_ = true;
      host = host_;
    }
    if (host != nullptr) host->TransferCall(turn.transfer_to);
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
      turn.set_start_ms(MsSinceAnswer(turn_start_));
      turn.set_end_ms(MsSinceAnswer(speech_end_));
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
