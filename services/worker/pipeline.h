// The voice pipeline a call session hosts from answer to hang-up (DESIGN.md, "Media and the voice
// pipeline"). The session owns the call's lifecycle — dialing, events, leases, outcome — and the
// pipeline owns the conversation: it hears the callee (OnAudio), speaks through the leg
// (host.leg().PlayAudio), and asks the session to end the call (host.EndCall).
//
// The full pipeline (VAD → STT → engine → TTS) is the next issue; test_prompt_pipeline.h is the
// stand-in: it plays a fixed prompt and records what it hears.
//
//   class MyPipeline : public CallPipeline {
//     void OnAnswered(PipelineHost& host) override { host_ = &host; Speak(greeting_); }
//     void OnAudio(const audio::PcmFrame& f) override { vad_.Push(f); … }
//     PipelineReport Stop(std::string_view reason) override { … return report; }
//   };
//
// Threading: Prepare, OnAnswered, OnDtmf, OnMark, OnDrain and Stop run on the session's thread;
// OnAudio runs on the leg's receive thread (keep it short). After Stop returns, no method is
// called again and the host must not be used.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/audio/pcm.h"
#include "common/calls/call_store.h"
#include "parley/v1/config.pb.h"
#include "services/worker/telephony.h"

namespace parley::worker {

// What a pipeline may ask of the session that hosts it. Thread-safe.
class PipelineHost {
 public:
  virtual ~PipelineHost() = default;
  // The call's leg: play audio, marks, Clear, DTMF. Valid from OnAnswered until Stop.
  virtual CallLeg& leg() = 0;
  // Ends the call with `outcome` (completed, voicemail, …) and `ended_reason` (agent_hangup,
  // silence_timeout, max_duration, …): the session lets queued audio finish playing (bounded),
  // then hangs up. The first call wins.
  virtual void EndCall(parley::v1::CallStatus outcome, std::string ended_reason) = 0;
  // Ends the call by a cold transfer to `to` (the `transfer` tool): once queued audio played,
  // the leg transfers the callee (CallLeg::Transfer) and hangs up. The call completes as
  // "transferred"; when the transfer fails, as "transfer_failed" after a "transfer_failed" event
  // saying why (sip_code, error). On a leg that cannot transfer (the gRPC media leg) it ends as
  // EndCall(completed, "transfer") would. The first EndCall/TransferCall wins.
  virtual void TransferCall(std::string to) {
    (void)to;
    EndCall(parley::v1::CALL_STATUS_COMPLETED, "transfer");
  }
  // Records a non-status event on the call's stream ("node", "provider_fallback", …). Fails
  // like CallStore::AppendEvent (FAILED_PRECONDITION once the attempt is no longer ours).
  virtual absl::Status AppendEvent(std::string type, std::map<std::string, std::string> detail) = 0;
};

// Everything a pipeline is built from.
struct PipelineContext {
  const calls::CallRecord* call = nullptr;            // the call (context_json, to, agent, …)
  const parley::v1::RuntimeConfig* config = nullptr;  // template, graph, prompts, credentials
  google::protobuf::Struct state;                     // conversation state from state StartCall
  std::string worker_id;
  // What `config` points to, when shared (the config cache's entry): lets the calls of one
  // config share what is built from it once. May be null (then it is built per call).
  std::shared_ptr<const parley::v1::RuntimeConfig> shared_config;
};

// The end-of-call report (state CompleteCall's summary and metrics).
struct PipelineReport {
  std::string summary;
  std::map<std::string, double> metrics;
};

class CallPipeline {
 public:
  virtual ~CallPipeline() = default;
  // While the phone rings (e.g. synthesise the greeting). Called at most once, before OnAnswered.
  virtual void Prepare() {}
  // The callee answered: start the conversation. Must return promptly (start threads if needed).
  virtual void OnAnswered(PipelineHost& host) = 0;
  // One 20 ms, 16 kHz frame of the callee's audio (leg receive thread).
  virtual void OnAudio(const audio::PcmFrame& frame) = 0;
  virtual void OnDtmf(const std::string& digit) {}
  // A playback marker came back (see CallLeg::PlayMark).
  virtual void OnMark(const std::string& name, bool cleared) {}
  // The worker is draining and the drain deadline came: wrap up politely now (e.g. say goodbye)
  // and call EndCall; the session hangs up anyway after a short grace.
  virtual void OnDrain() {}
  // The call is over (`ended_reason` says why); stop and report. Called exactly once, also for
  // calls never answered.
  virtual PipelineReport Stop(std::string_view ended_reason) = 0;
};

class PipelineFactory {
 public:
  virtual ~PipelineFactory() = default;
  // A pipeline for one call. An error fails the attempt before dialing
  // (`failed/provider_error:<detail>`).
  virtual absl::StatusOr<std::unique_ptr<CallPipeline>> Create(const PipelineContext& context) = 0;
};

}  // namespace parley::worker
