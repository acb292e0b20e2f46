// Internal to SipTelephony: calls that come in (issue 10, inbound). An INVITE outside any dialog,
// while an InboundCallHandler is set, becomes a SipCall in inbound mode (its RTP port opened, the
// caller's SDP offer read, our answer built) wrapped in an IncomingCall for the handler, which
// rejects it (a final status) or answers it (200 OK with the answer; RTP starts at once). An
// offer with none of our codecs gets 488, no free RTP port 503, before the handler sees it.
//
//   // the stack's thread, on nua_i_invite for a new handle:
//   OfferInboundCall(stack, handler, nh, sip);
#pragma once

#include <sofia-sip/nua.h>

#include <string>
#include <string_view>

#include "services/worker/inbound.h"
#include "services/worker/sip/sdp.h"
#include "services/worker/sip/sip_stack.h"

namespace parley::sip {

// Stack thread: hands the new INVITE `nh` (`sip` its request) to `handler`, or refuses it.
void OfferInboundCall(SipTelephony::Stack* stack, worker::InboundCallHandler* handler,
                      nua_handle_t* nh, const sip_t* sip);

// The E.164 form of a SIP URI user ("+14155550100", "14155550100", "4155550100" with region
// "US", "+1-415-555-0100;npdi"): "" when it is not a phone number.
std::string InboundNumber(std::string_view user, std::string_view region);

// Our SDP answer to an offer that `media` was read from: one audio stream at `address`:`port`
// with the chosen codec under the offer's payload type, and telephone-event when the offer had
// it (under its payload type too).
std::string BuildSdpAnswer(const std::string& address, int port, const MediaAnswer& media,
                           uint64_t session_id);

// The local IPv4 address that packets to `host` leave from (no packet is sent); "127.0.0.1"
// when there is no route. Defined in sip_telephony.cc.
std::string LocalAddressTowards(const std::string& host, int port);

}  // namespace parley::sip
