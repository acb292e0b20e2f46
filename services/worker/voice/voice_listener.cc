// The listener side of VoicePipeline (voice_pipeline.h): callee frames through VAD, the
// recogniser and the endpointer; barge-in; the silence, duration and voicemail timers; the agent
// turn's bookkeeping. Runs on the listener thread (or the caller's, unthreaded), under mu_.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log/log.h"
#include "common/speech/words.h"
#include "services/worker/voice/voice_internal.h"
#include "services/worker/voice/voice_pipeline.h"

namespace parley::worker {

using parley::v1::CallStatus;
using voice_internal::AddStats;
using voice_internal::FramesIn;
using voice_internal::HasVoicemailPhrase;
using voice_internal::HeardText;
using voice_internal::Ms;
using voice_internal::ToFrames;

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
  turn.set_start_ms(MsSinceAnswer(turn_start_));
  turn.set_end_ms(MsSinceAnswer(speech_end_));
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
  // An agent turn ends when everything it queued has been sent. The leg's queue is read once
  // here (it takes the leg's lock, which its sending thread wants every frame).
  bool agent_talking = AgentTalking();
  if (agent_ && !agent_talking) {
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
  bool idle = !agent_talking && jobs_.empty() && !speaker_busy_ && !vad_.speaking() &&
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
    t.set_start_ms(MsSinceAnswer(now));
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
  turn.set_start_ms(MsSinceAnswer(agent_->start));
  turn.set_end_ms(MsSinceAnswer(clock_->Now()));
  turn.set_interrupted(interrupted);
  if (interrupted) turn.set_heard_text(heard);
  agent_.reset();
  if (!turn.text().empty()) {
    records_.push_back(std::move(turn));
    speak_cv_.Signal();  // the speaker writes turns when idle
  }
}

}  // namespace parley::worker
