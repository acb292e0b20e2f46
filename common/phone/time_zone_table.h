// Internal to parley_phone: the tables behind TimeZonesOf (phone.h). Debian 12's libphonenumber
// ships no PhoneNumberToTimeZonesMapper, so Parley carries the mapping itself.
//
//   ZonesForNanpAreaCode(212)  → {"America/New_York"}
//   ZonesForRegion("GB")       → {"Europe/London"}
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::phone {

// IANA zones of a US or Canadian area code, most likely first; empty for an unknown or
// non-geographic code.
std::vector<std::string> ZonesForNanpAreaCode(int area_code);

// IANA zones of a region (ISO 3166, upper case) in one zone, or in a main zone plus islands (main
// zone first); empty for regions spanning several zones (US, CA, RU, AU, BR, MX…) or unknown.
std::vector<std::string> ZonesForRegion(std::string_view region);

}  // namespace parley::phone
