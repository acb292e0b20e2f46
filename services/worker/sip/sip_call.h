// Internal to SipTelephony: one outbound SIP call — its INVITE transaction and dialog (driven on
// the stack's thread), its RTP session, the queue of agent audio paced out by the telephony's
// FrameScheduler (one sending thread per core for every call, as the gRPC media leg), and the leg
// events (sip_telephony.h documents the mapping). The CallLeg handed to the
// worker wraps it; the stack keeps it alive while its NUA handle lives.
#pragma once

#include <sofia-sip/nua.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/media/frame_pacer.h"
#include "common/media/frame_scheduler.h"
#include "services/worker/leg_send_queue.h"
#include "services/worker/sip/rtp_session.h"
#include "services/worker/sip/sdp.h"
#include "services/worker/sip/sip_stack.h"
#include "services/worker/sip/sip_trunk.h"
#include "services/worker/telephony.h"

namespace parley::sip {

class SipCall final : public std::enable_shared_from_this<SipCall>,
                      private media::FrameScheduler::Client {
 public:
  SipCall(SipTelephony::Stack* stack, std::shared_ptr<media::FrameScheduler> scheduler,
          worker::DialRequest request, SipTrunkConfig trunk, std::unique_ptr<RtpSession> rtp,
          std::string offer, std::optional<SdpOffer> sdp = std::nullopt);
  ~SipCall() override;

  // Sends the INVITE (from the caller's thread: posts to the stack) and joins the scheduler.
  void Start();
  // Stack thread: one NUA event for this call's handle.
  void OnEvent(nua_event_t event, int status, const char* phrase, nua_handle_t* nh,
               const sip_t* sip, tagi_t tags[]);
  // The leg is gone: hang up if needed, leave the scheduler, stop the RTP thread, never call the
  // listener again.
  void Close();

  // Inbound mode (sip_inbound.cc): the call came in on `nh` and waits for a decision.
  // Stack thread: takes the handle's events from now on.
  void TrackInbound(nua_handle_t* nh);
  // Answers with 200 OK (our SDP answer is `offer` of the constructor) and starts RTP as `media`
  // (read from the caller's offer) says; kAnswered follows. Any thread.
  void AnswerInbound(const MediaAnswer& media);
  // Refuses with a final status instead. Any thread.
  void RejectInbound(int sip_code);

  // CallLeg, as telephony.h says.
  absl::Status PlayAudio(const audio::PcmFrame& frame);
  absl::Status PlayMark(const std::string& name);
  void Clear();
  absl::Status SendDtmf(const std::string& digit, int duration_ms);
  absl::Duration QueuedAudio() const;
  bool WaitAudioSent(absl::Duration timeout);
  void Hangup(worker::HangupCause cause, const std::string& detail);
  // REFER (sip_call_transfer.cc).
  worker::TransferResult Transfer(const std::string& to, absl::Duration timeout);
  worker::LegStats Stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { kDialing, kUp, kEnded };
  void Emit(const worker::LegEvent& event);
  // Ends the call with `event` unless it already ended; true when it did end it.
  bool EndWith(const worker::LegEvent& event);
  void OnInviteResponse(int status, const char* phrase, nua_handle_t* nh, const sip_t* sip);
  void Answered(nua_handle_t* nh, const sip_t* sip, int status);
  // A re-INVITE in our dialog (hold, unhold, session refresh): answers it and pauses or resumes
  // our RTP as its offer's direction says.
  void OnReinvite(nua_handle_t* nh, const sip_t* sip);
  // An UPDATE in our dialog (RFC 3311): with an offer, as a re-INVITE's (hold, unhold); without
  // one (a session refresh) a 200 without SDP.
  void OnUpdate(nua_handle_t* nh, const sip_t* sip);
  // A mid-call offer, once the call has its codec: false (nothing changed) when it drops the
  // codec; else our answer, mirroring its direction, is in last_sdp_, sending is paused or
  // resumed as it says, and goes to the media address it names (RtpSession::MoveRemote).
  bool TakeOffer(const std::string& body);
  // The REFER's progress: its response (a refusal ends the transfer) and the NOTIFYs whose
  // message/sipfrag body carries the status line of the transferee's INVITE to the target.
  void OnReferResponse(int status, const char* phrase);
  void OnNotify(const sip_t* sip);
  void TransferDone(bool ok, int code, const std::string& detail);
  // Starts RTP as `media` says and reports kAnswered, or ends the call when it cannot.
  void StartMedia(nua_handle_t* nh, const absl::StatusOr<MediaAnswer>& media, int status);
  void Release(nua_handle_t* nh);  // forgets and destroys the handle (stack thread)
  // FrameScheduler::Client: while dialing, the ring timeout; once up, one RTP packet per 20 ms —
  // the next agent frame (paced), a telephone-event packet, or silence.
  std::optional<Clock::time_point> RunDue(Clock::time_point now) override;
  void RingTimeout();
  // Ends an INVITE that has no final response yet (stack thread): CANCEL for ours, 480 for the
  // caller's.
  void GiveUpUnanswered();
  bool AudioSentOrEnded() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return phase_ == Phase::kEnded || (out_.frames() == 0 && !in_flight_);
  }
  enum class TransferState { kNone, kPending, kSucceeded, kFailed };
  bool TransferSettled() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return phase_ == Phase::kEnded || transfer_ != TransferState::kPending;
  }
  // After a BYE under a transfer: the outcome came, or the leg was told to hang up.
  bool FinalNotifyWaitOver() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return transfer_ != TransferState::kPending || hangup_requested_;
  }

  SipTelephony::Stack* const stack_;
  const worker::DialRequest request_;
  const SipTrunkConfig trunk_;
  const std::unique_ptr<RtpSession> rtp_;
  const std::string offer_;
  const std::shared_ptr<media::FrameScheduler> scheduler_;
  media::FrameScheduler::Slot slot_;

  // RunDue only (the scheduler never runs it on two threads at once).
  media::FramePacer pacer_;
  Clock::time_point silence_due_;
  std::optional<RtpSession::DtmfEvent> dtmf_sending_;
  Clock::time_point dtmf_next_;

  // Stack thread only.
  // What our outbound offer said (re-INVITE answers are built from it with the answer's codec; its
  // version goes up whenever our SDP changes). nullopt for inbound calls: their answers to
  // re-INVITEs are our first answer with the direction changed (WithDirection).
  std::optional<SdpOffer> sdp_;
  std::string last_sdp_;  // the SDP we sent last (the offer, then answers to mid-call offers)
  std::string codec_;     // the codec the answer chose
  nua_handle_t* nh_ = nullptr;
  bool auth_sent_ = false;
  bool released_ = false;
  bool inbound_ = false;  // the call came in (TrackInbound)
  bool keep_for_notify_ = false;  // the dialog ended, its handle kept for a transfer's NOTIFY

  mutable absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kDialing;
  bool was_up_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;  // the callee put us on hold: no RTP goes out
  TransferState transfer_ ABSL_GUARDED_BY(mu_) = TransferState::kNone;
  // The callee's BYE came while a transfer waited for its outcome (Transfer reports it).
  bool bye_in_transfer_ ABSL_GUARDED_BY(mu_) = false;
  bool hangup_requested_ ABSL_GUARDED_BY(mu_) = false;  // Hangup was called
  // How long Transfer waits for the final NOTIFY after such a BYE.
  static constexpr absl::Duration kFinalNotifyGrace = absl::Seconds(2);
  int transfer_code_ ABSL_GUARDED_BY(mu_) = 0;  // the last SIP status the transfer reported
  std::string transfer_detail_ ABSL_GUARDED_BY(mu_);
  bool ringing_reported_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool dtmf_open_ ABSL_GUARDED_BY(mu_) = false;               // kAnswered has been reported
  std::vector<std::string> early_dtmf_ ABSL_GUARDED_BY(mu_);  // keys that came before that
  worker::LegSendQueue out_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, int>> dtmf_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;      // a frame taken off the queue, being sent
  bool restart_pacer_ ABSL_GUARDED_BY(mu_) = false;  // a Clear dropped the run being sent
  bool resumed_ ABSL_GUARDED_BY(mu_) = false;        // taken off hold: RTP starts a new run
  worker::LegStats stats_ ABSL_GUARDED_BY(mu_);
  Clock::time_point answered_at_ ABSL_GUARDED_BY(mu_);
  Clock::time_point ring_deadline_;

  // Held while the listener runs; Close takes it to wait out a callback in progress.
  absl::Mutex emit_mu_;
  bool detached_ ABSL_GUARDED_BY(emit_mu_) = false;
  std::atomic<bool> audio_open_{false};
};

}  // namespace parley::sip
