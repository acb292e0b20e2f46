// Fuzz target: a NOTIFY's message/sipfrag body from the network (the transferee's report of a
// transfer), read by ReadSipfragStatus. Whatever the bytes, it returns nothing or a code in
// 100..699 whose line is a prefix of the body without a line break.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/worker/sip/sipfrag.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::optional<parley::sip::SipfragStatus> status = parley::sip::ReadSipfragStatus(body);
  if (status.has_value()) {
    if (status->code < 100 || status->code > 699) std::abort();
    if (body.substr(0, status->line.size()) != status->line) std::abort();
    if (status->line.find_first_of("\r\n") != std::string::npos) std::abort();
  }
  return 0;
}
