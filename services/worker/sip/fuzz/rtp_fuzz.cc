// Fuzz target: a datagram on an RTP port — parsed as RTP (and its payload as an RFC 4733
// telephone event and as G.711), as RTCP. The payload view must stay inside the input, and a
// packet rebuilt from what was parsed must parse back to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/worker/sip/rtp_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view datagram(reinterpret_cast<const char*>(data), size);
  using namespace parley::sip;
  (void)IsRtcp(datagram);
  (void)ParseRtcp(datagram);
  absl::StatusOr<RtpPacket> p = ParseRtp(datagram);
  if (!p.ok()) return 0;
  if (p->payload.data() < datagram.data() ||
      p->payload.data() + p->payload.size() > datagram.data() + datagram.size()) {
    std::abort();
  }
  absl::StatusOr<TelephoneEvent> event = ParseTelephoneEvent(p->payload);
  if (event.ok()) {
    (void)TelephoneEventDigit(event->event);
    absl::StatusOr<TelephoneEvent> again = ParseTelephoneEvent(BuildTelephoneEvent(*event));
    if (!again.ok() || again->event != event->event || again->duration != event->duration) {
      std::abort();
    }
  }
  (void)DecodeG711(p->payload.substr(0, 320), (p->payload_type & 1) != 0);
  const std::string wire = BuildRtp(*p, p->payload);
  absl::StatusOr<RtpPacket> rebuilt = ParseRtp(wire);
  if (!rebuilt.ok() || rebuilt->sequence != p->sequence || rebuilt->timestamp != p->timestamp ||
      rebuilt->ssrc != p->ssrc || rebuilt->payload != p->payload) {
    std::abort();
  }
  return 0;
}
