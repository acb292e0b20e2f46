#include "services/worker/sip/sip_trunk.h"

#include "absl/strings/str_cat.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"

namespace parley::sip {

std::string SipTrunkConfig::RequestUri(const std::string& number) const {
  std::string uri = absl::StrCat("sip:", number, "@", host);
  if (host.find(':') != std::string::npos) uri = absl::StrCat("sip:", number, "@[", host, "]");
  absl::StrAppend(&uri, ":", port);
  if (const std::string param = TransportParam(); !param.empty()) {
    absl::StrAppend(&uri, ";", param);
  }
  return uri;
}

std::string SipTrunkConfig::TransportParam() const {
  return transport != "udp" ? absl::StrCat("transport=", transport) : "";
}

absl::StatusOr<SipTrunkConfig> ReadSipTrunk(const parley::v1::Resource& trunk,
                                            const std::map<std::string, std::string>& credentials) {
  const nlohmann::json spec = json::StructToJson(trunk.spec());
  const std::string kind = spec.value("kind", "");
  if (kind != "sip") {
    return absl::UnimplementedError(
        absl::StrCat("trunk ", trunk.name(), ": kind \"", kind, "\" is not sip"));
  }
  const nlohmann::json sip =
      spec.contains("sip") && spec["sip"].is_object() ? spec["sip"] : nlohmann::json::object();
  SipTrunkConfig c;
  c.name = trunk.name();
  auto str = [&](const char* key) {
    return sip.contains(key) && sip[key].is_string() ? sip[key].get<std::string>() : "";
  };
  auto num = [&](const char* key) {
    return sip.contains(key) && sip[key].is_number() ? sip[key].get<int>() : 0;
  };
  auto list = [&](const char* key) {
    std::vector<std::string> out;
    if (sip.contains(key) && sip[key].is_array()) {
      for (const auto& v : sip[key]) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
    return out;
  };
  c.host = str("host");
  if (c.host.empty()) return absl::InvalidArgumentError("trunk.sip.host: required");
  if (!str("transport").empty()) c.transport = str("transport");
  if (c.transport == "tls") {
    return absl::UnimplementedError("trunk.sip.transport: tls is not supported yet");
  }
  if (c.transport != "udp" && c.transport != "tcp") {
    return absl::InvalidArgumentError(
        absl::StrCat("trunk.sip.transport: unknown \"", c.transport, "\""));
  }
  if (num("port") != 0) c.port = num("port");
  c.outbound_proxy = str("outbound_proxy");
  c.auth_username = str("auth_username");
  if (const std::string ref = str("auth_credential"); !ref.empty()) {
    auto found = credentials.find(ref);
    if (found == credentials.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("trunk.sip.auth_credential: credential \"", ref, "\" not resolved"));
    }
    c.auth_password = found->second;
  }
  c.from_numbers = list("from_numbers");
  if (std::vector<std::string> codecs = list("codecs"); !codecs.empty()) c.codecs = codecs;
  c.external_ip = str("external_ip");
  if (num("rtp_port_min") != 0) c.rtp_port_min = num("rtp_port_min");
  if (num("rtp_port_max") != 0) c.rtp_port_max = num("rtp_port_max");
  c.ring_timeout_s = num("ring_timeout_s");
  c.early_media = sip.contains("early_media") && sip["early_media"].is_boolean() &&
                  sip["early_media"].get<bool>();
  return c;
}

}  // namespace parley::sip
