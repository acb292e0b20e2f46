#include "common/callee/persona_leg.h"

#include <algorithm>
#include <future>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/speech/words.h"

namespace parley::callee {

using parley::v1::MediaMessage;

namespace {

constexpr int kFrameMs = 20;
constexpr int kFrameSamples = CallRecording::kFrameSamples;
// Agent audio kept for the recogniser per turn (30 s).
constexpr size_t kMaxUtteranceSamples = 30 * 16000;

std::string RejectName(parley::v1::Reject::Reason reason) {
  switch (reason) {
    case parley::v1::Reject::REASON_BUSY:
      return "busy";
    case parley::v1::Reject::REASON_NO_ANSWER:
      return "no_answer";
    case parley::v1::Reject::REASON_DECLINED:
      return "declined";
    default:
      return "unavailable";
  }
}

}  // namespace

PersonaEndpoint::Leg::Leg(PersonaEndpoint* endpoint, CalleeCall* call, grpc::ServerContext* context,
                          Stream* stream, int generation, std::shared_ptr<const Prepared> prepared)
    : ep_(endpoint),
      call_(call),
      context_(context),
      stream_(stream),
      generation_(generation),
      prepared_(std::move(prepared)),
      persona_(prepared_->persona) {}

bool PersonaEndpoint::Leg::Write(const MediaMessage& message) {
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(message);
}

void PersonaEndpoint::Leg::EchoMark(const std::string& name, bool cleared) {
  MediaMessage echo;
  echo.mutable_mark()->set_name(name);
  echo.mutable_mark()->set_cleared(cleared);
  Write(echo);
}

int64_t PersonaEndpoint::Leg::SinceAnswerMs() const {
  if (!answered_.load()) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - answered_at_).count();
}

void PersonaEndpoint::Leg::Log(CallEvent event) {
  parley::v1::Invite invite;
  {
    absl::MutexLock lock(&ep_->mu_);
    call_->events.push_back(event);
    if (event.kind == "callee_said") call_->said.push_back(event.text);
    if (event.kind == "agent_heard") call_->agent_text.push_back(event.text);
    if (event.kind == "agent_speech_end") ++call_->agent_utterances;
    if (event.kind == "clear") ++call_->clears;
    if (ep_->options_.on_event) invite = call_->invite;
  }
  if (ep_->options_.on_event) ep_->options_.on_event(invite, event);
}

void PersonaEndpoint::Leg::ReadLoop() {
  const int rate = call_->invite.sample_rate() > 0 ? call_->invite.sample_rate() : 16000;
  absl::StatusOr<std::unique_ptr<media::AudioReceiver>> receiver =
      media::AudioReceiver::Create(rate, CallRecording::kRate);
  MediaMessage message;
  while (stream_->Read(&message)) {
    switch (message.kind_case()) {
      case MediaMessage::kAudio: {
        if (!answered_.load() || !receiver.ok()) break;  // audio before Answer is ignored
        std::vector<audio::PcmFrame> frames = (*receiver)->Receive(message.audio());
        absl::MutexLock lock(&mu_);
        for (audio::PcmFrame& f : frames) queue_.push_back({std::move(f.samples), std::nullopt});
        break;
      }
      case MediaMessage::kClear: {
        std::vector<std::string> marks;
        int64_t dropped = 0;
        {
          absl::MutexLock lock(&mu_);
          for (Queued& q : queue_) {
            if (q.mark.has_value()) {
              marks.push_back(*q.mark);
            } else {
              ++dropped;
            }
          }
          queue_.clear();
        }
        for (const std::string& name : marks) EchoMark(name, /*cleared=*/true);
        Log({.at_ms = SinceAnswerMs(), .kind = "clear", .duration_ms = dropped * kFrameMs});
        break;
      }
      case MediaMessage::kMark: {
        bool now;
        {
          absl::MutexLock lock(&mu_);
          now = queue_.empty();
          if (!now) queue_.push_back({{}, message.mark().name()});
        }
        if (now) EchoMark(message.mark().name(), /*cleared=*/false);
        Log({.at_ms = SinceAnswerMs(), .kind = "mark", .text = message.mark().name()});
        break;
      }
      case MediaMessage::kDtmf:
        Log({.at_ms = SinceAnswerMs(), .kind = "dtmf", .text = message.dtmf().digit()});
        break;
      case MediaMessage::kHangup: {
        {
          absl::MutexLock lock(&ep_->mu_);
          call_->worker_hung_up = true;
          call_->worker_hangup = message.hangup();
        }
        {
          absl::MutexLock lock(&mu_);
          worker_hung_up_ = true;
        }
        std::string why = parley::v1::Hangup::Reason_Name(message.hangup().reason());
        if (!message.hangup().detail().empty())
          absl::StrAppend(&why, ": ", message.hangup().detail());
        Log({.at_ms = SinceAnswerMs(), .kind = "hangup_by_worker", .text = why});
        break;
      }
      default: {
        // Out of order (a second Invite, an Answer…): stop reading; the handler ends the RPC.
        const auto* field = message.GetDescriptor()->FindFieldByNumber(message.kind_case());
        absl::MutexLock lock(&mu_);
        protocol_error_ =
            absl::StrCat("unexpected message ", field != nullptr ? field->name() : "(empty)");
        closed_ = true;
        return;
      }
    }
  }
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

PersonaEndpoint::Leg::End PersonaEndpoint::Leg::CheckEnd() {
  {
    absl::MutexLock lock(&mu_);
    if (!protocol_error_.empty()) return End::kProtocolError;
    if (worker_hung_up_) return End::kWorkerHungUp;
    if (closed_) return End::kClosed;
  }
  absl::MutexLock lock(&ep_->mu_);
  if (ep_->hangup_generation_ != generation_) return End::kHangUpAll;
  return End::kNone;
}

PersonaEndpoint::Leg::End PersonaEndpoint::Leg::WaitForEnd(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (End end = CheckEnd(); end != End::kNone) return end;
    if (absl::Now() >= deadline) return End::kNone;
    absl::SleepFor(std::min(absl::Milliseconds(10), deadline - absl::Now()));
  }
}

grpc::Status PersonaEndpoint::Leg::Finish(grpc::Status status) {
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    if (!closed_) context_->TryCancel();  // unblocks the reader
  }
  if (reader_.joinable()) reader_.join();
  if (recording_ != nullptr) {
    const std::string& pattern = ep_->options_.record_path;
    if (!pattern.empty()) {
      std::string path = pattern;
      if (size_t at = path.find("{call_id}"); at != std::string::npos) {
        path.replace(at, 9, call_->invite.call_id());
      }
      absl::Status written = recording_->Write(path, ep_->options_.record_stereo);
      Log({.at_ms = SinceAnswerMs(),
           .kind = written.ok() ? "recorded" : "record_failed",
           .text = written.ok() ? path : std::string(written.message())});
    }
  }
  absl::MutexLock lock(&ep_->mu_);
  if (recording_ != nullptr && ep_->options_.keep_recording) {
    call_->recording = std::shared_ptr<const CallRecording>(std::move(recording_));
  }
  call_->ended = true;
  call_->end_time = absl::Now();
  --ep_->live_;
  return status;
}

grpc::Status PersonaEndpoint::Leg::HangUp(const std::string& detail) {
  MediaMessage hangup;
  hangup.mutable_hangup()->set_reason(parley::v1::Hangup::REASON_NORMAL);
  hangup.mutable_hangup()->set_detail(detail);
  Write(hangup);
  {
    absl::MutexLock lock(&ep_->mu_);
    call_->callee_hung_up = true;
  }
  Log({.at_ms = SinceAnswerMs(), .kind = "hangup_by_callee", .text = detail});
  // The worker stops sending and half-closes; a worker that does not is cut off.
  return AwaitWorkerClose();
}

grpc::Status PersonaEndpoint::Leg::AwaitWorkerClose() {
  bool closed;
  {
    absl::MutexLock lock(&mu_);
    closed = mu_.AwaitWithTimeout(absl::Condition(&closed_), absl::Seconds(3));
  }
  if (!closed) context_->TryCancel();
  return Finish(grpc::Status::OK);
}

grpc::Status PersonaEndpoint::Leg::OnWorkerEnd(End end) {
  switch (end) {
    case End::kHangUpAll:
      return HangUp("endpoint shutting down");
    case End::kProtocolError: {
      std::string what;
      {
        absl::MutexLock lock(&mu_);
        what = protocol_error_;
      }
      Log({.at_ms = SinceAnswerMs(), .kind = "protocol_error", .text = what});
      return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, what));
    }
    case End::kClosed:
      Log({.at_ms = SinceAnswerMs(), .kind = "dropped"});
      return Finish(grpc::Status::OK);
    case End::kWorkerHungUp:
    case End::kNone:
      break;
  }
  // The worker hung up: it half-closes next; the RPC then ends OK.
  return AwaitWorkerClose();
}

grpc::Status PersonaEndpoint::Leg::Run() {
  reader_ = std::thread([this] { ReadLoop(); });
  return Ringing();
}

grpc::Status PersonaEndpoint::Leg::Ringing() {
  MediaMessage ringing;
  ringing.mutable_ringing();
  Write(ringing);
  Log({.kind = "ringing"});
  const absl::Duration ring = persona_.answer == AnswerMode::kNoAnswer
                                  ? ep_->options_.max_call
                                  : absl::Milliseconds(persona_.ring_ms);
  if (End end = WaitForEnd(ring); end != End::kNone) return OnWorkerEnd(end);
  switch (persona_.answer) {
    case AnswerMode::kBusy:
    case AnswerMode::kDecline: {
      MediaMessage reject;
      const auto reason = persona_.answer == AnswerMode::kBusy
                              ? parley::v1::Reject::REASON_BUSY
                              : parley::v1::Reject::REASON_DECLINED;
      reject.mutable_reject()->set_reason(reason);
      reject.mutable_reject()->set_sip_code(persona_.answer == AnswerMode::kBusy ? 486 : 603);
      reject.mutable_reject()->set_detail(absl::StrCat("persona ", persona_.name));
      Write(reject);
      {
        absl::MutexLock lock(&ep_->mu_);
        call_->rejected = true;
      }
      Log({.kind = "reject", .text = RejectName(reason)});
      // The worker half-closes; the RPC ends OK when we return.
      if (WaitForEnd(absl::Seconds(3)) == End::kNone) context_->TryCancel();
      return Finish(grpc::Status::OK);
    }
    case AnswerMode::kNoAnswer:
    case AnswerMode::kHangupWhileRinging:
      return HangUp(persona_.answer == AnswerMode::kNoAnswer ? "rang too long"
                                                             : "hung up while ringing");
    case AnswerMode::kAnswer:
    case AnswerMode::kVoicemail:
      break;
  }
  return Talk();
}

void PersonaEndpoint::Leg::SendFrame(media::AudioSender& sender, std::span<const int16_t> frame,
                                     bool new_run, int64_t tick) {
  const Faults& faults = persona_.faults;
  if (faults.stop_audio_after_ms.has_value() && tick * kFrameMs >= *faults.stop_audio_after_ms) {
    return;  // the line went dead one way: nothing reaches the worker any more
  }
  absl::StatusOr<std::string> payload = sender.EncodePayload(frame);
  if (!payload.ok()) return;
  if (faults.garbage_audio) {
    thread_local std::minstd_rand noise(std::random_device{}());
    for (char& byte : *payload) byte = static_cast<char>(noise() & 0xff);
  }
  MediaMessage out;
  *out.mutable_audio() = sender.Stamp(*std::move(payload), new_run, Clock::now());
  Write(out);
  if (recording_ != nullptr) recording_->Put(CallRecording::kCallee, tick, frame);
  absl::MutexLock lock(&ep_->mu_);
  ++call_->callee_frames;
}

grpc::Status PersonaEndpoint::Leg::Talk() {
  const PersonaEndpointOptions& options = ep_->options_;
  absl::StatusOr<std::unique_ptr<media::AudioSender>> sender =
      media::AudioSender::Create(CallRecording::kRate);
  if (!sender.ok()) return Finish(grpc::Status(grpc::StatusCode::INTERNAL, "no Opus encoder"));
  if (options.keep_recording || !options.record_path.empty()) {
    recording_ = std::make_unique<CallRecording>();
  }

  MediaMessage answer;
  answer.mutable_answer()->set_codec("opus");
  answer.mutable_answer()->set_sample_rate(CallRecording::kRate);
  answered_at_ = Clock::now();
  answered_.store(true);
  {
    absl::MutexLock lock(&ep_->mu_);
    call_->answered = true;
    call_->answer_time = absl::Now();
  }
  Write(answer);
  Log({.kind = "answer", .text = std::string(AnswerModeName(persona_.answer))});

  std::unique_ptr<LiveAudio> live;
  if (options.live_audio) {
    absl::StatusOr<std::unique_ptr<LiveAudio>> made = options.live_audio(call_->invite);
    if (!made.ok()) return HangUp(absl::StrCat("live audio: ", made.status().message()));
    live = *std::move(made);
  }

  speech::Vad vad(options.vad);
  const double loud_dbfs = vad.threshold_dbfs() - options.vad.hysteresis_db;
  const std::vector<Reply>& replies = persona_.replies;
  const bool keyed =
      options.recognizer != nullptr &&
      std::any_of(replies.begin(), replies.end(), [](const Reply& r) { return !r.when.empty(); });
  const bool voicemail = persona_.answer == AnswerMode::kVoicemail;

  // What is being said: a queue of audio clips, each with what to log when it starts.
  struct Clip {
    const std::vector<int16_t>* audio;
    CallEvent event;
  };
  std::deque<Clip> playlist;
  size_t pos = 0;
  bool new_run = true;
  std::vector<bool> used(replies.size(), false);

  bool agent_spoke = false;  // the agent started speaking since the callee last spoke
  int64_t last_loud_ms = 0;
  int64_t speech_start_ms = 0;
  std::optional<int64_t> last_reply_done_ms;
  std::optional<int64_t> beep_done_ms;
  std::vector<int16_t> utterance;  // the agent's turn, for the recogniser
  std::future<std::string> recognising;

  const auto next_in_order = [&]() -> std::optional<size_t> {
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) return i;
    }
    return std::nullopt;
  };

  if (voicemail) {
    playlist.push_back({&prepared_->greeting,
                        {.kind = "callee_said",
                         .text = persona_.voicemail.greeting,
                         .duration_ms = static_cast<int64_t>(prepared_->greeting.size() / 16)}});
    playlist.push_back(
        {&prepared_->beep, {.kind = "voicemail_beep", .duration_ms = persona_.voicemail.beep_ms}});
  }

  int64_t tick = 0;
  Clock::time_point due = answered_at_;
  const std::vector<int16_t> silence(kFrameSamples, 0);
  for (;;) {
    std::this_thread::sleep_until(due);
    const Clock::time_point now = Clock::now();
    if (now - due > std::chrono::milliseconds(100)) {  // fell behind: skip the missed ticks
      tick += (now - due) / std::chrono::milliseconds(kFrameMs);
      due = now;
    }
    const int64_t elapsed_ms = tick * kFrameMs;

    if (End end = CheckEnd(); end != End::kNone) return OnWorkerEnd(end);
    if (absl::Milliseconds(elapsed_ms) >= options.max_call) return HangUp("max call length");
    if (persona_.hangup_after_s.has_value() && elapsed_ms >= *persona_.hangup_after_s * 1000) {
      return HangUp("persona hangup.after_s");
    }

    // Play out one frame of the agent's audio, and echo the marks it reaches.
    std::optional<std::vector<int16_t>> played;
    std::vector<std::string> marks;
    {
      absl::MutexLock lock(&mu_);
      while (!queue_.empty() && queue_.front().mark.has_value()) {
        marks.push_back(*queue_.front().mark);
        queue_.pop_front();
      }
      if (!queue_.empty()) {
        played = std::move(queue_.front().samples);
        queue_.pop_front();
        while (!queue_.empty() && queue_.front().mark.has_value()) {
          marks.push_back(*queue_.front().mark);
          queue_.pop_front();
        }
      }
    }
    for (const std::string& name : marks) EchoMark(name, /*cleared=*/false);
    const std::vector<int16_t>& heard = played.has_value() ? *played : silence;
    if (played.has_value()) {
      if (recording_ != nullptr) recording_->Put(CallRecording::kAgent, tick, heard);
      absl::MutexLock lock(&ep_->mu_);
      ++call_->agent_frames;
    }
    if (live != nullptr) live->Play(heard);
    const speech::VadEvent vad_event = vad.Process(heard);
    if (played.has_value() && speech::FrameDbfs(heard) >= loud_dbfs) last_loud_ms = elapsed_ms;
    if (vad_event == speech::VadEvent::kSpeechStart) {
      agent_spoke = true;
      speech_start_ms = std::max<int64_t>(0, elapsed_ms + kFrameMs - options.vad.min_speech_ms);
      Log({.at_ms = speech_start_ms, .kind = "agent_speech_start"});
    } else if (vad_event == speech::VadEvent::kSpeechEnd) {
      const int64_t end_ms = elapsed_ms + kFrameMs - options.vad.min_silence_ms;
      Log({.at_ms = end_ms, .kind = "agent_speech_end", .duration_ms = end_ms - speech_start_ms});
    }
    if (keyed && playlist.empty() && utterance.size() < kMaxUtteranceSamples &&
        (agent_spoke || vad.speaking())) {
      utterance.insert(utterance.end(), heard.begin(), heard.end());
    }

    // Decide what to say.
    const auto start_reply = [&](size_t i) {
      used[i] = true;
      const Reply& reply = replies[i];
      if (reply.silence) {
        Log({.at_ms = elapsed_ms, .kind = "callee_silent"});
        agent_spoke = vad.speaking();
        last_reply_done_ms = elapsed_ms;
        utterance.clear();
        return;
      }
      playlist.push_back(
          {&prepared_->replies[i],
           {.kind = "callee_said",
            .text = reply.say,
            .duration_ms = static_cast<int64_t>(prepared_->replies[i].size() / 16)}});
    };
    if (live != nullptr) {
      std::vector<int16_t> frame(kFrameSamples, 0);
      if (live->NextFrame(frame)) {
        SendFrame(**sender, frame, new_run, tick);
        new_run = false;
      } else {
        new_run = true;
      }
    } else if (playlist.empty() && !voicemail) {
      if (recognising.valid()) {
        if (recognising.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
          const std::string text = recognising.get();
          Log({.at_ms = elapsed_ms, .kind = "agent_heard", .text = text});
          std::optional<size_t> pick;
          for (size_t i = 0; i < replies.size() && !pick && !text.empty(); ++i) {
            if (used[i]) continue;
            for (const std::string& phrase : replies[i].when) {
              if (speech::ContainsPhrase(text, phrase)) pick = i;
            }
          }
          if (!pick) pick = next_in_order();
          if (pick) start_reply(*pick);
        }
      } else if (std::optional<size_t> next = next_in_order(); next.has_value()) {
        const Reply& reply = replies[*next];
        const bool barge_in =
            reply.interrupt_after_ms.has_value() && vad.speaking() &&
            vad.speech_duration() >= absl::Milliseconds(*reply.interrupt_after_ms);
        const bool turn =
            agent_spoke && !vad.speaking() && elapsed_ms - last_loud_ms >= persona_.PauseFor(reply);
        if (barge_in || (turn && !keyed)) {
          start_reply(*next);
        } else if (turn) {
          std::vector<int16_t> pcm = std::move(utterance);
          utterance.clear();
          Recognizer recognizer = options.recognizer;
          recognising = std::async(std::launch::async,
                                   [recognizer, pcm = std::move(pcm)] { return recognizer(pcm); });
        }
      } else if (persona_.hangup_after_last_reply_ms.has_value() && last_reply_done_ms &&
                 elapsed_ms - *last_reply_done_ms >= *persona_.hangup_after_last_reply_ms) {
        return HangUp("persona hangup.after_last_reply_ms");
      }
    }
    if (voicemail && playlist.empty() && beep_done_ms.has_value()) {
      if (elapsed_ms - *beep_done_ms >= persona_.voicemail.record_s * 1000) {
        return HangUp("voicemail record_s");
      }
      if (agent_spoke && !vad.speaking() &&
          elapsed_ms - last_loud_ms >= persona_.voicemail.end_silence_ms) {
        return HangUp("voicemail: the caller stopped talking");
      }
    }

    // Send one frame of what the callee says.
    if (!playlist.empty()) {
      Clip& clip = playlist.front();
      if (pos == 0) {
        clip.event.at_ms = elapsed_ms;
        Log(clip.event);
      }
      std::vector<int16_t> frame(kFrameSamples, 0);
      const size_t n =
          std::min<size_t>(kFrameSamples, clip.audio->size() - std::min(pos, clip.audio->size()));
      std::copy_n(clip.audio->begin() + pos, n, frame.begin());
      pos += kFrameSamples;
      if (persona_.faults.hangup_mid_reply_ms.has_value() && clip.event.kind == "callee_said" &&
          pos >= static_cast<size_t>(*persona_.faults.hangup_mid_reply_ms) * 16) {
        return HangUp("persona faults.hangup_mid_reply_ms");
      }
      SendFrame(**sender, frame, new_run, tick);
      new_run = false;
      if (pos >= clip.audio->size()) {
        const bool was_beep = clip.event.kind == "voicemail_beep";
        playlist.pop_front();
        pos = 0;
        if (playlist.empty()) {
          new_run = true;
          last_reply_done_ms = elapsed_ms + kFrameMs;
          agent_spoke = vad.speaking();  // the agent's next turn starts after our reply
          utterance.clear();
          if (was_beep) beep_done_ms = elapsed_ms + kFrameMs;
        }
      }
    }
    ++tick;
    due += std::chrono::milliseconds(kFrameMs);
  }
}

}  // namespace parley::callee
