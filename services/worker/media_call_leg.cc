#include "services/worker/media_call_leg.h"

#include <cctype>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include "common/log/log.h"
#include "common/media/audio_stream.h"
#include "common/media/frame_pacer.h"
#include "common/media/frame_scheduler.h"
#include "parley/v1/media.grpc.pb.h"
#include "services/worker/leg_send_queue.h"

namespace parley::worker {
namespace {

using parley::v1::MediaMessage;
using Clock = std::chrono::steady_clock;

LegEvent Terminal(LegEventType type, std::string reason, std::string detail = "",
                  int sip_code = 0) {
  LegEvent e;
  e.type = type;
  e.reason = std::move(reason);
  e.detail = std::move(detail);
  e.sip_code = sip_code;
  return e;
}

LegEvent FromReject(const parley::v1::Reject& reject) {
  using R = parley::v1::Reject;
  switch (reject.reason()) {
    case R::REASON_BUSY:
      return Terminal(LegEventType::kBusy, "busy", reject.detail(), reject.sip_code());
    case R::REASON_NO_ANSWER:
      return Terminal(LegEventType::kNoAnswer, "no_answer", reject.detail(), reject.sip_code());
    case R::REASON_DECLINED:
      return Terminal(LegEventType::kDeclined, "declined", reject.detail(), reject.sip_code());
    case R::REASON_INVALID_NUMBER:
      return Terminal(LegEventType::kFailed, "invalid_number", reject.detail(), reject.sip_code());
    default:
      return Terminal(LegEventType::kFailed, "trunk_error", reject.detail(), reject.sip_code());
  }
}

parley::v1::Hangup::Reason ToProto(HangupCause cause) {
  switch (cause) {
    case HangupCause::kNormal:
      return parley::v1::Hangup::REASON_NORMAL;
    case HangupCause::kCanceled:
      return parley::v1::Hangup::REASON_CANCELED;
    case HangupCause::kTimeout:
      return parley::v1::Hangup::REASON_TIMEOUT;
    case HangupCause::kError:
      return parley::v1::Hangup::REASON_ERROR;
  }
  return parley::v1::Hangup::REASON_NORMAL;
}

bool ValidDigit(const std::string& d) {
  return d.size() == 1 && (std::isdigit(static_cast<unsigned char>(d[0])) || d[0] == '*' ||
                           d[0] == '#' || (d[0] >= 'A' && d[0] <= 'D'));
}

class MediaCallLeg final : public CallLeg, private media::FrameScheduler::Client {
 public:
  MediaCallLeg(std::shared_ptr<grpc::Channel> channel, DialRequest request,
               std::unique_ptr<media::AudioSender> sender,
               std::shared_ptr<media::FrameScheduler> scheduler, MediaLegQueueOptions queue)
      : stub_(parley::v1::MediaEndpoint::NewStub(channel)),
        request_(std::move(request)),
        queue_options_(queue),
        scheduler_(std::move(scheduler)),
        sender_(std::move(sender)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + request_.ring_timeout +
                                             request_.max_duration + absl::Minutes(1)));
  }

  ~MediaCallLeg() override {
    Hangup(HangupCause::kError, "leg closed");
    {
      // The callee side closes the stream once it saw our half-close; cut it if it does not.
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithTimeout(absl::Condition(&reader_done_), absl::Seconds(2))) {
        context_.TryCancel();
      }
    }
    if (reader_.joinable()) reader_.join();
    scheduler_->Remove(slot_);
  }

  void Start() {
    ring_deadline_ = Clock::now() + absl::ToChronoNanoseconds(request_.ring_timeout);
    slot_ = scheduler_->Add(this);
    scheduler_->Wake(slot_, ring_deadline_);  // the ring timeout, unless audio comes first
    reader_ = std::thread([this] { ReadLoop(); });
  }

  std::optional<Clock::time_point> RunDue(Clock::time_point now) override;

  absl::Status PlayAudio(const audio::PcmFrame& frame) override {
    if (frame.sample_rate != audio::kPipelineRate ||
        frame.samples.size() != static_cast<size_t>(audio::kFrameSamples)) {
      return absl::InvalidArgumentError("audio: a frame is 20 ms at 16 kHz");
    }
    // Encoded when sent or shortly before (EncodeAhead, on the scheduler's thread), not here: a
    // greeting queued at answer would otherwise cost a burst of encoding (~0.1 ms a frame) before
    // its first frame could leave, and the speaking thread would pay for every frame of a reply.
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kUp) return absl::FailedPreconditionError("call is not up");
    out_.PushFrame(frame.samples);
    if (out_.size() == 1) scheduler_->Wake(slot_, Clock::now());
    return absl::OkStatus();
  }

  absl::Status PlayMark(const std::string& name) override {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kUp) return absl::FailedPreconditionError("call is not up");
    out_.PushMark(name);
    if (out_.size() == 1) scheduler_->Wake(slot_, Clock::now());
    return absl::OkStatus();
  }

  void Clear() override {
    std::vector<std::string> dropped_marks;
    {
      absl::MutexLock lock(&mu_);
      if (phase_ != Phase::kUp) return;
      dropped_marks = out_.Clear();
      restart_pacer_ = true;
    }
    MediaMessage clear;
    clear.mutable_clear();
    Write(clear);
    for (const std::string& mark : dropped_marks) {
      LegEvent e;
      e.type = LegEventType::kMark;
      e.mark = mark;
      e.mark_cleared = true;
      Emit(e);
    }
  }

  absl::Status SendDtmf(const std::string& digit, int duration_ms) override {
    if (!ValidDigit(digit)) return absl::InvalidArgumentError("digit: not one of 0-9 * # A-D");
    {
      absl::MutexLock lock(&mu_);
      if (phase_ != Phase::kUp) return absl::FailedPreconditionError("call is not up");
    }
    MediaMessage m;
    m.mutable_dtmf()->set_digit(digit);
    m.mutable_dtmf()->set_duration_ms(duration_ms);
    if (!Write(m)) return absl::UnavailableError("media stream closed");
    return absl::OkStatus();
  }

  absl::Duration QueuedAudio() const override {
    absl::MutexLock lock(&mu_);
    return out_.audio();
  }

  bool WaitAudioSent(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(this, &MediaCallLeg::AudioSentOrEnded), timeout);
  }

  bool WaitPcmBelow(int64_t frames, absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    pcm_wait_frames_ = frames;
    return mu_.AwaitWithTimeout(absl::Condition(this, &MediaCallLeg::PcmBelowOrEnded), timeout);
  }

  void Hangup(HangupCause cause, const std::string& detail) override {
    {
      absl::MutexLock lock(&mu_);
      if (phase_ == Phase::kEnded) return;
      phase_ = Phase::kEnded;
      out_.Clear();
    }
    MediaMessage m;
    m.mutable_hangup()->set_reason(ToProto(cause));
    m.mutable_hangup()->set_detail(detail);
    Write(m);
    CloseWrites();
  }

  LegStats Stats() const override {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  enum class Phase { kRinging, kUp, kEnded };
  bool PcmBelowOrEnded() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return phase_ != Phase::kUp || out_.pcm_frames() <= pcm_wait_frames_;
  }
  bool AudioSentOrEnded() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return phase_ == Phase::kEnded || (out_.frames() == 0 && !in_flight_);
  }

  bool Write(const MediaMessage& message) {
    absl::MutexLock lock(&write_mu_);
    if (writes_closed_ || stream_ == nullptr) return false;
    return stream_->Write(message);
  }

  void CloseWrites() {
    absl::MutexLock lock(&write_mu_);
    if (!writes_closed_ && stream_ != nullptr) stream_->WritesDone();
    writes_closed_ = true;
  }

  void Emit(const LegEvent& event) {
    if (request_.listener != nullptr) request_.listener->OnLegEvent(event);
  }

  // Ends the leg with a terminal event unless it already ended (by either side).
  void EndWith(const LegEvent& event) {
    {
      absl::MutexLock lock(&mu_);
      if (phase_ == Phase::kEnded) return;
      phase_ = Phase::kEnded;
      out_.Clear();
    }
    Emit(event);
  }

  Phase phase() const {
    absl::MutexLock lock(&mu_);
    return phase_;
  }

  // Encodes up to queue_options_.encode_ahead of the oldest queued PCM frames while more than
  // keep_pcm_frames are PCM, right after a frame was sent (so the encoder continues that run).
  // Only RunDue calls it.
  void EncodeAhead();

  void ReadLoop();
  // Handles one message from the callee; false for a protocol error.
  bool Handle(const MediaMessage& message, std::unique_ptr<media::AudioReceiver>& receiver);
  // The ring timeout, on the scheduler's thread.
  void RingTimeout();

  std::unique_ptr<parley::v1::MediaEndpoint::Stub> stub_;
  const DialRequest request_;
  const MediaLegQueueOptions queue_options_;
  const std::shared_ptr<media::FrameScheduler> scheduler_;
  media::FrameScheduler::Slot slot_;
  grpc::ClientContext context_;
  Clock::time_point ring_deadline_;

  mutable absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kRinging;
  bool ringing_reported_ ABSL_GUARDED_BY(mu_) = false;
  LegSendQueue out_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;       // a frame taken off the queue, being written
  int64_t pcm_wait_frames_ ABSL_GUARDED_BY(mu_) = 0;  // WaitPcmBelow's (one speaker per call)
  bool restart_pacer_ ABSL_GUARDED_BY(mu_) = false;   // a Clear dropped the run being sent
  bool reader_done_ ABSL_GUARDED_BY(mu_) = false;
  LegStats stats_ ABSL_GUARDED_BY(mu_);
  Clock::time_point answered_at_ ABSL_GUARDED_BY(mu_);

  // Serialises writes (gRPC allows one at a time); never held together with mu_.
  absl::Mutex write_mu_;
  std::unique_ptr<grpc::ClientReaderWriter<MediaMessage, MediaMessage>> stream_
      ABSL_GUARDED_BY(write_mu_);
  bool writes_closed_ ABSL_GUARDED_BY(write_mu_) = false;

  // Used only by RunDue, which the scheduler never runs on two threads at once.
  std::unique_ptr<media::AudioSender> sender_;
  media::FramePacer pacer_;

  std::thread reader_;
};

void MediaCallLeg::ReadLoop() {
  grpc::ClientReaderWriter<MediaMessage, MediaMessage>* stream;
  {
    absl::MutexLock lock(&write_mu_);
    if (writes_closed_) {  // hung up before the stream even started: never dial
      absl::MutexLock state(&mu_);
      reader_done_ = true;
      return;
    }
    stream_ = stub_->Call(&context_);
    stream = stream_.get();
    MediaMessage invite;
    parley::v1::Invite* i = invite.mutable_invite();
    i->set_call_id(request_.call_id);
    i->set_to(request_.to);
    i->set_from(request_.from);
    i->set_agent(request_.agent);
    i->set_codec("opus");
    i->set_sample_rate(audio::kPipelineRate);
    i->set_frame_ms(audio::kFrameMs);
    for (const auto& [k, v] : request_.context) (*i->mutable_context())[k] = v;
    stream_->Write(invite);  // a failure shows as the end of the stream below
  }
  std::unique_ptr<media::AudioReceiver> receiver;
  bool protocol_error = false;
  MediaMessage message;
  while (stream->Read(&message)) {
    if (!Handle(message, receiver)) {
      protocol_error = true;
      context_.TryCancel();
      break;
    }
  }
  grpc::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    writes_closed_ = true;
    status = stream->Finish();
  }
  const bool answered = receiver != nullptr;
  std::string detail = status.ok() ? "stream ended without Hangup" : status.error_message();
  if (protocol_error) {
    EndWith(Terminal(answered ? LegEventType::kMediaLost : LegEventType::kFailed, "protocol_error",
                     "message out of order"));
  } else {
    EndWith(Terminal(answered ? LegEventType::kMediaLost : LegEventType::kFailed,
                     answered ? "media_lost" : "trunk_error", detail));
  }
  absl::MutexLock lock(&mu_);
  reader_done_ = true;
}

bool MediaCallLeg::Handle(const MediaMessage& message,
                          std::unique_ptr<media::AudioReceiver>& receiver) {
  const Phase now = phase();
  switch (message.kind_case()) {
    case MediaMessage::kRinging: {
      if (now == Phase::kUp) return false;
      bool report;
      {
        absl::MutexLock lock(&mu_);
        report = phase_ == Phase::kRinging && !ringing_reported_;
        ringing_reported_ = true;
      }
      if (report) Emit({.type = LegEventType::kRinging});
      return true;
    }
    case MediaMessage::kAnswer: {
      if (now == Phase::kUp) return false;
      if (now == Phase::kEnded) return true;  // crossed our Hangup
      const int rate = message.answer().sample_rate() > 0 ? message.answer().sample_rate()
                                                          : audio::kPipelineRate;
      auto created = media::AudioReceiver::Create(rate);
      if (!created.ok()) return false;
      {
        absl::MutexLock lock(&mu_);
        if (phase_ != Phase::kRinging) return true;
        phase_ = Phase::kUp;
        answered_at_ = Clock::now();
      }
      receiver = *std::move(created);
      LegEvent e{.type = LegEventType::kAnswered};
      e.answer_rate = rate;
      Emit(e);
      return true;
    }
    case MediaMessage::kReject:
      if (now == Phase::kUp) return false;
      EndWith(FromReject(message.reject()));
      CloseWrites();
      return true;
    case MediaMessage::kHangup:
      if (now == Phase::kUp) {
        EndWith(Terminal(LegEventType::kHangup, "callee_hangup", message.hangup().detail()));
      } else if (message.hangup().reason() == parley::v1::Hangup::REASON_ERROR) {
        EndWith(Terminal(LegEventType::kFailed, "trunk_error", message.hangup().detail()));
      } else {
        EndWith(Terminal(LegEventType::kDeclined, "callee_hangup", message.hangup().detail()));
      }
      CloseWrites();
      return true;
    case MediaMessage::kAudio: {
      if (now != Phase::kUp || receiver == nullptr) return true;  // ignored before answer
      std::vector<audio::PcmFrame> frames = receiver->Receive(message.audio());
      {
        const media::ReceiveStats& r = receiver->stats();
        absl::MutexLock lock(&mu_);
        stats_.frames_received = r.frames;
        stats_.frames_concealed = r.concealed_frames;
        stats_.frames_dropped = r.late_or_duplicate;
      }
      if (request_.listener != nullptr) {
        for (const audio::PcmFrame& f : frames) request_.listener->OnLegAudio(f);
      }
      return true;
    }
    case MediaMessage::kDtmf:
      if (now == Phase::kUp) {
        LegEvent e{.type = LegEventType::kDtmf};
        e.digit = message.dtmf().digit();
        Emit(e);
      }
      return true;
    case MediaMessage::kMark:
      if (now == Phase::kUp) {
        LegEvent e{.type = LegEventType::kMark};
        e.mark = message.mark().name();
        e.mark_cleared = message.mark().cleared();
        Emit(e);
      }
      return true;
    default:
      return false;  // Invite, Clear: only the worker sends those
  }
}

void MediaCallLeg::RingTimeout() {
  // Give up like a SIP CANCEL, then report no answer.
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kRinging) return;
    phase_ = Phase::kEnded;
  }
  MediaMessage m;
  m.mutable_hangup()->set_reason(parley::v1::Hangup::REASON_CANCELED);
  m.mutable_hangup()->set_detail("ring_timeout");
  Write(m);
  CloseWrites();
  Emit(Terminal(LegEventType::kNoAnswer, "ring_timeout"));
}

std::optional<Clock::time_point> MediaCallLeg::RunDue(Clock::time_point now) {
  // Everything at the front of the queue that is due: marks at once, one audio frame per
  // period of the pacer. Frames due within the scheduler's `early` go now (a wake-up serves
  // every call due around the same time).
  if (phase() == Phase::kRinging) {
    if (now + scheduler_->early() < ring_deadline_) return ring_deadline_;
    RingTimeout();
    return std::nullopt;  // answered meanwhile: PlayAudio wakes us
  }
  for (;;) {
    LegSendQueue::Item item;
    bool new_run = false;
    {
      absl::MutexLock lock(&mu_);
      if (phase_ != Phase::kUp || out_.empty()) return std::nullopt;
      if (restart_pacer_) {
        pacer_.Restart();
        restart_pacer_ = false;
      }
      if (!out_.front().is_mark) {
        now = Clock::now();
        Clock::time_point due = pacer_.Due(now);
        if (due > now + scheduler_->early()) return due;
        new_run = pacer_.starts_run();
      }
      item = out_.Pop();
      in_flight_ = true;
    }
    MediaMessage m;
    if (item.is_mark) {
      m.mutable_mark()->set_name(item.mark);
    } else {
      absl::StatusOr<std::string> payload =
          item.encoded ? std::move(item.packet) : sender_->EncodePayload(item.pcm, new_run);
      if (!payload.ok()) {
        log::Warn("frame not encoded", {{"error", payload.status().ToString()}});
        absl::MutexLock state_lock(&mu_);
        in_flight_ = false;
        continue;
      }
      *m.mutable_audio() = sender_->Stamp(*std::move(payload), new_run, Clock::now());
    }
    Write(m);
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = false;
      if (!item.is_mark) {
        const Clock::time_point sent = Clock::now();
        pacer_.Sent(sent);
        RecordFrameSent(stats_, pacer_, sent, answered_at_);
      }
    }
    if (!item.is_mark) EncodeAhead();
  }
}

void MediaCallLeg::EncodeAhead() {
  for (int i = 0; i < queue_options_.encode_ahead; ++i) {
    std::vector<int16_t> pcm;
    uint64_t clears;
    LegSendQueue::Item* next;
    {
      absl::MutexLock lock(&mu_);
      if (phase_ != Phase::kUp) return;
      next = out_.NextToEncode(queue_options_.keep_pcm_frames);
      if (next == nullptr) return;
      // Taken out, not copied, and encoded outside mu_ (PlayAudio never waits for an encoding):
      // only this thread pops or reads a queued frame's samples.
      pcm.swap(next->pcm);
      clears = out_.clears();
    }
    absl::StatusOr<std::string> payload = sender_->EncodePayload(pcm, /*new_run=*/false);
    absl::MutexLock lock(&mu_);
    // `next` is still queued unless a Clear dropped everything.
    if (out_.clears() != clears || phase_ != Phase::kUp) return;
    if (!payload.ok()) {
      next->pcm.swap(pcm);  // left as PCM: encoded again when sent, and logged then
      return;
    }
    out_.SetPacket(next, *std::move(payload));
  }
}

}  // namespace

std::unique_ptr<CallLeg> StartMediaCallLeg(std::shared_ptr<grpc::Channel> channel,
                                           const DialRequest& request,
                                           std::unique_ptr<media::AudioSender> sender,
                                           std::shared_ptr<media::FrameScheduler> scheduler,
                                           MediaLegQueueOptions queue) {
  auto leg = std::make_unique<MediaCallLeg>(std::move(channel), request, std::move(sender),
                                            std::move(scheduler), queue);
  leg->Start();
  return leg;
}

}  // namespace parley::worker
