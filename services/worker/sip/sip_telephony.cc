#include "services/worker/sip/sip_telephony.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log/log.h"
#include "common/status/status.h"
#include "services/worker/sip/sdp.h"
#include "services/worker/sip/sip_call.h"
#include "services/worker/sip/sip_inbound.h"
#include "services/worker/sip/sip_stack.h"

namespace parley::sip {
namespace {

// A port free for both UDP and TCP on `address` right now.
absl::StatusOr<int> FreePort(const std::string& address) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    socklen_t len = sizeof(sa);
    if (bind(udp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        getsockname(udp, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      close(udp);
      continue;
    }
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok = bind(tcp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    close(tcp);
    close(udp);
    if (ok) return static_cast<int>(ntohs(sa.sin_port));
  }
  return absl::UnavailableError("sip: no free port");
}

}  // namespace

// sip_inbound.h.
std::string LocalAddressTowards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return "127.0.0.1";
  }
  std::string out = "127.0.0.1";
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    char text[INET_ADDRSTRLEN];
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
        inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text)) != nullptr) {
      out = text;
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return out;
}

namespace {

class SipCallLeg final : public worker::CallLeg {
 public:
  explicit SipCallLeg(std::shared_ptr<SipCall> call) : call_(std::move(call)) {}
  ~SipCallLeg() override { call_->Close(); }
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
  worker::TransferResult Transfer(const std::string& to, absl::Duration timeout) override {
    return call_->Transfer(to, timeout);
  }
  worker::LegStats Stats() const override { return call_->Stats(); }

 private:
  std::shared_ptr<SipCall> call_;
};

}  // namespace

// ----- the stack ----------------------------------------------------------------------------

SipTelephony::Stack::~Stack() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status SipTelephony::Stack::Start() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::InternalError("sip: eventfd");
  thread_ = std::thread([this] { Run(); });
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&started_));
  return start_status_;
}

void SipTelephony::Stack::Post(std::function<void(nua_t*)> work) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    work_.push_back(std::move(work));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

int SipTelephony::TrackedCalls() const {
  struct Answer {
    absl::Notification done;
    std::atomic<int> n{-1};
  };
  auto answer = std::make_shared<Answer>();  // outlives a wait that gives up
  Stack* stack = stack_.get();
  stack_->Post([answer, stack](nua_t*) {
    answer->n = stack->tracked();
    answer->done.Notify();
  });
  answer->done.WaitForNotificationWithTimeout(absl::Seconds(5));
  return answer->n;  // −1 when the stack did not answer
}

void SipTelephony::Stack::Track(nua_handle_t* nh, std::shared_ptr<SipCall> call) {
  calls_[nh] = std::move(call);
}

void SipTelephony::Stack::Forget(nua_handle_t* nh) { calls_.erase(nh); }

int SipTelephony::Stack::Wakeup(su_root_magic_t* magic, su_wait_t*, su_wakeup_arg_t*) {
  auto* stack = static_cast<Stack*>(magic);
  uint64_t count;
  while (read(stack->wake_fd_, &count, sizeof(count)) > 0) {
  }
  stack->Drain();
  return 0;
}

void SipTelephony::Stack::Drain() {
  for (;;) {
    std::function<void(nua_t*)> work;
    {
      absl::MutexLock lock(&mu_);
      if (work_.empty()) return;
      work = std::move(work_.front());
      work_.pop_front();
    }
    if (nua_ != nullptr) work(nua_);
  }
}

void SipTelephony::Stack::Callback(nua_event_t event, int status, char const* phrase, nua_t*,
                                   nua_magic_t* magic, nua_handle_t* nh, nua_hmagic_t* hmagic,
                                   sip_t const* sip, tagi_t tags[]) {
  auto* stack = static_cast<Stack*>(magic);
  if (event == nua_r_shutdown) {
    if (status >= 200) stack->shutdown_done_ = true;
    return;
  }
  auto found = stack->calls_.find(nh);
  if (found != stack->calls_.end() && hmagic == found->second.get()) {
    std::shared_ptr<SipCall> call = found->second;  // alive through the event
    call->OnEvent(event, status, phrase, nh, sip, tags);
    return;
  }
  if (event == nua_i_invite && nh != nullptr) {
    if (worker::InboundCallHandler* handler = stack->inbound_handler()) {
      OfferInboundCall(stack, handler, nh, sip);
      return;
    }
    // Nobody takes inbound calls here: every number is unknown.
    nua_respond(nh, SIP_404_NOT_FOUND, NUTAG_WITH_THIS(stack->nua_), TAG_END());
    return;
  }
  if (event == nua_i_update && nh != nullptr) {
    // A dialog whose call is gone (it ended; the handle is on its way out).
    nua_respond(nh, SIP_481_NO_TRANSACTION, NUTAG_WITH_THIS(stack->nua_), TAG_END());
    return;
  }
  if (event == nua_i_state && nh != nullptr && hmagic == nullptr) {
    int state = nua_callstate_init;
    tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
    if (state == nua_callstate_terminated) nua_handle_destroy(nh);
  }
}

void SipTelephony::Stack::Run() {
  su_init();
  root_ = su_root_create(this);
  absl::Status status;
  su_wait_t wait[1];
  int wake_index = -1;
  if (root_ == nullptr) {
    status = absl::InternalError("sip: su_root_create");
  } else {
    const std::string url = absl::StrCat("sip:", options_.sip_address, ":", options_.sip_port);
    // Retry count 1: nua restarts a request once — what a digest challenge needs. Its other
    // restarts (a 302 redirect, a 5xx with Retry-After) would dial again; SipCall ends the call
    // on their "100 Redirected" / "100 Retry After" reports instead (sip_call.cc).
    nua_ = nua_create(
        root_, &Stack::Callback, this, NUTAG_URL(url.c_str()), NUTAG_MEDIA_ENABLE(0),
        NUTAG_AUTOACK(1), NUTAG_AUTOANSWER(0), NUTAG_RETRY_COUNT(1),
        NUTAG_SESSION_TIMER(options_.session_expires_s), NUTAG_MIN_SE(options_.session_min_se_s),
        NUTAG_SESSION_REFRESHER(nua_any_refresher), NUTAG_UPDATE_REFRESH(1),
        // UPDATE comes to SipCall: nua alone would answer an UPDATE's offer without SDP.
        NUTAG_APPL_METHOD("UPDATE"),
        SIPTAG_USER_AGENT_STR(options_.user_agent.c_str()), NTATAG_UDP_MTU(65535), TAG_END());
    if (nua_ == nullptr) {
      status = absl::UnavailableError(absl::StrCat("sip: cannot listen on ", url));
    } else if (su_wait_create(wait, wake_fd_, SU_WAIT_IN) != 0 ||
               (wake_index = su_root_register(root_, wait, &Stack::Wakeup, nullptr, 0)) < 0) {
      status = absl::InternalError("sip: cannot watch the wake-up fd");
    }
  }
  {
    absl::MutexLock lock(&mu_);
    start_status_ = status;
    started_ = true;
  }
  if (status.ok()) {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) break;
      }
      su_root_step(root_, 100);
    }
    Drain();
    nua_shutdown(nua_);
    for (int i = 0; i < 50 && !shutdown_done_; ++i) su_root_step(root_, 100);
  }
  calls_.clear();
  if (root_ != nullptr && wake_index >= 0) su_root_deregister(root_, wake_index);
  if (nua_ != nullptr) nua_destroy(nua_);
  nua_ = nullptr;
  if (root_ != nullptr) su_root_destroy(root_);
  root_ = nullptr;
  su_deinit();
}

// ----- the telephony ------------------------------------------------------------------------

SipTelephony::SipTelephony(std::unique_ptr<Stack> stack) : stack_(std::move(stack)) {}
SipTelephony::~SipTelephony() = default;

int SipTelephony::sip_port() const { return stack_->options().sip_port; }

void SipTelephony::SetInboundHandler(worker::InboundCallHandler* handler) {
  stack_->set_inbound_handler(handler);
  // A call being offered to the old handler on the stack's thread is through before this
  // returns (the caller may destroy that handler next).
  auto passed = std::make_shared<absl::Notification>();
  stack_->Post([passed](nua_t*) { passed->Notify(); });
  passed->WaitForNotificationWithTimeout(absl::Seconds(5));
}

absl::StatusOr<std::unique_ptr<SipTelephony>> SipTelephony::Create(
    const SipTelephonyOptions& options) {
  in_addr probe{};
  if (inet_pton(AF_INET, options.sip_address.c_str(), &probe) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sip: listen address \"", options.sip_address, "\" is not IPv4"));
  }
  SipTelephonyOptions resolved = options;
  if (resolved.sip_port == 0) {
    PARLEY_ASSIGN_OR_RETURN(resolved.sip_port, FreePort(resolved.sip_address));
  }
  if (resolved.scheduler == nullptr) {
    resolved.scheduler = std::make_shared<media::FrameScheduler>(resolved.send_threads);
  }
  auto stack = std::make_unique<Stack>(resolved);
  PARLEY_RETURN_IF_ERROR(stack->Start());
  return std::unique_ptr<SipTelephony>(new SipTelephony(std::move(stack)));
}

absl::StatusOr<std::unique_ptr<worker::CallLeg>> SipTelephony::Dial(
    const worker::DialRequest& request, const parley::v1::Resource& trunk) {
  if (request.listener == nullptr) return absl::InvalidArgumentError("listener: required");
  if (request.to.empty()) return absl::InvalidArgumentError("to: required");
  PARLEY_ASSIGN_OR_RETURN(SipTrunkConfig config, ReadSipTrunk(trunk, request.credentials));
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<RtpSession> rtp,
                          RtpSession::Open({.bind_address = stack_->options().rtp_address,
                                            .port_min = config.rtp_port_min,
                                            .port_max = config.rtp_port_max}));
  worker::DialRequest dial = request;
  if (config.ring_timeout_s > 0) {
    dial.ring_timeout = std::min(dial.ring_timeout, absl::Seconds(config.ring_timeout_s));
  }
  std::string media_address = config.external_ip;
  if (media_address.empty()) {
    media_address = stack_->options().rtp_address != "0.0.0.0"
                        ? stack_->options().rtp_address
                        : LocalAddressTowards(config.host, config.port);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  SdpOffer offer{.address = media_address,
                 .rtp_port = rtp->port(),
                 .codecs = config.codecs,
                 .session_id = rng() >> 2,
                 .version = 1};
  auto call =
      std::make_shared<SipCall>(stack_.get(), stack_->options().scheduler, std::move(dial),
                                std::move(config), std::move(rtp), BuildSdpOffer(offer), offer);
  call->Start();
  return std::make_unique<SipCallLeg>(std::move(call));
}

}  // namespace parley::sip
