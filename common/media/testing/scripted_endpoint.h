// Test-only: a MediaEndpoint server (the callee side of media.proto) that follows a script per
// called number — ring, then answer, reject, never answer or hang up; speak a tone; press keys;
// hang up or drop the connection after a while — and records everything the worker did: Invites
// per call id and per number, every message, and each audio frame with its arrival time, decoded.
// Tests of the worker measure call outcomes, pacing and audio fidelity with it; the simulated
// phone can reuse the script vocabulary.
//
//   ScriptedEndpoint endpoint;
//   endpoint.SetDefaultScript({.ring_for = absl::Milliseconds(200)});      // answer, hold the line
//   endpoint.SetScript("+14155550100", {.pickup = CalleeScript::Pickup::kReject,
//                                       .reject_reason = parley::v1::Reject::REASON_BUSY});
//   grpcx::GrpcServer server({.address = "127.0.0.1:0"});
//   server.AddService(&endpoint, "parley.v1.MediaEndpoint");
//   ...
//   ASSERT_TRUE(endpoint.WaitUntil([&](const auto& calls) { return calls.size() == 2 &&
//                                                         calls[1].ended; }, absl::Seconds(10)));
//   std::optional<EndpointCall> call = endpoint.Find(call_id);
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "parley/v1/media.grpc.pb.h"

namespace parley::media::testing {

// What the callee does with a call. Times after answer count from the Answer message.
struct CalleeScript {
  enum class Pickup {
    kAnswer,              // Answer after ring_for
    kReject,              // Reject(reject_reason) after ring_for
    kNeverAnswer,         // keep ringing until the worker gives up
    kHangupWhileRinging,  // Hangup(NORMAL) after ring_for
    kDropWhileRinging,    // fail the RPC (UNAVAILABLE) after ring_for
  };
  Pickup pickup = Pickup::kAnswer;
  absl::Duration ring_for = absl::Milliseconds(100);  // Ringing is sent at once
  parley::v1::Reject::Reason reject_reason = parley::v1::Reject::REASON_BUSY;
  int reject_sip_code = 0;
  int answer_rate = 0;  // Answer.sample_rate, the rate the callee speaks at; 0 = the Invite's
  std::optional<absl::Duration> hangup_after;  // the callee hangs up (Hangup NORMAL)
  std::optional<absl::Duration> drop_after;    // the RPC fails: the leg drops mid-call
  double tone_hz = 0;                          // the callee "speaks" a tone…
  absl::Duration tone_start = absl::ZeroDuration();
  absl::Duration tone_for = absl::ZeroDuration();            // …for this long, paced in real time
  std::vector<std::pair<absl::Duration, std::string>> dtmf;  // keys pressed after answer
};

// One audio frame the worker sent, as it arrived.
struct ReceivedFrame {
  uint32_t seq = 0;
  uint64_t timestamp_samples = 0;
  double arrival_ms = 0;  // steady clock, since the Answer was sent
  size_t bytes = 0;
};

// What happened on one MediaEndpoint.Call stream.
struct EndpointCall {
  parley::v1::Invite invite;
  // In order: "ringing", "answer", "reject", "hangup_by_callee", "hangup_by_worker",
  // "clear", "mark:<name>", "dtmf:<digit>", "dropped", "protocol_error".
  std::vector<std::string> log;
  std::vector<ReceivedFrame> frames;  // worker audio after Answer
  std::vector<int16_t> heard;         // that audio decoded at the Invite's rate (concealed holes)
  int clears = 0;
  bool answered = false;
  bool worker_hung_up = false;
  parley::v1::Hangup worker_hangup;  // what the worker's Hangup said
  bool ended = false;                // the RPC is over
  absl::Time invite_time;
  absl::Time answer_time;
  absl::Time end_time;
};

class ScriptedEndpoint final : public parley::v1::MediaEndpoint::Service {
 public:
  ScriptedEndpoint() = default;
  ~ScriptedEndpoint() override;

  // The script for numbers without one of their own (initially: answer after 100 ms, hold).
  void SetDefaultScript(CalleeScript script);
  // The script for calls to `number` (Invite.to).
  void SetScript(const std::string& number, CalleeScript script);

  grpc::Status Call(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<parley::v1::MediaMessage, parley::v1::MediaMessage>*
                        stream) override;

  // Every call so far, in Invite order (copies).
  std::vector<EndpointCall> Calls() const;
  // The latest call with this call id, if any.
  std::optional<EndpointCall> Find(const std::string& call_id) const;
  // How many Invites named this call id / this number.
  int InvitesFor(const std::string& call_id) const;
  int InvitesTo(const std::string& number) const;
  // Calls whose RPC has not ended.
  int LiveCalls() const;
  // Waits until `done(Calls())` holds; returns whether it did within `timeout`.
  bool WaitUntil(const std::function<bool(const std::vector<EndpointCall>&)>& done,
                 absl::Duration timeout) const;
  // Makes every live call hang up now from the callee side (test teardown).
  void HangUpAll();

 private:
  class Leg;
  friend class Leg;

  CalleeScript ScriptFor(const std::string& number) const;

  mutable absl::Mutex mu_;
  CalleeScript default_script_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, CalleeScript> scripts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<EndpointCall>> calls_ ABSL_GUARDED_BY(mu_);
  int hangup_generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by HangUpAll
  int live_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace parley::media::testing
