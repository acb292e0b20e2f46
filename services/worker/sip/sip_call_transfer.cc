// SipCall's cold transfer (REFER, RFC 3515; the transferor's side of RFC 5589): sends REFER in
// the call's dialog and follows the NOTIFYs of the implicit subscription, whose message/sipfrag
// bodies report the transferee's call to the target ("SIP/2.0 100 Trying", then a final status).
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_tag.h>

#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "services/worker/sip/sip_call.h"
#include "services/worker/sip/sipfrag.h"

namespace parley::sip {
namespace {

std::string Body(const sip_t* sip) {
  if (sip == nullptr || sip->sip_payload == nullptr || sip->sip_payload->pl_data == nullptr) {
    return "";
  }
  return std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
}

}  // namespace

worker::TransferResult SipCall::Transfer(const std::string& to, absl::Duration timeout) {
  if (to.empty()) return {absl::InvalidArgumentError("transfer: no target")};
  const std::string target =
      absl::StartsWith(to, "sip:") || absl::StartsWith(to, "sips:") ? to : trunk_.RequestUri(to);
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kUp) return {absl::FailedPreconditionError("call is not up")};
    if (transfer_ == TransferState::kPending) {
      return {absl::FailedPreconditionError("a transfer is in progress")};
    }
    transfer_ = TransferState::kPending;
    transfer_code_ = 0;
    transfer_detail_.clear();
  }
  log::Info("sip transfer", {{"call_id", request_.call_id}});
  std::shared_ptr<SipCall> self = shared_from_this();
  stack_->Post([self, target](nua_t*) {
    bool up;
    {
      absl::MutexLock lock(&self->mu_);
      up = self->phase_ == Phase::kUp;
    }
    // Not once the call ended (a BYE came meanwhile): the dialog is gone, and a REFER would go
    // outside it.
    if (self->nh_ == nullptr || self->released_ || !up) {
      self->TransferDone(false, 0, "call ended");
      return;
    }
    // Angle brackets keep URI parameters (;transport=tcp) in the URI.
    const std::string refer_to = absl::StrCat("<", target, ">");
    nua_refer(self->nh_, SIPTAG_REFER_TO_STR(refer_to.c_str()), TAG_END());
  });
  worker::TransferResult result;
  bool hung_up = false;  // by the callee, under the transfer, with no outcome after it
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &SipCall::TransferSettled), timeout)) {
      transfer_ = TransferState::kFailed;
      return {absl::DeadlineExceededError("transfer: no outcome in time"), transfer_code_};
    }
    if (transfer_ == TransferState::kPending && bye_in_transfer_) {
      // The transferee hung up before the final NOTIFY reached us. It hangs up once the target
      // answered (RFC 5589 §6.1), and over UDP its BYE may overtake that NOTIFY: wait for it a
      // moment (nua keeps the dialog for the subscription) before calling this a hang-up.
      // A hang-up asked of the leg (a cancel, a lost lease) ends the wait.
      mu_.AwaitWithTimeout(absl::Condition(this, &SipCall::FinalNotifyWaitOver),
                           kFinalNotifyGrace);
    }
    if (transfer_ == TransferState::kSucceeded) return {absl::OkStatus(), transfer_code_};
    if (transfer_ == TransferState::kPending) {  // the call ended under the transfer
      transfer_ = TransferState::kFailed;
      result = {absl::AbortedError("transfer: the call ended before its outcome"),
                transfer_code_};
    } else {
      result = {absl::AbortedError(absl::StrCat("transfer failed: ", transfer_detail_)),
                transfer_code_};
    }
    hung_up = bye_in_transfer_;
  }
  if (hung_up) {
    // No success after the callee's BYE: a dialog still kept for a NOTIFY goes now.
    std::shared_ptr<SipCall> self = shared_from_this();
    stack_->Post([self](nua_t*) {
      if (self->keep_for_notify_) self->Release(self->nh_);
    });
    // What the BYE held back while the outcome might still come (nua_i_bye, sip_call.cc).
    worker::LegEvent e;
    e.type = worker::LegEventType::kHangup;
    e.reason = "callee_hangup";
    e.detail = "BYE";
    Emit(e);
  }
  return result;
}

void SipCall::TransferDone(bool ok, int code, const std::string& detail) {
  {
    absl::MutexLock lock(&mu_);
    if (transfer_ != TransferState::kPending) return;
    transfer_ = ok ? TransferState::kSucceeded : TransferState::kFailed;
    transfer_code_ = code;
    transfer_detail_ = detail;
  }
  // The stack's thread (every caller is): a dialog kept only for this outcome can go now.
  if (keep_for_notify_) Release(nh_);
}

void SipCall::OnReferResponse(int status, const char* phrase) {
  // 202 Accepted: the outcome follows in NOTIFYs. A refusal (405, 403, 501…) ends the transfer.
  if (status >= 300) {
    TransferDone(false, status, absl::StrCat("REFER refused: ", status, " ", phrase ? phrase : ""));
  }
}

void SipCall::OnNotify(const sip_t* sip) {
  if (sip == nullptr || sip->sip_event == nullptr || sip->sip_event->o_type == nullptr ||
      std::string_view(sip->sip_event->o_type) != "refer") {
    return;
  }
  std::optional<SipfragStatus> status = ReadSipfragStatus(Body(sip));
  const bool terminated = sip->sip_subscription_state != nullptr &&
                          sip->sip_subscription_state->ss_substate != nullptr &&
                          absl::StartsWith(sip->sip_subscription_state->ss_substate, "terminated");
  log::Info("sip transfer progress", {{"call_id", request_.call_id},
                                      {"sipfrag", status.has_value() ? status->line : "(none)"},
                                      {"terminated", terminated ? "true" : "false"}});
  if (status.has_value() && status->code >= 200 && status->code < 300) {
    TransferDone(true, status->code, status->line);
  } else if (status.has_value() && status->code >= 300) {
    TransferDone(false, status->code, status->line);
  } else if (terminated) {
    TransferDone(false, status.has_value() ? status->code : 0,
                 status.has_value() ? status->line : "the subscription ended without a result");
  }
}

}  // namespace parley::sip
