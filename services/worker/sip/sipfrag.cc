#include "services/worker/sip/sipfrag.h"

#include <cctype>

namespace parley::sip {

std::optional<SipfragStatus> ReadSipfragStatus(std::string_view body) {
  constexpr std::string_view kVersion = "SIP/2.0 ";
  if (body.substr(0, kVersion.size()) != kVersion) return std::nullopt;
  std::string_view rest = body.substr(kVersion.size());
  if (rest.size() < 3) return std::nullopt;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(rest[i]))) return std::nullopt;
    code = code * 10 + (rest[i] - '0');
  }
  if (code < 100 || code > 699) return std::nullopt;
  if (rest.size() > 3 && rest[3] != ' ' && rest[3] != '\r' && rest[3] != '\n') {
    return std::nullopt;
  }
  const size_t eol = body.find_first_of("\r\n");
  return SipfragStatus{
      .code = code,
      .line = std::string(body.substr(0, eol == std::string_view::npos ? body.size() : eol))};
}

}  // namespace parley::sip
