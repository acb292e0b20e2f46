#include "services/worker/sip/sip_inbound.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/url.h>

#include <deque>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/log/redact.h"
#include "common/phone/phone.h"
#include "services/worker/sip/sip_call.h"

namespace parley::sip {
namespace {

using worker::LegEvent;

// The reason phrase for a status we refuse calls with (nua keeps the pointer: a literal).
const char* PhraseFor(int code) {
  switch (code) {
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 480:
      return "Temporarily Unavailable";
    case 486:
      return "Busy Here";
    case 488:
      return "Not Acceptable Here";
    case 503:
      return "Service Unavailable";
    case 603:
      return "Decline";
    default:
      return "Server Internal Error";
  }
}

// Keeps a leg's events until the session that runs it attaches, then passes everything on.
class LegRelay final : public worker::LegListener {
 public:
  void Attach(worker::LegListener* listener) {
    absl::MutexLock lock(&mu_);
    for (const LegEvent& e : kept_) listener->OnLegEvent(e);
    kept_.clear();
    listener_ = listener;
  }
  void OnLegEvent(const LegEvent& event) override {
    absl::MutexLock lock(&mu_);
    if (listener_ != nullptr) {
      listener_->OnLegEvent(event);
    } else {
      kept_.push_back(event);
    }
  }
  void OnLegAudio(const audio::PcmFrame& frame) override {
    absl::MutexLock lock(&mu_);
    if (listener_ != nullptr) listener_->OnLegAudio(frame);
  }

 private:
  absl::Mutex mu_;
  worker::LegListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<LegEvent> kept_ ABSL_GUARDED_BY(mu_);
};

class SipInboundLeg final : public worker::InboundLeg {
 public:
  SipInboundLeg(std::shared_ptr<SipCall> call, std::unique_ptr<LegRelay> relay)
      : call_(std::move(call)), relay_(std::move(relay)) {}
  ~SipInboundLeg() override { call_->Close(); }  // no relay use after Close
  void Attach(worker::LegListener* listener) override { relay_->Attach(listener); }
  absl::Status PlayAudio(const audio::PcmFrame& frame) override { return call_->PlayAudio(frame); }
  absl::Status PlayMark(const std::string& name) override { return call_->PlayMark(name); }
  void Clear() override { call_->Clear(); }
  absl::Status SendDtmf(const std::string& digit, int duration_ms) override {
    return call_->SendDtmf(digit, duration_ms);
  }
  absl::Duration QueuedAudio() const override { return call_->QueuedAudio(); }
  bool WaitAudioSent(absl::Duration timeout) override { return call_->WaitAudioSent(timeout); }
  void Hangup(worker::HangupCause cause, const std::string& detail) override {
    call_->Hangup(cause, detail);
  }
  // A cold transfer (REFER) to `to`: an E.164 number goes to the side the call came from.
  worker::TransferResult Transfer(const std::string& to, absl::Duration timeout) override {
    return call_->Transfer(to, timeout);
  }
  worker::LegStats Stats() const override { return call_->Stats(); }

 private:
  std::shared_ptr<SipCall> call_;
  std::unique_ptr<LegRelay> relay_;
};

class SipIncomingCall final : public worker::IncomingCall {
 public:
  SipIncomingCall(std::shared_ptr<SipCall> call, std::unique_ptr<LegRelay> relay, MediaAnswer media,
                  std::string to, std::string from)
      : call_(std::move(call)),
        relay_(std::move(relay)),
        media_(std::move(media)),
        to_(std::move(to)),
        from_(std::move(from)) {}
  ~SipIncomingCall() override {
    if (call_ == nullptr) return;  // answered: the leg owns it
    if (!decided_) call_->RejectInbound(500);
    call_->Close();
  }
  const std::string& to() const override { return to_; }
  const std::string& from() const override { return from_; }
  void Reject(int sip_code, const std::string& reason_phrase) override {
    if (decided_) return;
    decided_ = true;
    log::Info(
        "sip inbound call refused",
        {{"to", log::MaskPhone(to_)}, {"code", absl::StrCat(sip_code)}, {"reason", reason_phrase}});
    call_->RejectInbound(sip_code);
  }
  std::unique_ptr<worker::InboundLeg> Answer(const std::string& call_id) override {
    if (decided_ || call_ == nullptr) return nullptr;
    decided_ = true;
    log::Info("sip inbound call answered", {{"to", log::MaskPhone(to_)}, {"call_id", call_id}});
    call_->AnswerInbound(media_);
    return std::make_unique<SipInboundLeg>(std::move(call_), std::move(relay_));
  }

 private:
  std::shared_ptr<SipCall> call_;
  std::unique_ptr<LegRelay> relay_;
  const MediaAnswer media_;
  const std::string to_;
  const std::string from_;
  bool decided_ = false;
};

std::string UserOf(const url_t* url) {
  return url != nullptr && url->url_user != nullptr ? url->url_user : "";
}

std::string BodyOf(const sip_t* sip) {
  if (sip == nullptr || sip->sip_payload == nullptr || sip->sip_payload->pl_data == nullptr) {
    return "";
  }
  return std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
}

// The side an inbound call came from, as the "trunk" of its SipCall: the INVITE's Contact (else
// the top Via's sent-by), and the Contact's transport parameter (else the Via's transport).
// Where an E.164 transfer target is sent (Refer-To sip:<number>@<host>:<port>) — a PBX or
// carrier that offered us the call routes it.
void SetCallerSide(const sip_t* sip, SipTrunkConfig& trunk) {
  if (sip == nullptr) return;
  const sip_via_t* via = sip->sip_via;
  if (via != nullptr && via->v_protocol != nullptr) {
    const std::string protocol = absl::AsciiStrToLower(via->v_protocol);  // "sip/2.0/udp"
    if (absl::EndsWith(protocol, "/tcp")) trunk.transport = "tcp";
  }
  const url_t* contact = sip->sip_contact != nullptr ? sip->sip_contact->m_url : nullptr;
  char transport[8] = {};
  if (contact != nullptr && contact->url_params != nullptr &&
      url_param(contact->url_params, "transport", transport, sizeof(transport)) > 0) {
    // The Contact's own transport parameter, where it gives one, over the Via's.
    trunk.transport = absl::AsciiStrToLower(transport) == "tcp" ? "tcp" : "udp";
  }
  const char* host = contact != nullptr ? contact->url_host : nullptr;
  const char* port = contact != nullptr ? contact->url_port : nullptr;
  if (host == nullptr && via != nullptr) {
    host = via->v_host;
    port = via->v_port;
  }
  if (host == nullptr) return;
  trunk.host = host;
  if (!trunk.host.empty() && trunk.host.front() == '[') {
    trunk.host = trunk.host.substr(1, trunk.host.size() - 2);  // RequestUri brackets IPv6 again
  }
  int number = 0;
  trunk.port = port != nullptr && absl::SimpleAtoi(port, &number) && number > 0 ? number : 5060;
}

}  // namespace

std::string InboundNumber(std::string_view user, std::string_view region) {
  // Telephone-subscriber parameters (";npdi", ";rn=…") and visual separators are not the number.
  user = user.substr(0, user.find(';'));
  std::string digits;
  for (char c : user) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c == '+' && digits.empty())) {
      digits.push_back(c);
    } else if (c != '-' && c != '.' && c != '(' && c != ')' && c != ' ') {
      return "";  // a name ("alice"), not a number
    }
  }
  if (digits.empty() || digits == "+") return "";
  absl::StatusOr<std::string> e164 = phone::NormalizeE164(digits, region, "number");
  if (!e164.ok() && digits[0] != '+') {
    // Trunks often send the full international number without its '+'.
    e164 = phone::NormalizeE164("+" + digits, region, "number");
  }
  return e164.ok() ? *e164 : "";
}

std::string BuildSdpAnswer(const std::string& address, int port, const MediaAnswer& media,
                           uint64_t session_id) {
  const bool v6 = address.find(':') != std::string::npos;
  const char* family = v6 ? "IP6" : "IP4";
  const int pt = media.codec.payload_type;
  std::string formats = absl::StrCat(pt);
  std::string maps;
  if (media.codec.name == "opus") {
    absl::StrAppend(&maps, "a=rtpmap:", pt, " opus/48000/2\r\n", "a=fmtp:", pt,
                    " useinbandfec=1;stereo=0;sprop-stereo=0\r\n");
  } else {
    absl::StrAppend(&maps, "a=rtpmap:", pt, " ", absl::AsciiStrToUpper(media.codec.name), "/",
                    media.codec.clock_rate, "\r\n");
  }
  if (media.dtmf_payload_type >= 0) {
    absl::StrAppend(&formats, " ", media.dtmf_payload_type);
    absl::StrAppend(&maps, "a=rtpmap:", media.dtmf_payload_type, " telephone-event/",
                    media.codec.clock_rate, "\r\n", "a=fmtp:", media.dtmf_payload_type,
                    " 0-16\r\n");
  }
  return absl::StrCat("v=0\r\n", "o=parley ", session_id, " 1 IN ", family, " ", address, "\r\n",
                      "s=parley\r\n", "c=IN ", family, " ", address, "\r\n", "t=0 0\r\n",
                      "m=audio ", port, " RTP/AVP ", formats, "\r\n", maps, "a=ptime:20\r\n",
                      "a=", AnswerDirection(media), "\r\n");  // RFC 3264 §6.1
}

void OfferInboundCall(SipTelephony::Stack* stack, worker::InboundCallHandler* handler,
                      nua_handle_t* nh, const sip_t* sip) {
  const SipTelephonyOptions& options = stack->options();
  const url_t* request_uri =
      sip != nullptr && sip->sip_request != nullptr ? sip->sip_request->rq_url : nullptr;
  std::string to = InboundNumber(UserOf(request_uri), options.inbound_region);
  if (to.empty() && sip != nullptr && sip->sip_to != nullptr) {
    to = InboundNumber(UserOf(sip->sip_to->a_url), options.inbound_region);
  }
  const std::string from = sip != nullptr && sip->sip_from != nullptr
                               ? InboundNumber(UserOf(sip->sip_from->a_url), options.inbound_region)
                               : "";
  if (to.empty()) {
    nua_respond(nh, SIP_404_NOT_FOUND, TAG_END());
    return;
  }
  absl::StatusOr<MediaAnswer> media = ReadSdpAnswer(BodyOf(sip), options.inbound_codecs);
  if (!media.ok()) {
    log::Info("sip inbound offer refused", {{"error", media.status().ToString()}});
    nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
    return;
  }
  SipTrunkConfig defaults;  // an inbound call has no trunk: the default RTP range and codecs
  defaults.codecs = options.inbound_codecs;
  SetCallerSide(sip, defaults);
  if (const std::string param = defaults.TransportParam(); !param.empty()) {
    // Applied before our answer goes (the stack runs its queue in order), and then kept as the
    // dialog's local target.
    nua_set_hparams(nh, NUTAG_M_PARAMS(param.c_str()), TAG_END());
  }
  absl::StatusOr<std::unique_ptr<RtpSession>> rtp =
      RtpSession::Open({.bind_address = options.rtp_address,
                        .port_min = defaults.rtp_port_min,
                        .port_max = defaults.rtp_port_max});
  if (!rtp.ok()) {
    log::Warn("sip inbound: no RTP port", {{"error", rtp.status().ToString()}});
    nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, TAG_END());
    return;
  }
  const std::string address = options.rtp_address != "0.0.0.0"
                                  ? options.rtp_address
                                  : LocalAddressTowards(media->address, media->port);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string answer = BuildSdpAnswer(address, (*rtp)->port(), *media, rng() >> 2);
  auto relay = std::make_unique<LegRelay>();
  worker::DialRequest request{.to = to, .from = from, .listener = relay.get()};
  auto call = std::make_shared<SipCall>(stack, options.scheduler, std::move(request),
                                        std::move(defaults), *std::move(rtp), std::move(answer));
  call->TrackInbound(nh);
  handler->OnIncomingCall(std::make_unique<SipIncomingCall>(std::move(call), std::move(relay),
                                                            *std::move(media), to, from));
}

// ----- SipCall, inbound mode ------------------------------------------------------------------

void SipCall::TrackInbound(nua_handle_t* nh) {
  inbound_ = true;
  nh_ = nh;
  nua_handle_bind(nh, this);
  stack_->Track(nh, shared_from_this());
}

void SipCall::AnswerInbound(const MediaAnswer& media) {
  ring_deadline_ = Clock::now() + absl::ToChronoNanoseconds(request_.ring_timeout);
  // On the scheduler before the 200 leaves: StartMedia's Wake needs the slot.
  slot_ = scheduler_->Add(this);
  scheduler_->Wake(slot_, ring_deadline_);  // no ACK by then: the call is given up
  std::shared_ptr<SipCall> self = shared_from_this();
  stack_->Post([self, media](nua_t*) {
    {
      absl::MutexLock lock(&self->mu_);
      if (self->phase_ != Phase::kDialing || self->released_) return;  // the caller gave up
    }
    nua_respond(self->nh_, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                SIPTAG_PAYLOAD_STR(self->offer_.c_str()), TAG_END());
    // Media flows from our 200 on: the caller may start talking before its ACK arrives.
    self->StartMedia(self->nh_, media, 200);
  });
}

void SipCall::RejectInbound(int sip_code) {
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kDialing) return;
    phase_ = Phase::kEnded;  // the handle is released when nua reports it terminated
  }
  std::shared_ptr<SipCall> self = shared_from_this();
  stack_->Post([self, sip_code](nua_t*) {
    if (self->released_) return;
    nua_respond(self->nh_, sip_code, PhraseFor(sip_code), TAG_END());
  });
}

}  // namespace parley::sip
