// Inbound calls (issue 10): a telephony that listens (sip/sip_telephony.h) hands each call that
// comes in to an InboundCallHandler as an IncomingCall; the handler (inbound_router.h) decides —
// reject with a SIP status, or answer — and an answered call's InboundLeg is run by a CallSession
// like a dialed one, except that it is up already.
//
//   void Router::OnIncomingCall(std::unique_ptr<IncomingCall> call) {   // returns at once
//     queue_.push_back(std::move(call));
//   }
//   … on the router's own thread:
//   if (!route) return call->Reject(404, "Not Found");
//   std::unique_ptr<InboundLeg> leg = call->Answer();       // 200 OK with our SDP answer
//   leg->Attach(&session);                                  // kAnswered reaches the session
#pragma once

#include <memory>
#include <string>

#include "services/worker/telephony.h"

namespace parley::worker {

// A leg that came in and was answered. Until Attach, what happens on it is kept (events) or
// dropped (the caller's audio); every CallLeg method works as for a dialed leg.
class InboundLeg : public CallLeg {
 public:
  // Gives the leg its listener (which must outlive the leg): events so far (kAnswered, and a
  // terminal one if the caller hung up meanwhile) are delivered at once, in order, on this
  // thread; the rest as telephony.h says. Call once.
  virtual void Attach(LegListener* listener) = 0;
};

// A call that is coming in and waits for a decision. Used by one thread at a time; destroying
// it undecided rejects it with 500.
class IncomingCall {
 public:
  virtual ~IncomingCall() = default;
  // The number called (Request-URI user, else To user), normalised to E.164; "" when it is not
  // a phone number.
  virtual const std::string& to() const = 0;
  // The caller (From user) in E.164, or "" when it is not a phone number.
  virtual const std::string& from() const = 0;
  // Refuses the call with a final SIP status (404, 486, 503, …). Call once, instead of Answer.
  virtual void Reject(int sip_code, const std::string& reason_phrase) = 0;
  // Answers it (200 OK with the SDP answer; RTP starts) and returns the leg. `call_id` names it
  // in logs. Call once, instead of Reject.
  virtual std::unique_ptr<InboundLeg> Answer(const std::string& call_id) = 0;
};

class InboundCallHandler {
 public:
  virtual ~InboundCallHandler() = default;
  // A call came in. Runs on the telephony's signalling thread: must return quickly, and decide
  // on a thread of its own.
  virtual void OnIncomingCall(std::unique_ptr<IncomingCall> call) = 0;
};

}  // namespace parley::worker
