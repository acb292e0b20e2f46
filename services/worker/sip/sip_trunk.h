// What a worker needs from a "sip" trunk (config.proto SipTrunk) to place one call, with the
// defaults filled in and the digest password looked up among the call's resolved credentials.
//
//   PARLEY_ASSIGN_OR_RETURN(SipTrunkConfig trunk, ReadSipTrunk(config.trunk(), credentials));
//   std::string uri = trunk.RequestUri("+14155550100");   // sip:+14155550100@pbx:5060
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/v1/config.pb.h"

namespace parley::sip {

struct SipTrunkConfig {
  std::string name;
  std::string host;
  int port = 5060;
  std::string transport = "udp";  // udp or tcp
  std::string outbound_proxy;     // sip: URI or ""
  std::string auth_username;      // "" = no digest authentication
  std::string auth_password;
  std::vector<std::string> from_numbers;
  std::vector<std::string> codecs = {"opus", "pcmu", "pcma"};
  std::string external_ip;
  int rtp_port_min = 10000;
  int rtp_port_max = 20000;
  int ring_timeout_s = 0;  // 0: the template's
  bool early_media = false;

  // The Request-URI (and To) for a number.
  std::string RequestUri(const std::string& number) const;
  // The URI parameter naming this trunk's transport: "transport=tcp", or "" for UDP (RFC 3263's
  // default). In the Request-URI, and in our Contact: nua's own Contact names no transport (one
  // address serves UDP and TCP), so without it the peer's requests in the dialog (BYE,
  // re-INVITE, NOTIFY) would leave the TCP connection for UDP.
  std::string TransportParam() const;
};

// The settings of `trunk` (a Resource of kind trunk whose spec kind is "sip"). UNIMPLEMENTED for
// another kind and for transport "tls" (not supported yet); INVALID_ARGUMENT naming the field
// (trunk.sip.host, …) for a spec without a host; FAILED_PRECONDITION when auth_credential names a
// credential missing from `credentials` (name → secret).
absl::StatusOr<SipTrunkConfig> ReadSipTrunk(const parley::v1::Resource& trunk,
                                            const std::map<std::string, std::string>& credentials);

}  // namespace parley::sip
