// The status line of a message/sipfrag body (RFC 3420), as NOTIFYs of a REFER subscription carry
// it (RFC 3515 §2.4.5): "SIP/2.0 200 OK" says the transferee's call to the target was answered.
//
//   std::optional<SipfragStatus> s = ReadSipfragStatus("SIP/2.0 603 Declined\r\n");
//   // s->code == 603, s->line == "SIP/2.0 603 Declined"
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::sip {

struct SipfragStatus {
  int code = 0;      // 100..699
  std::string line;  // the status line, without its line break
};

// The status line at the start of `body`: "SIP/2.0 <3 digits> <reason>". nullopt when the body
// does not start with one (a request line, another version, a code outside 100..699).
std::optional<SipfragStatus> ReadSipfragStatus(std::string_view body);

}  // namespace parley::sip
