#include "services/worker/sip/sip_call.h"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/media/frame_pacer.h"
#include "common/status/status.h"
#include "services/worker/sip/rtp_packet.h"
#include "services/worker/sip/sdp.h"

namespace parley::sip {
namespace {

using worker::LegEvent;
using worker::LegEventType;

LegEvent Terminal(LegEventType type, std::string reason, std::string detail, int sip_code) {
  LegEvent e;
  e.type = type;
  e.reason = std::move(reason);
  e.detail = std::move(detail);
  e.sip_code = sip_code;
  return e;
}

// The leg event for a final failure response to our INVITE.
LegEvent FromFailure(int status, const std::string& phrase, bool from_peer) {
  switch (status) {
    case 486:
    case 600:
      return Terminal(LegEventType::kBusy, "busy", phrase, status);
    case 408:
      // A 408 that the transaction layer made up means nothing answered at all.
      if (!from_peer) return Terminal(LegEventType::kFailed, "trunk_error", phrase, status);
      return Terminal(LegEventType::kNoAnswer, "no_answer", phrase, status);
    case 480:
    case 487:
      return Terminal(LegEventType::kNoAnswer, "no_answer", phrase, status);
    case 603:
      return Terminal(LegEventType::kDeclined, "declined", phrase, status);
    case 404:
    case 410:
    case 484:
    case 604:
      return Terminal(LegEventType::kFailed, "invalid_number", phrase, status);
    default:
      return Terminal(LegEventType::kFailed, "trunk_error", phrase, status);
  }
}

std::string Body(const sip_t* sip) {
  if (sip == nullptr || sip->sip_payload == nullptr || sip->sip_payload->pl_data == nullptr) {
    return "";
  }
  return std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
}

}  // namespace

SipCall::SipCall(SipTelephony::Stack* stack, std::shared_ptr<media::FrameScheduler> scheduler,
                 worker::DialRequest request, SipTrunkConfig trunk, std::unique_ptr<RtpSession> rtp,
                 std::string offer, std::optional<SdpOffer> sdp)
    : stack_(stack),
      request_(std::move(request)),
      trunk_(std::move(trunk)),
      rtp_(std::move(rtp)),
      offer_(std::move(offer)),
      scheduler_(std::move(scheduler)),
      sdp_(std::move(sdp)),
      last_sdp_(offer_) {}

// Close (which the leg always calls) has taken the call off the scheduler.
SipCall::~SipCall() = default;

void SipCall::Start() {
  ring_deadline_ = Clock::now() + absl::ToChronoNanoseconds(request_.ring_timeout);
  // On the scheduler before the INVITE leaves: the answer's Wake needs the slot.
  slot_ = scheduler_->Add(this);
  scheduler_->Wake(slot_, ring_deadline_);  // the ring timeout, unless the answer comes first
  std::shared_ptr<SipCall> self = shared_from_this();
  stack_->Post([self](nua_t* nua) {
    // Angle brackets keep URI parameters (;transport=tcp) in the URI, not the To header.
    const std::string uri = self->trunk_.RequestUri(self->request_.to);
    const std::string to = absl::StrCat("<", uri, ">");
    const std::string from_user = self->request_.from.empty() ? "parley" : self->request_.from;
    const std::string from = absl::StrCat("<sip:", from_user, "@", self->trunk_.host, ">");
    const std::string transport_param = self->trunk_.TransportParam();
    nua_handle_t* nh = nua_handle(
        nua, self.get(), SIPTAG_TO_STR(to.c_str()), SIPTAG_FROM_STR(from.c_str()),
        TAG_IF(!transport_param.empty(), NUTAG_M_PARAMS(transport_param.c_str())), TAG_END());
    if (nh == nullptr) {
      self->EndWith(Terminal(LegEventType::kFailed, "trunk_error", "no SIP handle", 0));
      return;
    }
    self->nh_ = nh;
    self->stack_->Track(nh, self);
    {
      absl::MutexLock lock(&self->mu_);
      if (self->phase_ == Phase::kEnded) {  // hung up before the INVITE left: never dial
        self->Release(nh);
        return;
      }
    }
    const std::string route = self->trunk_.outbound_proxy.empty()
                                  ? ""
                                  : absl::StrCat("<", self->trunk_.outbound_proxy, ";lr>");
    nua_invite(nh, NUTAG_URL(uri.c_str()), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
               SIPTAG_PAYLOAD_STR(self->offer_.c_str()),
               TAG_IF(!route.empty(), SIPTAG_ROUTE_STR(route.c_str())), TAG_END());
  });
}

void SipCall::Close() {
  Hangup(worker::HangupCause::kError, "leg closed");
  {
    absl::MutexLock lock(&emit_mu_);
    detached_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  scheduler_->Remove(slot_);  // RunDue is not running and will not run again
  rtp_->Stop();
}

void SipCall::Emit(const LegEvent& event) {
  absl::MutexLock lock(&emit_mu_);
  if (detached_ || request_.listener == nullptr) return;
  request_.listener->OnLegEvent(event);
}

bool SipCall::EndWith(const LegEvent& event) {
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kEnded) return false;
    phase_ = Phase::kEnded;
    out_.Clear();
    dtmf_.clear();
  }
  audio_open_ = false;
  rtp_->Stop();
  Emit(event);
  return true;
}

void SipCall::Release(nua_handle_t* nh) {
  if (released_) return;
  released_ = true;
  stack_->Forget(nh);  // may drop the stack's reference to this call
  nua_handle_destroy(nh);
}

void SipCall::OnEvent(nua_event_t event, int status, const char* phrase, nua_handle_t* nh,
                      const sip_t* sip, tagi_t tags[]) {
  switch (event) {
    case nua_r_invite:
      OnInviteResponse(status, phrase, nh, sip);
      return;
    case nua_i_bye: {
      // The transferee may hang up on us once the target answered (RFC 5589 §6.1) before our
      // BYE: the session ends the call itself as transferred, this is no hang-up to report.
      // Before the final NOTIFY came (UDP may reorder them), Transfer waits a moment for it and
      // reports the hang-up itself if it does not come.
      bool transfer_reports;
      {
        absl::MutexLock lock(&mu_);
        bye_in_transfer_ = transfer_ == TransferState::kPending;
        transfer_reports = bye_in_transfer_ || transfer_ == TransferState::kSucceeded;
        if (transfer_reports) {
          phase_ = Phase::kEnded;
          out_.Clear();
          dtmf_.clear();
        }
      }
      if (transfer_reports) {
        audio_open_ = false;
        rtp_->Stop();
      } else {
        EndWith(Terminal(LegEventType::kHangup, "callee_hangup", "BYE", 0));
      }
      return;  // nua answers the BYE; the handle ends with the terminated state
    }
    case nua_r_refer:
      OnReferResponse(status, phrase);
      return;
    case nua_i_notify:
      OnNotify(sip);
      return;
    case nua_i_invite:
      OnReinvite(nh, sip);
      return;
    case nua_i_update:
      OnUpdate(nh, sip);
      return;
    case nua_i_cancel:
      // The caller gave up before our 200 left: nua answered the CANCEL, and the INVITE with
      // 487. Nobody answered — not a completed call. Our 200 may already be queued behind the
      // CANCEL (the leg then reported itself answered a moment ago); it never goes out.
      if (inbound_) {
        EndWith(Terminal(LegEventType::kNoAnswer, "abandoned",
                         "the caller hung up before the answer", 487));
      }
      return;
    case nua_r_bye:
      if (status >= 200) {
        // A BYE the stack sent by itself (the callee stopped refreshing the session, RFC 4028
        // §10; our 200 never ACKed) while the call was up: nua reports it here and would report
        // the terminated state only after Release, i.e. never — end the call now. A no-op when
        // the BYE was ours (the call has ended already).
        EndWith(Terminal(LegEventType::kMediaLost, "media_lost", "SIP session ended", status));
        Release(nh);
      }
      return;
    case nua_i_state: {
      int state = nua_callstate_init;
      tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
      if (state == nua_callstate_terminated) {
        // Still up: the stack ended the session itself (the callee stopped refreshing it past
        // its session timer, RFC 4028 §10, and nua sent BYE).
        bool ended;
        bool up;
        {
          absl::MutexLock lock(&mu_);
          ended = phase_ == Phase::kEnded;
          up = phase_ == Phase::kUp;
          // The session ended under a transfer (the callee's BYE): the dialog lives on for the
          // refer subscription's final NOTIFY, which the handle must still be there to receive.
          keep_for_notify_ = ended && bye_in_transfer_ && transfer_ == TransferState::kPending;
        }
        if (keep_for_notify_) {
          // Released by TransferDone, or after Transfer's wait for the NOTIFY.
        } else if (ended) {
          Release(nh);
        } else if (up) {
          EndWith(Terminal(LegEventType::kMediaLost, "media_lost", "SIP session ended", status));
          Release(nh);
        } else if (inbound_) {
          // The caller's INVITE ended unanswered without a CANCEL (that one is nua_i_cancel):
          // the stack refused it itself, as it does every pending INVITE when it shuts down.
          EndWith(Terminal(LegEventType::kFailed, "trunk_error",
                           "SIP dialog ended before the answer", status));
          Release(nh);
        }
      }
      return;
    }
    default:
      return;
  }
}

void SipCall::OnInviteResponse(int status, const char* phrase, nua_handle_t* nh, const sip_t* sip) {
  const std::string text = phrase != nullptr ? phrase : "";
  if (status == 100 && (text.rfind("Retry After", 0) == 0 || text.rfind("Redirected", 0) == 0)) {
    // nua's own restarts: a 5xx with Retry-After (the INVITE would go again after a timer) or a
    // 3xx (it already went to the new target). Either would be a second call: end it here;
    // destroying the handle drops the timer, CANCEL stops a redirected INVITE.
    const bool redirected = text.rfind("Redirected", 0) == 0;
    EndWith(Terminal(LegEventType::kFailed, "trunk_error", text, redirected ? 302 : 503));
    if (redirected) nua_cancel(nh, TAG_END());
    Release(nh);
    return;
  }
  if (status < 101) return;
  if (status < 200) {
    bool report;
    {
      absl::MutexLock lock(&mu_);
      report = phase_ == Phase::kDialing && !ringing_reported_;
      ringing_reported_ = true;
    }
    if (report) {
      LegEvent e{.type = LegEventType::kRinging};
      e.sip_code = status;
      Emit(e);
    }
    return;
  }
  if (status < 300) {
    Answered(nh, sip, status);
    return;
  }
  if ((status == 401 || status == 407) && !auth_sent_ && !trunk_.auth_username.empty()) {
    const msg_auth_t* challenge =
        status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
    const char* realm =
        challenge != nullptr ? msg_params_find(challenge->au_params, "realm=") : nullptr;
    bool ended;
    {
      absl::MutexLock lock(&mu_);
      ended = phase_ == Phase::kEnded;
    }
    if (challenge != nullptr && realm != nullptr && !ended) {
      auth_sent_ = true;
      // The same INVITE again with credentials: same Call-ID, next CSeq — not a second call.
      const std::string auth = absl::StrCat(challenge->au_scheme, ":", realm, ":",
                                            trunk_.auth_username, ":", trunk_.auth_password);
      nua_authenticate(nh, NUTAG_AUTH(auth.c_str()), TAG_END());
      return;
    }
  }
  LegEvent failure = FromFailure(status, text, sip != nullptr);
  if (status == 401 || status == 407) {
    failure = Terminal(LegEventType::kFailed, "trunk_error",
                       auth_sent_ ? "authentication rejected" : "authentication required", status);
  }
  EndWith(failure);
  Release(nh);
}

bool SipCall::TakeOffer(const std::string& body) {
  // The offer must keep the codec our RTP runs with: it cannot change mid-call.
  absl::StatusOr<MediaAnswer> media = ReadSdpAnswer(body, {codec_});
  if (!media.ok()) {
    log::Warn("sip offer refused",
              {{"call_id", request_.call_id}, {"error", media.status().ToString()}});
    return false;
  }
  const std::string direction = AnswerDirection(*media);
  if (rtp_->MoveRemote(media->address, media->port)) {
    log::Info("sip media moved", {{"call_id", request_.call_id}});
  }
  if (sdp_.has_value()) {
    SdpOffer answer = *sdp_;
    answer.codecs = {codec_};
    answer.direction = direction;
    std::string text = BuildSdpOffer(answer);
    if (text != last_sdp_) {  // RFC 3264 §8: a changed SDP has the next version
      answer.version = ++sdp_->version;
      text = BuildSdpOffer(answer);
    }
    last_sdp_ = std::move(text);
  } else {
    last_sdp_ = WithDirection(last_sdp_, direction);
  }
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = held_ == media->send_audio;
    held_ = !media->send_audio;
    if (changed && !held_) resumed_ = true;
  }
  if (changed) {
    log::Info("sip hold", {{"call_id", request_.call_id}, {"direction", direction}});
    // Taken off hold: RunDue, idle while held, sends again from now.
    if (media->send_audio) scheduler_->Wake(slot_, Clock::now());
  }
  return true;
}

void SipCall::OnReinvite(nua_handle_t* nh, const sip_t* sip) {
  const std::string body = Body(sip);
  if (!body.empty() && !codec_.empty() && !TakeOffer(body)) {
    nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
    return;
  }
  // Without SDP (a session refresh may come so) our last SDP goes out again unchanged as the
  // offer. nua adds the session timer headers (RFC 4028) to the 200.
  nua_respond(nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
              SIPTAG_PAYLOAD_STR(last_sdp_.c_str()), TAG_END());
}

void SipCall::OnUpdate(nua_handle_t* nh, const sip_t* sip) {
  const std::string body = Body(sip);
  // A non-INVITE request is answered with the event it came in (the handle may have more).
  nua_t* nua = stack_->nua();
  if (body.empty()) {
    // No offer, so no answer (RFC 3311 §5.2): a session refresh. nua adds the timer headers.
    nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
    return;
  }
  if (codec_.empty()) {
    // Before the call's first offer/answer completed: our INVITE's offer is outstanding
    // (RFC 3311 §5.2). (Inbound calls have no early dialog: we send no 1xx with a tag.)
    nua_respond(nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_THIS(nua), TAG_END());
    return;
  }
  if (!TakeOffer(body)) {
    nua_respond(nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(nua), TAG_END());
    return;
  }
  nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
              SIPTAG_PAYLOAD_STR(last_sdp_.c_str()), TAG_END());
}

void SipCall::Answered(nua_handle_t* nh, const sip_t* sip, int status) {
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kDialing) {
      // The answer crossed our CANCEL or hang-up: nua has ACKed it; end the dialog.
      nua_bye(nh, TAG_END());
      return;
    }
  }
  StartMedia(nh, ReadSdpAnswer(Body(sip), trunk_.codecs), status);
}

void SipCall::StartMedia(nua_handle_t* nh, const absl::StatusOr<MediaAnswer>& media, int status) {
  RtpCallbacks callbacks;
  // The RTP thread never outlives this call (Close and the destructor stop it).
  callbacks.on_audio = [this](const audio::PcmFrame& frame) {
    if (!audio_open_) return;
    absl::MutexLock lock(&emit_mu_);
    if (!detached_ && request_.listener != nullptr) request_.listener->OnLegAudio(frame);
  };
  callbacks.on_dtmf = [this](const std::string& digit) {
    {
      // A key the callee pressed at once can arrive before kAnswered reached the listener (the
      // peer starts sending at our ACK): held until then, not dropped — RtpSession reports each
      // event once.
      absl::MutexLock lock(&mu_);
      if (phase_ == Phase::kEnded) return;
      if (!dtmf_open_) {
        early_dtmf_.push_back(digit);
        return;
      }
    }
    LegEvent e{.type = LegEventType::kDtmf};
    e.digit = digit;
    Emit(e);
  };
  absl::Status started = media.ok() ? rtp_->Start(*media, std::move(callbacks)) : media.status();
  if (!started.ok()) {
    log::Warn("sip answer unusable", {{"error", started.ToString()}});
    EndWith(Terminal(LegEventType::kFailed, "trunk_error", std::string(started.message()), 488));
    nua_bye(nh, TAG_END());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kDialing) {
      nua_bye(nh, TAG_END());
      return;
    }
    phase_ = Phase::kUp;
    was_up_ = true;
    held_ = !media->send_audio;
    answered_at_ = Clock::now();
  }
  codec_ = media->codec.name;
  scheduler_->Wake(slot_, Clock::now());  // RTP flows from now on (silence until audio)
  LegEvent e{.type = LegEventType::kAnswered};
  e.answer_rate = media->codec.clock_rate;
  e.sip_code = status;
  Emit(e);
  audio_open_ = true;
  std::vector<std::string> early;
  {
    absl::MutexLock lock(&mu_);
    dtmf_open_ = true;
    early.swap(early_dtmf_);
  }
  for (const std::string& digit : early) {
    LegEvent key{.type = LegEventType::kDtmf};
    key.digit = digit;
    Emit(key);
  }
}

absl::Status SipCall::PlayAudio(const audio::PcmFrame& frame) {
  if (frame.sample_rate != audio::kPipelineRate ||
      frame.samples.size() != static_cast<size_t>(audio::kFrameSamples)) {
    return absl::InvalidArgumentError("audio: a frame is 20 ms at 16 kHz");
  }
  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kUp) return absl::FailedPreconditionError("call is not up");
  out_.PushFrame(frame.samples);
  if (out_.size() == 1) scheduler_->Wake(slot_, Clock::now());
  return absl::OkStatus();
}

absl::Status SipCall::PlayMark(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kUp) return absl::FailedPreconditionError("call is not up");
  out_.PushMark(name);
  if (out_.size() == 1) scheduler_->Wake(slot_, Clock::now());
  return absl::OkStatus();
}

void SipCall::Clear() {
  std::vector<std::string> dropped_marks;
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kUp) return;
    dropped_marks = out_.Clear();
    restart_pacer_ = true;
  }
  // RTP has no flush message: what was sent is in the callee's jitter buffer (tens of ms).
  for (const std::string& mark : dropped_marks) {
    LegEvent e{.type = LegEventType::kMark};
    e.mark = mark;
    e.mark_cleared = true;
    Emit(e);
  }
}

absl::Status SipCall::SendDtmf(const std::string& digit, int duration_ms) {
  if (TelephoneEventCode(digit) < 0) {
    return absl::InvalidArgumentError("digit: not one of 0-9 * # A-D");
  }
  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kUp) return absl::FailedPreconditionError("call is not up");
  dtmf_.emplace_back(digit, duration_ms);
  scheduler_->Wake(slot_, Clock::now());
  return absl::OkStatus();
}

absl::Duration SipCall::QueuedAudio() const {
  absl::MutexLock lock(&mu_);
  return out_.audio();
}

bool SipCall::WaitAudioSent(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &SipCall::AudioSentOrEnded), timeout);
}

void SipCall::Hangup(worker::HangupCause cause, const std::string& detail) {
  bool was_up;
  {
    absl::MutexLock lock(&mu_);
    hangup_requested_ = true;
    if (phase_ == Phase::kEnded) return;
    phase_ = Phase::kEnded;
    was_up = was_up_;
    out_.Clear();
    dtmf_.clear();
  }
  audio_open_ = false;
  rtp_->Stop();
  log::Info("sip hangup", {{"call_id", request_.call_id}, {"detail", detail}});
  (void)cause;
  std::shared_ptr<SipCall> self = shared_from_this();
  stack_->Post([self, was_up](nua_t*) {
    if (self->nh_ == nullptr || self->released_) return;
    if (was_up) {
      nua_bye(self->nh_, TAG_END());
    } else {
      self->GiveUpUnanswered();
    }
  });
}

void SipCall::GiveUpUnanswered() {
  if (inbound_) {
    // The caller's INVITE still waits for its final response (our answer was not sent): a
    // CANCEL is the caller's to send, and nua would only refuse ours.
    nua_respond(nh_, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
  } else {
    nua_cancel(nh_, TAG_END());
  }
}

worker::LegStats SipCall::Stats() const {
  RtpStats rtp = rtp_->Stats();
  absl::MutexLock lock(&mu_);
  worker::LegStats out = stats_;
  out.frames_received = rtp.frames_delivered;
  out.frames_concealed = rtp.frames_concealed;
  out.frames_dropped = rtp.packets_dropped;
  return out;
}

void SipCall::RingTimeout() {
  // CANCEL the INVITE, report no answer.
  if (EndWith(Terminal(LegEventType::kNoAnswer, "ring_timeout", "", 0))) {
    std::shared_ptr<SipCall> self = shared_from_this();
    stack_->Post([self](nua_t*) {
      if (self->nh_ != nullptr && !self->released_) self->GiveUpUnanswered();
    });
  }
}

std::optional<SipCall::Clock::time_point> SipCall::RunDue(Clock::time_point now) {
  const Clock::duration early = scheduler_->early();
  const auto frame = std::chrono::milliseconds(audio::kFrameMs);
  bool dialing;
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kEnded) return std::nullopt;
    dialing = phase_ == Phase::kDialing;
  }
  if (dialing) {
    if (now + early < ring_deadline_) return ring_deadline_;
    RingTimeout();
    return std::nullopt;
  }
  // Up. RTP never pauses while the call is up and not on hold: with no agent audio queued a
  // silence frame goes out every 20 ms, as a phone's would (trunks hang up calls whose RTP stops
  // for a while). Everything due within the scheduler's `early` goes now (one wake-up serves every
  // call due around the same time).
  enum class Send { kSilence, kFrame, kMark, kDtmf };
  for (;;) {
    if (dtmf_sending_.has_value()) {  // a key being sent takes the place of audio
      if (dtmf_next_ > Clock::now() + early) return dtmf_next_;
      if (rtp_->SendDtmfPacket(*dtmf_sending_)) {
        dtmf_sending_.reset();
        pacer_.Restart();
        silence_due_ = Clock::now() + frame;
      } else {
        dtmf_next_ += frame;
      }
      continue;
    }
    Send what;
    worker::LegSendQueue::Item item;
    std::pair<std::string, int> dtmf;
    bool new_run = false;
    {
      absl::MutexLock lock(&mu_);
      if (phase_ != Phase::kUp) return std::nullopt;
      // On hold (the callee's offer said sendonly/inactive): nothing goes out, queued audio waits
      // until the callee takes us off hold, which wakes this call again.
      if (held_) return std::nullopt;
      now = Clock::now();
      if (restart_pacer_ || resumed_) {
        pacer_.Restart();
        restart_pacer_ = false;
      }
      if (resumed_) {
        silence_due_ = now;
        resumed_ = false;
      }
      if (!dtmf_.empty()) {
        what = Send::kDtmf;
        dtmf = std::move(dtmf_.front());
        dtmf_.pop_front();
      } else if (out_.empty()) {
        if (silence_due_ > now + early) return silence_due_;
        what = Send::kSilence;
      } else if (out_.front().is_mark) {
        what = Send::kMark;
        item = out_.Pop();
      } else {
        const Clock::time_point due = pacer_.Due(now);
        if (due > now + early) return due;
        what = Send::kFrame;
        new_run = pacer_.starts_run();
        item = out_.Pop();
        in_flight_ = true;
      }
    }
    switch (what) {
      case Send::kDtmf: {
        absl::StatusOr<RtpSession::DtmfEvent> event = rtp_->BeginDtmf(dtmf.first, dtmf.second);
        if (event.ok()) {
          dtmf_sending_ = *event;
          dtmf_next_ = Clock::now();
        } else {
          log::Warn("dtmf not sent", {{"error", event.status().ToString()}});
        }
        continue;
      }
      case Send::kMark: {
        LegEvent e{.type = LegEventType::kMark};
        e.mark = item.mark;
        Emit(e);
        continue;
      }
      case Send::kSilence: {
        static const std::vector<int16_t> kSilence(audio::kFrameSamples, 0);
        (void)rtp_->SendFrame(kSilence, false);
        const Clock::time_point sent = Clock::now();
        // Far behind (the thread was starved): start over rather than burst.
        silence_due_ = sent - silence_due_ > 5 * frame ? sent + frame : silence_due_ + frame;
        continue;
      }
      case Send::kFrame:
        break;
    }
    absl::Status sent = rtp_->SendFrame(item.pcm, new_run);
    if (!sent.ok()) log::Warn("frame not sent", {{"error", sent.ToString()}});
    const Clock::time_point sent_at = Clock::now();
    silence_due_ = sent_at + frame;
    absl::MutexLock lock(&mu_);
    in_flight_ = false;
    pacer_.Sent(sent_at);
    RecordFrameSent(stats_, pacer_, sent_at, answered_at_);
  }
}

}  // namespace parley::sip
