// SDP for a SIP call's audio (RFC 4566, offer/answer per RFC 3264): the offer Parley sends in an
// INVITE and the reading of the answer that comes back. Parsing is sofia-sip's (sdp_parse); this
// file only chooses: the first codec of our offer that the answer kept, the telephone-event
// payload type (RFC 4733), and where to send RTP.
//
//   std::string offer = BuildSdpOffer({.address = "192.0.2.10", .rtp_port = 10000,
//                                      .codecs = {"opus", "pcmu", "pcma"}, .session_id = 42});
//   PARLEY_ASSIGN_OR_RETURN(MediaAnswer media, ReadSdpAnswer(answer_body, {"opus", "pcmu"}));
//   // media.address:media.port gets RTP with media.codec.payload_type
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace parley::sip {

// A codec as negotiated: "pcmu" (PT 0, 8000 Hz), "pcma" (PT 8, 8000 Hz) or "opus" (dynamic PT,
// RTP clock 48000 Hz per RFC 7587).
struct RtpCodec {
  std::string name;
  int payload_type = 0;
  int clock_rate = 8000;
};

// The defaults for a codec name; INVALID_ARGUMENT for another name.
absl::StatusOr<RtpCodec> CodecByName(std::string_view name);

struct SdpOffer {
  std::string address;  // IPv4 or IPv6 address put in o= and c=
  int rtp_port = 0;
  std::vector<std::string> codecs = {"opus", "pcmu", "pcma"};  // in order of preference
  uint64_t session_id = 0;
  uint64_t version = 0;
  // The direction attribute: "sendrecv", or in an answer to a hold offer "recvonly"/"inactive"
  // (AnswerDirection).
  std::string direction = "sendrecv";
};

// The offer (or, with one codec and a direction, an answer): one audio stream, 20 ms ptime, the
// codecs in order plus telephone-event (at 8000 Hz, and at 48000 Hz when Opus is offered). Never
// fails; unknown codec names are skipped.
std::string BuildSdpOffer(const SdpOffer& offer);

struct MediaAnswer {
  std::string address;  // where to send RTP
  int port = 0;
  RtpCodec codec;
  int dtmf_payload_type = -1;  // −1: the answer took no telephone-event
  bool send_audio = true;      // false when the answer says recvonly/inactive (we must not send)
  bool receive_audio = true;   // false when it says sendonly/inactive (it sends us nothing)
};

// The direction attribute of our answer to an offer read as `media` (RFC 3264 §6.1, the mirror
// of the offer's): sendonly → "recvonly" (a hold), inactive → "inactive", recvonly → "sendonly",
// sendrecv → "sendrecv".
std::string AnswerDirection(const MediaAnswer& media);

// `sdp` (one we sent) with its direction attribute set to `direction` ("sendrecv", "recvonly",
// "sendonly", "inactive"; added when it had none) and, when that changed it, the o= line's
// version one higher (RFC 3264 §8). Never fails; an SDP without an o= version keeps none.
std::string WithDirection(std::string_view sdp, std::string_view direction);

// What the answer `body` agreed to (or what an offer in a re-INVITE proposes, read the same way)
// for the codecs we offered (`offered`, by name). INVALID_ARGUMENT when the body is not SDP, has no
// audio stream, rejected it (port 0), names no address, or kept none of our codecs.
absl::StatusOr<MediaAnswer> ReadSdpAnswer(std::string_view body,
                                          const std::vector<std::string>& offered);

}  // namespace parley::sip
