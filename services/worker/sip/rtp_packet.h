// The wire formats of a SIP call's media that Parley reads and writes itself: RTP packets
// (RFC 3550 §5.1), RTCP compound packets (RFC 3550 §6, only walked and summarised), telephone
// events (RFC 4733 §2.3, DTMF) and G.711 μ-law/A-law samples (ITU-T G.711). Every parser takes
// untrusted bytes from the network and never reads past them (fuzz/rtp_fuzz.cc).
//
//   PARLEY_ASSIGN_OR_RETURN(RtpPacket p, ParseRtp(datagram));
//   if (p.payload_type == dtmf_pt) {
//     PARLEY_ASSIGN_OR_RETURN(TelephoneEvent e, ParseTelephoneEvent(p.payload));
//     if (e.end) OnDigit(TelephoneEventDigit(e.event));
//   }
//   std::string out = BuildRtp({.payload_type = 0, .sequence = 7, .timestamp = 160, .ssrc = 1},
//                              payload);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace parley::sip {

struct RtpHeader {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
};

struct RtpPacket : RtpHeader {
  std::string_view payload;  // points into the parsed datagram (CSRCs, extension, padding removed)
};

// The packet in `datagram`. INVALID_ARGUMENT when it is not RTP version 2, is shorter than its
// header, CSRC list or extension say, or its padding is longer than the payload.
absl::StatusOr<RtpPacket> ParseRtp(std::string_view datagram);

// An RTP packet (version 2, no CSRC, no extension, no padding) carrying `payload`. Never fails.
std::string BuildRtp(const RtpHeader& header, std::string_view payload);

// True when a datagram on an RTP port is RTCP (payload types 200–204, RFC 5761 §4).
bool IsRtcp(std::string_view datagram);

// One packet of an RTCP compound packet.
struct RtcpPacketInfo {
  uint8_t type = 0;   // 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, …
  uint32_t ssrc = 0;  // the sender's SSRC (0 when the packet is too short to carry one)
  int report_count = 0;
};

// The packets of an RTCP compound packet, in order. INVALID_ARGUMENT when a packet is not
// version 2 or its length runs past the datagram.
absl::StatusOr<std::vector<RtcpPacketInfo>> ParseRtcp(std::string_view datagram);

// An RTCP receiver report without report blocks, from `ssrc` (keeps NATs open; RFC 3550 §6.4.2).
std::string BuildRtcpReceiverReport(uint32_t ssrc);

// RFC 4733 telephone-event payload.
struct TelephoneEvent {
  int event = 0;     // 0–9 digits, 10 '*', 11 '#', 12–15 'A'–'D'
  bool end = false;  // the E bit: the last packets of the event
  int volume = 10;   // −dBm0, 0–63
  int duration = 0;  // in timestamp units, 0–65535
};

// The event in an RFC 4733 payload (4 bytes; more is ignored). INVALID_ARGUMENT when shorter.
absl::StatusOr<TelephoneEvent> ParseTelephoneEvent(std::string_view payload);
// The 4-byte payload of `event`. Never fails (fields are clamped to their widths).
std::string BuildTelephoneEvent(const TelephoneEvent& event);
// The key of an event code ("0"–"9", "*", "#", "A"–"D"); "" for codes that are not DTMF keys.
std::string TelephoneEventDigit(int event);
// The event code of a key; −1 for anything but 0-9 * # A-D.
int TelephoneEventCode(std::string_view digit);

// G.711 companding of one sample.
uint8_t LinearToUlaw(int16_t sample);
int16_t UlawToLinear(uint8_t code);
uint8_t LinearToAlaw(int16_t sample);
int16_t AlawToLinear(uint8_t code);

// Whole buffers: `alaw` false for μ-law (PCMU), true for A-law (PCMA).
std::string EncodeG711(std::span<const int16_t> samples, bool alaw);
std::vector<int16_t> DecodeG711(std::string_view codes, bool alaw);

}  // namespace parley::sip
