// Telephony: how a worker reaches a phone (DESIGN.md, "Media and the voice pipeline"). A Telephony
// dials a number through a trunk and returns a CallLeg; the leg reports what happens on the line
// (ringing, answered, busy, no answer, declined, failure, hang-up, DTMF, playback marks) and the
// callee's audio to a LegListener, and takes the agent's audio, paced in real time.
//
// Implementations: media_leg.h (the gRPC media protocol, trunk kind "grpc"), sip/sip_telephony.h
// (SIP trunks with RTP, trunk kind "sip"); TelephonyByKind picks one by the trunk's kind.
//
//   class Session : public LegListener { … OnLegEvent / OnLegAudio … };
//   PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<CallLeg> leg,
//                           telephony.Dial({.call_id = id, .to = "+14155550100",
//                                           .ring_timeout = absl::Seconds(30),
//                                           .listener = &session}, config.trunk()));
//   // … kAnswered arrives on the listener …
//   leg->PlayAudio(frame);                       // 20 ms at 16 kHz, queued and paced
//   leg->Hangup(HangupCause::kNormal, "agent_hangup");
//
// Threading: listener callbacks run on the leg's own threads, never while the leg holds a lock,
// so they may call back into the leg. Every CallLeg method is thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/audio/pcm.h"
#include "common/media/frame_pacer.h"
#include "parley/v1/config.pb.h"

namespace parley::worker {

enum class LegEventType {
  kRinging,   // the phone rings (reported once)
  kAnswered,  // the callee answered; audio flows both ways
  // Terminal events: exactly one ends every leg that the worker did not hang up itself.
  kBusy,       // line busy
  kNoAnswer,   // nobody answered (the callee side said so, or the ring timeout ran out)
  kDeclined,   // the callee declined the call
  kFailed,     // never answered because of an error (`reason`: trunk_error, invalid_number, …)
  kHangup,     // the callee hung up after answering
  kMediaLost,  // the connection dropped after answer
  // While the call is up:
  kDtmf,  // a key press (`digit`)
  kMark,  // a playback marker came back (`mark`, `mark_cleared`)
};

// True for the events that end a leg.
bool IsTerminal(LegEventType type);

struct LegEvent {
  LegEventType type = LegEventType::kRinging;
  // For terminal events, the call's ended_reason: "busy", "no_answer", "ring_timeout",
  // "declined", "invalid_number", "trunk_error", "protocol_error", "callee_hangup", "media_lost",
  // "abandoned" (an inbound caller hung up before the answer).
  std::string reason;
  std::string detail;   // free text from the other side, for events and logs
  int sip_code = 0;     // equivalent SIP response code, when the trunk gave one
  int answer_rate = 0;  // kAnswered: the rate the callee sends at
  std::string digit;    // kDtmf
  std::string mark;     // kMark
  bool mark_cleared = false;
};

// Receives what happens on a leg. Must outlive the leg.
class LegListener {
 public:
  virtual ~LegListener() = default;
  // Called once per event, in order. Should return quickly.
  virtual void OnLegEvent(const LegEvent& event) = 0;
  // The callee's audio after answer, as 20 ms frames at 16 kHz, in order, on the leg's receive
  // thread. Should return within a few ms (it delays the next frame).
  virtual void OnLegAudio(const audio::PcmFrame& frame) {}
};

enum class HangupCause {
  kNormal,    // the conversation ended
  kCanceled,  // given up before answer (call canceled, ring timeout)
  kTimeout,   // a time limit ended the call
  kError,     // an error on our side
};

struct LegStats {
  int64_t frames_sent = 0;
  int64_t late_frames = 0;  // sent more than 10 ms after their due time
  int64_t max_late_us = 0;
  int64_t frames_received = 0;
  int64_t frames_concealed = 0;  // lost frames replaced by concealment
  int64_t frames_dropped = 0;    // late or duplicate frames
  // From the callee's answer reaching the leg to the first agent audio frame leaving it; -1 when
  // no audio was sent after an answer.
  int64_t first_audio_us = -1;
};

// Records on `stats` a frame of agent audio that left at `sent_at`, once `pacer` has counted it:
// the pacer's counts, and the first audio time after `answered_at` for the first one.
inline void RecordFrameSent(LegStats& stats, const media::FramePacer& pacer,
                            std::chrono::steady_clock::time_point sent_at,
                            std::chrono::steady_clock::time_point answered_at) {
  if (stats.first_audio_us < 0) {
    stats.first_audio_us =
        std::chrono::duration_cast<std::chrono::microseconds>(sent_at - answered_at).count();
  }
  stats.frames_sent = pacer.frames();
  stats.late_frames = pacer.late_frames();
  stats.max_late_us = pacer.max_late_us();
}

// What CallLeg::Transfer came to: OK when the transfer target answered; otherwise why not.
// `sip_code` is the last SIP status the transfer reported (the REFER's refusal, or the status
// line of the transferee's call to the target, e.g. 603), 0 when none.
struct TransferResult {
  absl::Status status;
  int sip_code = 0;
};

class CallLeg {
 public:
  // Hangs up (kError) if the call is still up, and waits for the leg's threads.
  virtual ~CallLeg() = default;

  // Queues one frame (20 ms at 16 kHz) to be sent after the audio already queued, paced in real
  // time. FAILED_PRECONDITION before answer or after the call ended; INVALID_ARGUMENT for a frame
  // of another size or rate.
  virtual absl::Status PlayAudio(const audio::PcmFrame& frame) = 0;
  // Queues a playback marker after the audio queued so far; it comes back as a kMark event once
  // the callee played that audio (or with mark_cleared when Clear dropped it). Fails like
  // PlayAudio.
  virtual absl::Status PlayMark(const std::string& name) = 0;
  // Barge-in: drops the audio queued but not yet sent and tells the callee side to drop what it
  // has buffered. No-op when the call is not up.
  virtual void Clear() = 0;
  // Sends a key press. FAILED_PRECONDITION when the call is not up; INVALID_ARGUMENT for a digit
  // outside 0-9 * # A-D.
  virtual absl::Status SendDtmf(const std::string& digit, int duration_ms = 100) = 0;
  // Audio queued and not yet sent.
  virtual absl::Duration QueuedAudio() const = 0;
  // Waits until every queued frame has been sent or the call ended; false on timeout.
  virtual bool WaitAudioSent(absl::Duration timeout) = 0;
  // Waits until at most `frames` of the queued frames are still held as PCM (a leg that encodes
  // its queue ahead of sending), or the call ended; false on timeout. A speaker with a long reply
  // calls it between pieces, so the reply does not sit in memory whole as PCM. Legs that keep no
  // such backlog return true at once (the default).
  virtual bool WaitPcmBelow(int64_t frames, absl::Duration timeout) {
    (void)frames;
    (void)timeout;
    return true;
  }
  // Ends the call from our side (before answer: gives up ringing). Queued audio is dropped; no
  // terminal event follows. Idempotent; no-op once the call ended.
  virtual void Hangup(HangupCause cause, const std::string& detail) = 0;

  // Cold transfer: asks the callee's side to call `to` (E.164, or a sip: URI) instead of us — a
  // SIP REFER (RFC 3515) — and waits up to `timeout` for the outcome. OK when the transfer
  // target answered; the call is still up then and the caller hangs up (Hangup). UNIMPLEMENTED
  // for legs that cannot transfer (the default); INVALID_ARGUMENT when `to` is empty;
  // FAILED_PRECONDITION when the call is not up; ABORTED when the REFER was refused, the target's
  // call failed (sip_code says how) or the call ended first (a Hangup from another thread ends
  // the wait so); DEADLINE_EXCEEDED when no outcome came in time. After a failure the call is
  // still up unless it ended.
  virtual TransferResult Transfer(const std::string& to, absl::Duration timeout) {
    (void)to;
    (void)timeout;
    return {absl::UnimplementedError("this leg cannot transfer calls")};
  }

  virtual LegStats Stats() const = 0;
};

struct DialRequest {
  std::string call_id;  // for logs and the callee side's correlation
  std::string to;       // E.164
  std::string from;     // caller id, E.164 or ""
  std::string agent;
  std::map<std::string, std::string> context;  // top-level scalars of the call context
  // Ringing longer than this ends the leg with kNoAnswer (reason "ring_timeout").
  absl::Duration ring_timeout = absl::Seconds(30);
  // Upper bound of the whole leg (a backstop deadline; the pipeline ends calls long before).
  absl::Duration max_duration = absl::Hours(4);
  LegListener* listener = nullptr;  // required
  // The call's resolved credentials (name → secret; RuntimeConfig.credentials), for trunks that
  // authenticate (a SIP trunk's digest password).
  std::map<std::string, std::string> credentials;
};

class Telephony {
 public:
  virtual ~Telephony() = default;
  // Starts a call to request.to through `trunk` (a Resource of kind trunk, TrunkSpec) and returns
  // its leg at once; what happens next arrives on the listener (a trunk that cannot be reached
  // ends the leg with kFailed/trunk_error). INVALID_ARGUMENT for a request without listener or
  // number, or a trunk spec without what its kind needs; UNIMPLEMENTED for a trunk kind this
  // telephony cannot dial.
  virtual absl::StatusOr<std::unique_ptr<CallLeg>> Dial(const DialRequest& request,
                                                        const parley::v1::Resource& trunk) = 0;
};

// Dials each trunk through the telephony registered for its spec's kind ("grpc", "sip").
//
//   TelephonyByKind telephony({{"grpc", &grpc}, {"sip", sip.get()}});
class TelephonyByKind final : public Telephony {
 public:
  // `by_kind`: trunk kind → telephony (not owned; must outlive this).
  explicit TelephonyByKind(std::map<std::string, Telephony*> by_kind)
      : by_kind_(std::move(by_kind)) {}
  // Dials through the telephony of the trunk's kind; UNIMPLEMENTED for a kind with none,
  // otherwise as that telephony's Dial.
  absl::StatusOr<std::unique_ptr<CallLeg>> Dial(const DialRequest& request,
                                                const parley::v1::Resource& trunk) override;

 private:
  std::map<std::string, Telephony*> by_kind_;
};

}  // namespace parley::worker
