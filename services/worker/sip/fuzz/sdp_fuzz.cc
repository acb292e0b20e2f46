// Fuzz target: an SDP answer from the network, read by ReadSdpAnswer (sofia-sip's parser plus our
// codec and address choice). Whatever the bytes, it returns a status or an answer whose port and
// payload types are in range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/worker/sip/sdp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<parley::sip::MediaAnswer> answer =
      parley::sip::ReadSdpAnswer(body, {"opus", "pcmu", "pcma"});
  if (answer.ok()) {
    if (answer->port <= 0 || answer->port > 65535) std::abort();
    if (answer->codec.payload_type < 0 || answer->codec.payload_type > 127) std::abort();
    if (answer->address.empty()) std::abort();
  }
  return 0;
}
