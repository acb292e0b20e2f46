// Telephony over SIP trunks (trunk kind "sip"; issue 10): the worker places calls as a SIP user
// agent with sofia-sip's NUA stack and carries their audio over RTP (rtp_session.h).
//
// One SipTelephony runs one SIP stack on a thread of its own, listening on one UDP+TCP port; all
// calls share it. Dial sends an INVITE with an SDP offer (the trunk's codecs in order: Opus/48000
// per RFC 7587, PCMU, PCMA, plus telephone-event) to sip:<to>@<trunk host>:<port> (through the
// outbound proxy as a pre-loaded Route when set) and maps what comes back to leg events:
//   1xx (180, 183)               → kRinging (once; early media is not played)
//   401/407                      → the INVITE is sent once more with digest credentials (the
//                                   same call: same Call-ID, next CSeq); a second challenge fails
//                                   the call (kFailed trunk_error)
//   2xx                          → ACK, RTP starts, kAnswered (answer_rate: the codec's clock)
//   486, 600                     → kBusy "busy"
//   480, 408, 487                → kNoAnswer "no_answer"
//   603                          → kDeclined "declined"
//   404, 484, 410, 604           → kFailed "invalid_number"
//   5xx and anything else        → kFailed "trunk_error"; every response sets sip_code
//   no final response in the ring timeout → CANCEL, kNoAnswer "ring_timeout"
//   BYE from the callee          → kHangup "callee_hangup"
// No response ever makes it send another INVITE for a new call (nua's retries are off).
// Hangup sends CANCEL before the answer and BYE after it; a 200 that crosses our CANCEL is ACKed
// and ended with BYE. An INVITE outside any dialog is a call coming in: it goes to the inbound
// handler (SetInboundHandler, sip_inbound.h), or gets 404 without one;
// a re-INVITE within a call is answered 200 with our SDP, its direction mirroring the offer's
// (sendonly → recvonly, inactive → inactive): while the callee holds the call no RTP goes out and
// queued audio waits; it resumes when a sendrecv offer takes the call off hold. An UPDATE with an
// offer (RFC 3311; some PBXes hold so) is answered the same way in its 200; one without SDP (a
// session refresh) gets a 200 without SDP; one with an offer before the call is up gets 491. A
// mid-call offer that drops our codec gets 488 and changes nothing. Session timers:
// SipTelephonyOptions below.
// Transfer (CallLeg::Transfer; the `transfer` tool), on dialed and inbound calls alike, sends REFER
// with Refer-To the target (an E.164 number becomes sip:<number>@<trunk host>:<port> — for a call
// that came in, the host of its INVITE's Contact — a sip: URI goes as it is) and follows the
// NOTIFYs' message/sipfrag: 2xx → OK, ≥ 300 or a refused REFER → ABORTED with the code; the
// session then hangs up (BYE). A transferee's BYE after a successful transfer is no hang-up.
//
//   PARLEY_ASSIGN_OR_RETURN(auto sip, SipTelephony::Create({.sip_address = "0.0.0.0"}));
//   PARLEY_ASSIGN_OR_RETURN(auto leg, sip->Dial(request, config.trunk()));
//
// The telephony must outlive its legs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/media/frame_scheduler.h"
#include "services/worker/inbound.h"
#include "services/worker/telephony.h"

namespace parley::sip {

struct SipTelephonyOptions {
  std::string sip_address = "0.0.0.0";  // IPv4 address the stack listens on (UDP and TCP)
  int sip_port = 5060;                  // 0: a free port, chosen at Create
  std::string rtp_address = "0.0.0.0";  // IPv4 address RTP sockets bind to
  std::string user_agent = "Parley";
  // Session timers (RFC 4028). Our INVITE says Supported: timer; it asks for a Session-Expires
  // (with Min-SE) only when session_expires_s > 0. The default 0 matters: with sofia's own
  // default (1800) a callee without timer support makes us the refresher, and at 15 minutes nua
  // would send a re-INVITE without SDP (media is ours, not nua's) that a trunk may answer by
  // hanging up. When the callee sets a timer it picks who refreshes: us → nua sends UPDATE at
  // half the interval (UPDATE_REFRESH); the callee → nua ends the call if the callee stops
  // refreshing (the leg reports kMediaLost). Min-SE: the least interval we accept (RFC 4028 says
  // at least 90 s; lower only in tests).
  int session_expires_s = 0;
  int session_min_se_s = 90;
  // Inbound calls: the region for called/calling numbers without a country code, and the codecs
  // we accept from an offer, in order of preference.
  std::string inbound_region = "US";
  std::vector<std::string> inbound_codecs = {"opus", "pcmu", "pcma"};
  // Sends every call's RTP (one thread per core serves them all, as for the gRPC media leg);
  // null: the telephony makes its own with `send_threads` threads (0: one per core).
  std::shared_ptr<media::FrameScheduler> scheduler;
  int send_threads = 0;
};

class SipTelephony final : public worker::Telephony {
 public:
  // Starts the SIP stack. UNAVAILABLE when the port cannot be bound; INVALID_ARGUMENT for an
  // address that is not IPv4.
  static absl::StatusOr<std::unique_ptr<SipTelephony>> Create(const SipTelephonyOptions& options);
  ~SipTelephony() override;  // shuts the stack down (calls still up are dropped)

  // Dials through a "sip" trunk. The request's credentials supply the digest password.
  // INVALID_ARGUMENT / UNIMPLEMENTED as Telephony::Dial says (tls is UNIMPLEMENTED); UNAVAILABLE
  // when no RTP port is free.
  absl::StatusOr<std::unique_ptr<worker::CallLeg>> Dial(const worker::DialRequest& request,
                                                        const parley::v1::Resource& trunk) override;

  // The port the stack listens on.
  int sip_port() const;

  // Calls that come in go to `handler` (null: refused with 404 again). Returns once no call is
  // being offered to the previous handler, which may be destroyed then; calls already handed to
  // it stay its own.
  void SetInboundHandler(worker::InboundCallHandler* handler);

  // How many calls the stack still tracks (their SIP handles not yet released); for tests that
  // check a call leaves nothing behind. Asks the stack's thread and waits for it.
  int TrackedCalls() const;

  class Stack;

 private:
  explicit SipTelephony(std::unique_ptr<Stack> stack);
  std::unique_ptr<Stack> stack_;
};

}  // namespace parley::sip
