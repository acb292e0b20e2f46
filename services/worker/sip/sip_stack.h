// Internal to SipTelephony: the sofia-sip NUA stack on its own thread. Everything that touches
// nua runs on that thread: other threads hand it work with Post. Calls register their NUA handle
// so that the stack's events reach them.
#pragma once

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/worker/inbound.h"
#include "services/worker/sip/sip_telephony.h"

namespace parley::sip {

class SipCall;

class SipTelephony::Stack {
 public:
  explicit Stack(SipTelephonyOptions options) : options_(std::move(options)) {}
  ~Stack();

  // Starts the thread and binds; returns once the stack is up or failed.
  absl::Status Start();
  const SipTelephonyOptions& options() const { return options_; }

  // Runs `work` on the stack's thread, soon. Never runs it after the stack stopped.
  void Post(std::function<void(nua_t*)> work);

  // Stack thread only: routes the events of `nh` to `call` until Forget.
  void Track(nua_handle_t* nh, std::shared_ptr<SipCall> call);
  void Forget(nua_handle_t* nh);

  // Stack thread only: the agent (for NUTAG_WITH_THIS, answering the request being reported).
  nua_t* nua() const { return nua_; }
  // Stack thread only: calls whose handles are tracked.
  int tracked() const { return static_cast<int>(calls_.size()); }

  // Who decides on calls that come in (sip_inbound.h); null: they get 404.
  void set_inbound_handler(worker::InboundCallHandler* handler) { inbound_handler_ = handler; }
  worker::InboundCallHandler* inbound_handler() const { return inbound_handler_; }

 private:
  static void Callback(nua_event_t event, int status, char const* phrase, nua_t* nua,
                       nua_magic_t* magic, nua_handle_t* nh, nua_hmagic_t* hmagic, sip_t const* sip,
                       tagi_t tags[]);
  static int Wakeup(su_root_magic_t* magic, su_wait_t* wait, su_wakeup_arg_t* arg);
  void Run();
  void Drain();

  const SipTelephonyOptions options_;
  std::thread thread_;
  int wake_fd_ = -1;
  su_root_t* root_ = nullptr;  // stack thread
  nua_t* nua_ = nullptr;       // stack thread
  bool shutdown_done_ = false;
  std::map<nua_handle_t*, std::shared_ptr<SipCall>> calls_;  // stack thread
  std::atomic<worker::InboundCallHandler*> inbound_handler_{nullptr};

  absl::Mutex mu_;
  std::deque<std::function<void(nua_t*)>> work_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status start_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::sip
