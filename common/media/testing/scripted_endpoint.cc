#include "common/media/testing/scripted_endpoint.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/audio/tone.h"
#include "common/media/audio_stream.h"
#include "common/media/frame_pacer.h"

namespace parley::media::testing {

using parley::v1::MediaMessage;
using Stream = grpc::ServerReaderWriter<MediaMessage, MediaMessage>;
using Clock = std::chrono::steady_clock;

// One call: the handler thread follows the script and writes; a reader thread records what the
// worker sends. Both share the endpoint's mutex for the record.
class ScriptedEndpoint::Leg final {
 public:
  Leg(ScriptedEndpoint* endpoint, EndpointCall* call, grpc::ServerContext* context, Stream* stream,
      int generation)
      : ep_(endpoint), call_(call), context_(context), stream_(stream), generation_(generation) {}

  grpc::Status Run(const CalleeScript& script);

 private:
  void ReadLoop();
  bool Write(const MediaMessage& message);
  void Log(std::string entry) {
    absl::MutexLock lock(&ep_->mu_);
    call_->log.push_back(std::move(entry));
  }
  // Waits up to `timeout` for the worker to hang up / close, or for HangUpAll. True if one did.
  bool WaitForEnd(absl::Duration timeout);
  bool Ended() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(ep_->mu_) {
    return closed_ || call_->worker_hung_up || ep_->hangup_generation_ != generation_;
  }
  // Ends the call from our side with Hangup, then waits for the worker's half-close.
  grpc::Status HangUp();
  // Ends the RPC with an error (a dropped leg).
  grpc::Status Drop();
  grpc::Status Finish(grpc::Status status);
  grpc::Status Talk(const CalleeScript& script);

  ScriptedEndpoint* ep_;
  EndpointCall* call_;
  grpc::ServerContext* context_;
  Stream* stream_;
  int generation_;
  absl::Mutex write_mu_;
  bool closed_ ABSL_GUARDED_BY(ep_->mu_) = false;  // the reader saw the end of the stream
  Clock::time_point answered_at_;
  std::thread reader_;
};

bool ScriptedEndpoint::Leg::Write(const MediaMessage& message) {
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(message);
}

bool ScriptedEndpoint::Leg::WaitForEnd(absl::Duration timeout) {
  absl::MutexLock lock(&ep_->mu_);
  return ep_->mu_.AwaitWithTimeout(
      absl::Condition(
          +[](Leg* leg) ABSL_NO_THREAD_SAFETY_ANALYSIS { return leg->Ended(); }, this),
      timeout);
}

void ScriptedEndpoint::Leg::ReadLoop() {
  std::unique_ptr<AudioReceiver> receiver;
  if (auto r = AudioReceiver::Create(
          call_->invite.sample_rate() > 0 ? call_->invite.sample_rate() : 16000,
          call_->invite.sample_rate() > 0 ? call_->invite.sample_rate() : 16000);
      r.ok()) {
    receiver = *std::move(r);
  }
  MediaMessage message;
  while (stream_->Read(&message)) {
    absl::MutexLock lock(&ep_->mu_);
    switch (message.kind_case()) {
      case MediaMessage::kAudio: {
        if (!call_->answered) break;  // audio before Answer is ignored
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - answered_at_).count();
        call_->frames.push_back({message.audio().seq(), message.audio().timestamp_samples(), ms,
                                 message.audio().payload().size()});
        if (receiver != nullptr) {
          for (const audio::PcmFrame& f : receiver->Receive(message.audio())) {
            call_->heard.insert(call_->heard.end(), f.samples.begin(), f.samples.end());
          }
        }
        break;
      }
      case MediaMessage::kHangup:
        call_->worker_hung_up = true;
        call_->worker_hangup = message.hangup();
        call_->log.push_back("hangup_by_worker");
        break;
      case MediaMessage::kClear:
        ++call_->clears;
        call_->log.push_back("clear");
        break;
      case MediaMessage::kDtmf:
        call_->log.push_back("dtmf:" + message.dtmf().digit());
        break;
      case MediaMessage::kMark: {
        call_->log.push_back("mark:" + message.mark().name());
        MediaMessage echo;
        *echo.mutable_mark() = message.mark();
        echo.mutable_mark()->set_cleared(false);
        // The audio before the mark arrived paced in real time, so it has been "played" by now.
        absl::MutexLock wlock(&write_mu_);
        stream_->Write(echo);
        break;
      }
      default:
        call_->log.push_back("protocol_error");
        break;
    }
  }
  absl::MutexLock lock(&ep_->mu_);
  closed_ = true;
}

grpc::Status ScriptedEndpoint::Leg::Finish(grpc::Status status) {
  if (reader_.joinable()) reader_.join();
  absl::MutexLock lock(&ep_->mu_);
  call_->ended = true;
  call_->end_time = absl::Now();
  --ep_->live_;
  return status;
}

grpc::Status ScriptedEndpoint::Leg::HangUp() {
  MediaMessage hangup;
  hangup.mutable_hangup()->set_reason(parley::v1::Hangup::REASON_NORMAL);
  Write(hangup);
  Log("hangup_by_callee");
  // The worker stops sending and half-closes; a worker that does not is cut off.
  {
    absl::MutexLock lock(&ep_->mu_);
    if (!ep_->mu_.AwaitWithTimeout(absl::Condition(&closed_), absl::Seconds(3))) {
      context_->TryCancel();
    }
  }
  return Finish(grpc::Status::OK);
}

grpc::Status ScriptedEndpoint::Leg::Drop() {
  Log("dropped");
  context_->TryCancel();
  return Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "scripted drop"));
}

grpc::Status ScriptedEndpoint::Leg::Run(const CalleeScript& script) {
  reader_ = std::thread([this] { ReadLoop(); });
  MediaMessage ringing;
  ringing.mutable_ringing();
  Write(ringing);
  Log("ringing");
  if (WaitForEnd(script.ring_for)) {
    bool worker_gave_up;
    {
      absl::MutexLock lock(&ep_->mu_);
      worker_gave_up = closed_ || call_->worker_hung_up;
    }
    if (!worker_gave_up) return HangUp();  // HangUpAll while ringing
    return Finish(grpc::Status::OK);
  }
  switch (script.pickup) {
    case CalleeScript::Pickup::kReject: {
      MediaMessage reject;
      reject.mutable_reject()->set_reason(script.reject_reason);
      reject.mutable_reject()->set_sip_code(script.reject_sip_code);
      reject.mutable_reject()->set_detail("scripted");
      Write(reject);
      Log("reject");
      absl::MutexLock lock(&ep_->mu_);
      if (!ep_->mu_.AwaitWithTimeout(absl::Condition(&closed_), absl::Seconds(3))) {
        context_->TryCancel();
      }
      break;
    }
    case CalleeScript::Pickup::kNeverAnswer:
      while (!WaitForEnd(absl::Seconds(1)) && !context_->IsCancelled()) {
      }
      break;
    case CalleeScript::Pickup::kHangupWhileRinging:
      return HangUp();
    case CalleeScript::Pickup::kDropWhileRinging:
      return Drop();
    case CalleeScript::Pickup::kAnswer:
      return Talk(script);
  }
  return Finish(grpc::Status::OK);
}

grpc::Status ScriptedEndpoint::Leg::Talk(const CalleeScript& script) {
  const int invite_rate = call_->invite.sample_rate() > 0 ? call_->invite.sample_rate() : 16000;
  const int rate = script.answer_rate > 0 ? script.answer_rate : invite_rate;
  MediaMessage answer;
  answer.mutable_answer()->set_codec("opus");
  answer.mutable_answer()->set_sample_rate(script.answer_rate);
  answered_at_ = Clock::now();
  {
    absl::MutexLock lock(&ep_->mu_);
    call_->answered = true;
    call_->answer_time = absl::Now();
    call_->log.push_back("answer");
  }
  Write(answer);

  auto sender = AudioSender::Create(rate);
  audio::ToneGenerator tone(script.tone_hz, rate);
  FramePacer pacer;
  const auto since_answer = [&](absl::Duration d) {
    return answered_at_ + absl::ToChronoNanoseconds(d);
  };
  const auto tone_begin = since_answer(script.tone_start);
  const auto tone_end = since_answer(script.tone_start + script.tone_for);
  size_t next_dtmf = 0;
  for (;;) {
    Clock::time_point now = Clock::now();
    Clock::time_point wake = now + std::chrono::seconds(1);
    if (script.hangup_after.has_value()) {
      if (now >= since_answer(*script.hangup_after)) return HangUp();
      wake = std::min(wake, since_answer(*script.hangup_after));
    }
    if (script.drop_after.has_value()) {
      if (now >= since_answer(*script.drop_after)) return Drop();
      wake = std::min(wake, since_answer(*script.drop_after));
    }
    if (next_dtmf < script.dtmf.size()) {
      const auto& [at, digit] = script.dtmf[next_dtmf];
      if (now >= since_answer(at)) {
        MediaMessage key;
        key.mutable_dtmf()->set_digit(digit);
        Write(key);
        ++next_dtmf;
        continue;
      }
      wake = std::min(wake, since_answer(at));
    }
    if (script.tone_hz > 0 && sender.ok() && now >= tone_begin && now < tone_end) {
      Clock::time_point due = pacer.Due(now);
      if (now >= due) {
        auto audio = (*sender)->Encode(tone.Next((*sender)->frame_samples()));
        if (audio.ok()) {
          MediaMessage frame;
          *frame.mutable_audio() = *std::move(audio);
          Write(frame);
        }
        pacer.Sent(Clock::now());
        continue;
      }
      wake = std::min(wake, due);
    } else if (script.tone_hz > 0 && now < tone_begin) {
      wake = std::min(wake, tone_begin);
    }
    auto wait = std::max(Clock::duration::zero(), wake - Clock::now());
    if (WaitForEnd(absl::FromChrono(wait))) {
      bool worker_ended;
      {
        absl::MutexLock lock(&ep_->mu_);
        worker_ended = closed_ || call_->worker_hung_up;
      }
      if (!worker_ended) return HangUp();  // HangUpAll
      // The worker hung up: it half-closes next; the RPC then ends OK.
      {
        absl::MutexLock lock(&ep_->mu_);
        if (!ep_->mu_.AwaitWithTimeout(absl::Condition(&closed_), absl::Seconds(3))) {
          context_->TryCancel();
        }
      }
      return Finish(grpc::Status::OK);
    }
  }
}

ScriptedEndpoint::~ScriptedEndpoint() = default;

void ScriptedEndpoint::SetDefaultScript(CalleeScript script) {
  absl::MutexLock lock(&mu_);
  default_script_ = std::move(script);
}

void ScriptedEndpoint::SetScript(const std::string& number, CalleeScript script) {
  absl::MutexLock lock(&mu_);
  scripts_[number] = std::move(script);
}

CalleeScript ScriptedEndpoint::ScriptFor(const std::string& number) const {
  absl::MutexLock lock(&mu_);
  auto it = scripts_.find(number);
  return it != scripts_.end() ? it->second : default_script_;
}

grpc::Status ScriptedEndpoint::Call(grpc::ServerContext* context, Stream* stream) {
  MediaMessage first;
  if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::CANCELLED, "no Invite");
  if (!first.has_invite()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be Invite");
  }
  EndpointCall* call;
  int generation;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::make_unique<EndpointCall>());
    call = calls_.back().get();
    call->invite = first.invite();
    call->invite_time = absl::Now();
    generation = hangup_generation_;
    ++live_;
  }
  Leg leg(this, call, context, stream, generation);
  return leg.Run(ScriptFor(first.invite().to()));
}

std::vector<EndpointCall> ScriptedEndpoint::Calls() const {
  absl::MutexLock lock(&mu_);
  std::vector<EndpointCall> out;
  out.reserve(calls_.size());
  for (const auto& c : calls_) out.push_back(*c);
  return out;
}

std::optional<EndpointCall> ScriptedEndpoint::Find(const std::string& call_id) const {
  absl::MutexLock lock(&mu_);
  for (auto it = calls_.rbegin(); it != calls_.rend(); ++it) {
    if ((*it)->invite.call_id() == call_id) return **it;
  }
  return std::nullopt;
}

int ScriptedEndpoint::InvitesFor(const std::string& call_id) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(std::count_if(
      calls_.begin(), calls_.end(), [&](const auto& c) { return c->invite.call_id() == call_id; }));
}

int ScriptedEndpoint::InvitesTo(const std::string& number) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(std::count_if(calls_.begin(), calls_.end(),
                                        [&](const auto& c) { return c->invite.to() == number; }));
}

int ScriptedEndpoint::LiveCalls() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

bool ScriptedEndpoint::WaitUntil(const std::function<bool(const std::vector<EndpointCall>&)>& done,
                                 absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (done(Calls())) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

void ScriptedEndpoint::HangUpAll() {
  absl::MutexLock lock(&mu_);
  ++hangup_generation_;
}

}  // namespace parley::media::testing
