#include "services/worker/sip/rtp_packet.h"

#include <algorithm>

namespace parley::sip {
namespace {

uint16_t Get16(std::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(b[at]) << 8) |
                               static_cast<uint8_t>(b[at + 1]));
}

uint32_t Get32(std::string_view b, size_t at) {
  return (static_cast<uint32_t>(Get16(b, at)) << 16) | Get16(b, at + 2);
}

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}

constexpr char kDigits[] = "0123456789*#ABCD";

}  // namespace

absl::StatusOr<RtpPacket> ParseRtp(std::string_view d) {
  if (d.size() < 12) return absl::InvalidArgumentError("rtp: shorter than its header");
  const uint8_t b0 = static_cast<uint8_t>(d[0]);
  const uint8_t b1 = static_cast<uint8_t>(d[1]);
  if ((b0 >> 6) != 2) return absl::InvalidArgumentError("rtp: not version 2");
  RtpPacket p;
  p.marker = (b1 & 0x80) != 0;
  p.payload_type = b1 & 0x7f;
  p.sequence = Get16(d, 2);
  p.timestamp = Get32(d, 4);
  p.ssrc = Get32(d, 8);
  size_t offset = 12 + 4 * static_cast<size_t>(b0 & 0x0f);
  if (offset > d.size()) return absl::InvalidArgumentError("rtp: CSRC list past the end");
  if ((b0 & 0x10) != 0) {  // header extension: 16-bit profile, 16-bit length in words
    if (offset + 4 > d.size()) return absl::InvalidArgumentError("rtp: extension past the end");
    offset += 4 + 4 * static_cast<size_t>(Get16(d, offset + 2));
    if (offset > d.size()) return absl::InvalidArgumentError("rtp: extension past the end");
  }
  size_t end = d.size();
  if ((b0 & 0x20) != 0) {
    const size_t padding = static_cast<uint8_t>(d[end - 1]);
    if (padding == 0 || padding > end - offset) {
      return absl::InvalidArgumentError("rtp: bad padding");
    }
    end -= padding;
  }
  p.payload = d.substr(offset, end - offset);
  return p;
}

std::string BuildRtp(const RtpHeader& h, std::string_view payload) {
  std::string out;
  out.reserve(12 + payload.size());
  out.push_back(static_cast<char>(0x80));
  out.push_back(static_cast<char>((h.marker ? 0x80 : 0) | (h.payload_type & 0x7f)));
  Put16(out, h.sequence);
  Put32(out, h.timestamp);
  Put32(out, h.ssrc);
  out.append(payload);
  return out;
}

bool IsRtcp(std::string_view d) {
  if (d.size() < 2) return false;
  const uint8_t type = static_cast<uint8_t>(d[1]);
  return type >= 200 && type <= 204;
}

absl::StatusOr<std::vector<RtcpPacketInfo>> ParseRtcp(std::string_view d) {
  std::vector<RtcpPacketInfo> out;
  size_t at = 0;
  while (at < d.size()) {
    if (d.size() - at < 4) return absl::InvalidArgumentError("rtcp: truncated header");
    const uint8_t b0 = static_cast<uint8_t>(d[at]);
    if ((b0 >> 6) != 2) return absl::InvalidArgumentError("rtcp: not version 2");
    const size_t length = 4 * (static_cast<size_t>(Get16(d, at + 2)) + 1);
    if (length > d.size() - at) return absl::InvalidArgumentError("rtcp: length past the end");
    RtcpPacketInfo info;
    info.type = static_cast<uint8_t>(d[at + 1]);
    info.report_count = b0 & 0x1f;
    if (length >= 8) info.ssrc = Get32(d, at + 4);
    out.push_back(info);
    at += length;
  }
  if (out.empty()) return absl::InvalidArgumentError("rtcp: empty");
  return out;
}

std::string BuildRtcpReceiverReport(uint32_t ssrc) {
  std::string out;
  out.push_back(static_cast<char>(0x80));
  out.push_back(static_cast<char>(201));
  Put16(out, 1);  // length in 32-bit words minus one
  Put32(out, ssrc);
  return out;
}

absl::StatusOr<TelephoneEvent> ParseTelephoneEvent(std::string_view payload) {
  if (payload.size() < 4)
    return absl::InvalidArgumentError("telephone-event: shorter than 4 bytes");
  TelephoneEvent e;
  e.event = static_cast<uint8_t>(payload[0]);
  const uint8_t b1 = static_cast<uint8_t>(payload[1]);
  e.end = (b1 & 0x80) != 0;
  e.volume = b1 & 0x3f;
  e.duration = Get16(payload, 2);
  return e;
}

std::string BuildTelephoneEvent(const TelephoneEvent& e) {
  std::string out;
  out.push_back(static_cast<char>(std::clamp(e.event, 0, 255)));
  out.push_back(static_cast<char>((e.end ? 0x80 : 0) | std::clamp(e.volume, 0, 63)));
  Put16(out, static_cast<uint16_t>(std::clamp(e.duration, 0, 65535)));
  return out;
}

std::string TelephoneEventDigit(int event) {
  if (event < 0 || event > 15) return "";
  return std::string(1, kDigits[event]);
}

int TelephoneEventCode(std::string_view digit) {
  if (digit.size() != 1) return -1;
  for (int i = 0; i < 16; ++i) {
    if (kDigits[i] == digit[0]) return i;
  }
  return -1;
}

// G.711 as specified: μ-law with bias 0x84 and clip 32635; A-law by segment. Codes are stored
// inverted (μ-law) or with even bits toggled (A-law), as on the wire.
uint8_t LinearToUlaw(int16_t sample) {
  constexpr int kBias = 0x84;
  constexpr int kClip = 32635;
  int s = sample;
  const int sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > kClip) s = kClip;
  s += kBias;
  int exponent = 7;
  for (int mask = 0x4000; (s & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  const int mantissa = (s >> (exponent + 3)) & 0x0f;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

int16_t UlawToLinear(uint8_t code) {
  code = static_cast<uint8_t>(~code);
  const int sign = code & 0x80;
  const int exponent = (code >> 4) & 0x07;
  const int mantissa = code & 0x0f;
  int s = ((mantissa << 3) + 0x84) << exponent;
  s -= 0x84;
  return static_cast<int16_t>(sign != 0 ? -s : s);
}

uint8_t LinearToAlaw(int16_t sample) {
  int s = sample;
  int sign = 0x80;
  if (s < 0) {
    sign = 0;
    s = -s - 1;
  }
  s >>= 3;  // 13-bit magnitude
  if (s > 0xfff) s = 0xfff;
  int code;
  if (s < 32) {
    code = s >> 1;
  } else {
    int segment = 1;
    while ((s >> (segment + 4)) > 1 && segment < 7) ++segment;
    code = (segment << 4) | ((s >> segment) & 0x0f);
  }
  return static_cast<uint8_t>((sign | code) ^ 0x55);
}

int16_t AlawToLinear(uint8_t code) {
  code ^= 0x55;
  const int segment = (code >> 4) & 0x07;
  int s = (code & 0x0f) << 4;
  if (segment == 0) {
    s += 8;
  } else {
    s += 0x108;
    s <<= segment - 1;
  }
  return static_cast<int16_t>((code & 0x80) != 0 ? s : -s);
}

std::string EncodeG711(std::span<const int16_t> samples, bool alaw) {
  std::string out(samples.size(), '\0');
  for (size_t i = 0; i < samples.size(); ++i) {
    out[i] = static_cast<char>(alaw ? LinearToAlaw(samples[i]) : LinearToUlaw(samples[i]));
  }
  return out;
}

std::vector<int16_t> DecodeG711(std::string_view codes, bool alaw) {
  std::vector<int16_t> out(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    const auto c = static_cast<uint8_t>(codes[i]);
    out[i] = alaw ? AlawToLinear(c) : UlawToLinear(c);
  }
  return out;
}

}  // namespace parley::sip
