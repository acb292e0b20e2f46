// The RTP side of one SIP call: a UDP port pair (RTP on an even port, RTCP on the next one) bound
// in the trunk's port range, audio both ways in the negotiated codec, DTMF both ways as RFC 4733
// telephone events.
//
// Receive: a thread of its own reads the socket; packets go into a speexdsp jitter buffer that is
// drained every 20 ms, so reordered and jittery packets come out in order and on time. A packet
// that is missing when its turn comes is concealed (Opus: the decoder's PLC; G.711: the last frame
// repeated at falling volume), a longer hole becomes silence. The audio is decoded and resampled
// (speexdsp) to the pipeline's 16 kHz and handed on in 20 ms frames. RTP is symmetric: once the
// peer's packets arrive, ours go back to the address they came from (NAT), whatever the SDP said.
// Every 5 s an RTCP receiver report goes out, and RTCP that comes in is parsed and counted.
//
// Send: the caller paces (one SendFrame per 20 ms, see FramePacer); each 16 kHz frame is encoded
// and sent as one packet. SendDtmf sends one key as RFC 4733 events spread over its duration;
// a caller that paces from a shared thread (SipCall on the FrameScheduler) sends the same packets
// without blocking: BeginDtmf, then SendDtmfPacket every 20 ms until it returns true.
//
//   PARLEY_ASSIGN_OR_RETURN(auto rtp, RtpSession::Open({.bind_address = "0.0.0.0",
//                                                       .port_min = 10000, .port_max = 20000}));
//   offer.rtp_port = rtp->port();
//   … the SDP answer arrives …
//   PARLEY_RETURN_IF_ERROR(rtp->Start(answer, {.on_audio = …, .on_dtmf = …}));
//   rtp->SendFrame(frame.samples, /*new_run=*/true);
//
// Thread-safe; the callbacks run on the receive thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/audio/pcm.h"
#include "services/worker/sip/sdp.h"

namespace parley::sip {

struct RtpSessionOptions {
  std::string bind_address = "0.0.0.0";  // IPv4
  int port_min = 10000;                  // the RTP port is even, RTCP is the next one
  int port_max = 20000;
  // After MoveRemote, packets from the old address this soon are late ones, not the peer's.
  std::chrono::milliseconds move_settle{1000};
};

struct RtpCallbacks {
  std::function<void(const audio::PcmFrame&)> on_audio;  // 20 ms at 16 kHz
  std::function<void(const std::string& digit)> on_dtmf;
};

struct RtpStats {
  int64_t packets_sent = 0;
  int64_t packets_received = 0;
  int64_t frames_delivered = 0;
  int64_t frames_concealed = 0;
  int64_t packets_dropped = 0;  // not parsed, wrong payload type, too late for the jitter buffer
  int64_t rtcp_received = 0;
};

class RtpSession final {
 public:
  // Binds a port pair in the range. UNAVAILABLE when no pair in the range is free;
  // INVALID_ARGUMENT for a bad address or range.
  static absl::StatusOr<std::unique_ptr<RtpSession>> Open(const RtpSessionOptions& options);
  ~RtpSession();  // stops the receive thread and closes the sockets
  RtpSession(const RtpSession&) = delete;
  RtpSession& operator=(const RtpSession&) = delete;

  int port() const { return port_; }

  // Starts exchanging media as `answer` says and starts the receive thread. INVALID_ARGUMENT for
  // an address that is not an IPv4 literal; FAILED_PRECONDITION when already started; INTERNAL
  // when the codec cannot be set up.
  absl::Status Start(const MediaAnswer& answer, RtpCallbacks callbacks);

  // Encodes and sends one 20 ms frame at 16 kHz. `new_run`: the first frame after a pause (its
  // timestamp moves on by the time that passed, and it carries the marker bit).
  // FAILED_PRECONDITION before Start or after Stop; INVALID_ARGUMENT for another frame size.
  absl::Status SendFrame(std::span<const int16_t> samples, bool new_run);

  // Sends `digit` (0-9 * # A-D) as telephone events over `duration_ms`, blocking for that long.
  // FAILED_PRECONDITION when the answer took no telephone-event or before Start;
  // INVALID_ARGUMENT for another digit.
  absl::Status SendDtmf(const std::string& digit, int duration_ms);

  // One key being sent as telephone events (RFC 4733): its timestamp and sequence numbers are
  // taken when it begins, so audio sent after it continues the numbering.
  struct DtmfEvent {
    int code = 0;
    int payload_type = 0;
    int clock = 0;
    uint32_t timestamp = 0;
    uint32_t ssrc = 0;
    uint16_t next_sequence = 0;
    int frames = 0;  // 20 ms packets before the end packets
    int sent = 0;
  };
  // Starts sending `digit` over `duration_ms` (clamped to 40..2000): returns the event for
  // SendDtmfPacket. Errors as SendDtmf.
  absl::StatusOr<DtmfEvent> BeginDtmf(const std::string& digit, int duration_ms);
  // Sends the event's next packet, due 20 ms after the one before (the last one also sends the
  // end packets, three in all, at once). Returns true once the event is complete, or when the
  // session stopped.
  bool SendDtmfPacket(DtmfEvent& event);

  // A mid-call offer (re-INVITE, UPDATE) named `address`:`port` for the peer's media: when that
  // is not where the SDP said before, our packets go there from now, until the peer's own
  // packets show where it is (symmetric RTP again; packets from the old address within
  // RtpSessionOptions::move_settle of the move — late ones — do not count). An address of
  // 0.0.0.0 (an old-style hold) or one that is not IPv4 changes nothing. Returns whether the
  // destination moved.
  bool MoveRemote(const std::string& address, int port);

  // Stops receiving and sending; idempotent. Callbacks do not run after it returns.
  void Stop();

  RtpStats Stats() const;

 private:
  RtpSession(int rtp_fd, int rtcp_fd, int port, std::chrono::milliseconds move_settle);
  class Receiver;
  void ReceiveLoop();
  bool SendDatagram(const std::string& packet, bool rtcp);

  const int rtp_fd_;
  const int rtcp_fd_;
  const int port_;
  const std::chrono::milliseconds move_settle_;
  std::atomic<bool> stop_{false};
  // Stop may run on several threads at once (the SIP stack's on a BYE, the session's closing the
  // leg): one joins the receive thread, the others wait for that under join_mu_.
  absl::Mutex join_mu_;
  std::thread receiver_ ABSL_GUARDED_BY(join_mu_);
  std::atomic<std::thread::id> receiver_id_;  // the receive thread's, once it runs
  RtpCallbacks callbacks_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  MediaAnswer answer_ ABSL_GUARDED_BY(mu_);
  std::string remote_ ABSL_GUARDED_BY(mu_);  // sockaddr_in bytes of the RTP destination
  std::string remote_rtcp_ ABSL_GUARDED_BY(mu_);
  bool latched_ ABSL_GUARDED_BY(mu_) = false;
  // The destination MoveRemote moved away from, and when: packets from there within
  // move_settle_ (still on their way) do not pull ours back; later ones do (a peer behind a NAT
  // whose SDP changed but whose packets did not).
  std::string moved_from_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point moved_at_ ABSL_GUARDED_BY(mu_);
  RtpStats stats_ ABSL_GUARDED_BY(mu_);

  // The sending direction (SendFrame/SendDtmf), serialised.
  absl::Mutex send_mu_;
  struct Sender;
  std::unique_ptr<Sender> sender_ ABSL_GUARDED_BY(send_mu_);
};

}  // namespace parley::sip
