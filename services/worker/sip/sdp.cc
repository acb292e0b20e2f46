#include "services/worker/sip/sdp.h"

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status.h"

namespace parley::sip {
namespace {

constexpr int kOpusPayloadType = 111;
constexpr int kDtmf8kPayloadType = 101;
constexpr int kDtmf48kPayloadType = 102;

struct HomeDeleter {
  void operator()(su_home_t* home) const { su_home_unref(home); }
};
struct ParserDeleter {
  void operator()(sdp_parser_t* parser) const { sdp_parser_free(parser); }
};

bool SameCodec(const sdp_rtpmap_t* rm, const RtpCodec& codec) {
  if (rm->rm_encoding == nullptr) return false;
  return absl::EqualsIgnoreCase(rm->rm_encoding, codec.name) &&
         static_cast<int>(rm->rm_rate) == codec.clock_rate;
}

bool AllOf(absl::string_view text, bool (*ok)(char)) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!ok(c)) return false;
  }
  return true;
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }
bool IsProtoChar(char c) { return IsAlnum(c) || c == '/'; }
bool IsFormatChar(char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; }

// sofia-sip 1.12.11's sdp_parse can loop forever, allocating until memory runs out, on some
// malformed input (an m= transport like "RT,/AVP"; bytes outside printable ASCII; found by
// fuzz/sdp_fuzz.cc). An answer is checked against a strict reading of RFC 4566 first: every line
// "<letter>=<printable ASCII>", and every m= line "<media> <port>[/<n>] <proto> <fmt>…" with
// alphanumeric fields. What fails this was never SDP a trunk would send.
bool LooksLikeSdp(std::string_view body) {
  for (absl::string_view line : absl::StrSplit(AbslView(body), absl::ByAnyChar("\r\n"))) {
    if (line.empty()) continue;
    if (line.size() < 2 || line[0] < 'a' || line[0] > 'z' || line[1] != '=') return false;
    for (char c : line) {
      if (c < 0x20 || c > 0x7e) return false;
    }
    if (line[0] != 'm') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line.substr(2), ' ');
    if (fields.size() < 4 || !AllOf(fields[0], IsAlnum) || !AllOf(fields[2], IsProtoChar)) {
      return false;
    }
    std::vector<absl::string_view> port = absl::StrSplit(fields[1], '/');
    if (port.size() > 2 || port[0].size() > 5 || !AllOf(port[0], IsDigit) ||
        (port.size() == 2 && (port[1].size() > 5 || !AllOf(port[1], IsDigit)))) {
      return false;
    }
    for (size_t i = 3; i < fields.size(); ++i) {
      if (!AllOf(fields[i], IsFormatChar)) return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<RtpCodec> CodecByName(std::string_view name) {
  if (name == "pcmu") return RtpCodec{"pcmu", 0, 8000};
  if (name == "pcma") return RtpCodec{"pcma", 8, 8000};
  if (name == "opus") return RtpCodec{"opus", kOpusPayloadType, 48000};
  return absl::InvalidArgumentError(absl::StrCat("unknown codec \"", std::string(name), "\""));
}

std::string BuildSdpOffer(const SdpOffer& offer) {
  const bool v6 = offer.address.find(':') != std::string::npos;
  const char* family = v6 ? "IP6" : "IP4";
  std::string formats, maps;
  bool opus = false;
  for (const std::string& name : offer.codecs) {
    absl::StatusOr<RtpCodec> codec = CodecByName(name);
    if (!codec.ok()) continue;
    absl::StrAppend(&formats, " ", codec->payload_type);
    if (codec->name == "opus") {
      opus = true;
      absl::StrAppend(&maps, "a=rtpmap:", codec->payload_type, " opus/48000/2\r\n",
                      "a=fmtp:", codec->payload_type,
                      " useinbandfec=1;stereo=0;sprop-stereo=0\r\n");
    } else {
      absl::StrAppend(&maps, "a=rtpmap:", codec->payload_type, " ",
                      absl::AsciiStrToUpper(codec->name), "/8000\r\n");
    }
  }
  absl::StrAppend(&formats, " ", kDtmf8kPayloadType);
  absl::StrAppend(&maps, "a=rtpmap:", kDtmf8kPayloadType, " telephone-event/8000\r\n",
                  "a=fmtp:", kDtmf8kPayloadType, " 0-16\r\n");
  if (opus) {
    absl::StrAppend(&formats, " ", kDtmf48kPayloadType);
    absl::StrAppend(&maps, "a=rtpmap:", kDtmf48kPayloadType, " telephone-event/48000\r\n",
                    "a=fmtp:", kDtmf48kPayloadType, " 0-16\r\n");
  }
  return absl::StrCat("v=0\r\n", "o=parley ", offer.session_id, " ", offer.version, " IN ", family,
                      " ", offer.address, "\r\n", "s=parley\r\n", "c=IN ", family, " ",
                      offer.address, "\r\n", "t=0 0\r\n", "m=audio ", offer.rtp_port, " RTP/AVP",
                      formats, "\r\n", maps, "a=ptime:20\r\n", "a=", offer.direction, "\r\n");
}

std::string AnswerDirection(const MediaAnswer& media) {
  if (media.send_audio && media.receive_audio) return "sendrecv";
  if (media.receive_audio) return "recvonly";
  if (media.send_audio) return "sendonly";
  return "inactive";
}

std::string WithDirection(std::string_view sdp, std::string_view direction) {
  std::vector<std::string> lines = absl::StrSplit(AbslView(sdp), "\r\n", absl::SkipEmpty());
  const std::string wanted = absl::StrCat("a=", AbslView(direction));
  bool found = false;
  bool changed = false;
  for (std::string& line : lines) {
    if (line == "a=sendrecv" || line == "a=recvonly" || line == "a=sendonly" ||
        line == "a=inactive") {
      found = true;
      changed = line != wanted;
      line = wanted;
    }
  }
  if (!found) {
    lines.push_back(wanted);
    changed = true;
  }
  if (changed) {
    for (std::string& line : lines) {
      if (!absl::StartsWith(line, "o=")) continue;
      // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      uint64_t version = 0;
      if (fields.size() >= 3 && absl::SimpleAtoi(fields[2], &version)) {
        fields[2] = absl::StrCat(version + 1);
        line = absl::StrJoin(fields, " ");
      }
      break;
    }
  }
  return absl::StrCat(absl::StrJoin(lines, "\r\n"), "\r\n");
}

absl::StatusOr<MediaAnswer> ReadSdpAnswer(std::string_view body,
                                          const std::vector<std::string>& offered) {
  if (!LooksLikeSdp(body)) return absl::InvalidArgumentError("sdp: malformed");
  std::unique_ptr<su_home_t, HomeDeleter> home(
      static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
  if (home == nullptr) return absl::ResourceExhaustedError("sdp: out of memory");
  std::unique_ptr<sdp_parser_t, ParserDeleter> parser(
      sdp_parse(home.get(), body.data(), static_cast<issize_t>(body.size()), sdp_f_c_missing));
  if (parser == nullptr) return absl::InvalidArgumentError("sdp: not parsed");
  if (const char* error = sdp_parsing_error(parser.get()); error != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("sdp: ", error));
  }
  const sdp_session_t* session = sdp_session(parser.get());
  if (session == nullptr) return absl::InvalidArgumentError("sdp: no session");
  const sdp_media_t* audio = nullptr;
  for (const sdp_media_t* m = session->sdp_media; m != nullptr; m = m->m_next) {
    if (m->m_type == sdp_media_audio) {
      audio = m;
      break;
    }
  }
  if (audio == nullptr) return absl::InvalidArgumentError("sdp: no audio stream");
  if (audio->m_port == 0 || audio->m_rejected) {
    return absl::InvalidArgumentError("sdp: audio stream rejected");
  }
  if (audio->m_port > 65535) return absl::InvalidArgumentError("sdp: bad port");
  const sdp_connection_t* c =
      audio->m_connections != nullptr ? audio->m_connections : session->sdp_connection;
  if (c == nullptr || c->c_address == nullptr || c->c_address[0] == '\0') {
    return absl::InvalidArgumentError("sdp: no connection address");
  }
  MediaAnswer out;
  out.address = c->c_address;
  out.port = static_cast<int>(audio->m_port);
  // m_mode is the answerer's view: it takes our audio when it may receive.
  out.send_audio = (audio->m_mode & sdp_recvonly) != 0;
  out.receive_audio = (audio->m_mode & sdp_sendonly) != 0;
  // The answer lists formats in its own preference order (RFC 3264 §6.1); take the first one that
  // we offered.
  bool found = false;
  for (const sdp_rtpmap_t* rm = audio->m_rtpmaps; rm != nullptr && !found; rm = rm->rm_next) {
    for (const std::string& name : offered) {
      absl::StatusOr<RtpCodec> codec = CodecByName(name);
      if (!codec.ok() || !SameCodec(rm, *codec)) continue;
      out.codec = *codec;
      out.codec.payload_type = rm->rm_pt;
      found = true;
      break;
    }
  }
  if (!found) return absl::InvalidArgumentError("sdp: the answer kept none of our codecs");
  for (const sdp_rtpmap_t* rm = audio->m_rtpmaps; rm != nullptr; rm = rm->rm_next) {
    if (rm->rm_encoding != nullptr && absl::EqualsIgnoreCase(rm->rm_encoding, "telephone-event")) {
      if (static_cast<int>(rm->rm_rate) == out.codec.clock_rate || out.dtmf_payload_type < 0) {
        out.dtmf_payload_type = rm->rm_pt;
      }
    }
  }
  return out;
}

}  // namespace parley::sip
