// Internal to persona_endpoint.cc: one call of a PersonaEndpoint. The handler thread runs the
// persona (ring, answer, then a 20 ms tick loop that plays out the agent's audio, decides when
// to speak and sends the callee's frames); a reader thread takes the worker's messages: audio
// into the play-out queue, Clear, Mark, Dtmf, Hangup.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/callee/persona_endpoint.h"
#include "common/media/audio_stream.h"

namespace parley::callee {

class PersonaEndpoint::Leg final {
 public:
  using Stream = grpc::ServerReaderWriter<parley::v1::MediaMessage, parley::v1::MediaMessage>;
  using Clock = std::chrono::steady_clock;

  Leg(PersonaEndpoint* endpoint, CalleeCall* call, grpc::ServerContext* context, Stream* stream,
      int generation, std::shared_ptr<const Prepared> prepared);

  grpc::Status Run();

 private:
  // An entry of the play-out queue: one decoded agent frame, or a Mark to echo once played.
  struct Queued {
    std::vector<int16_t> samples;
    std::optional<std::string> mark;
  };
  // What the worker did, as the tick loop sees it.
  enum class End { kNone, kWorkerHungUp, kClosed, kProtocolError, kHangUpAll };

  void ReadLoop();
  bool Write(const parley::v1::MediaMessage& message);
  void EchoMark(const std::string& name, bool cleared);
  void Log(CallEvent event);
  int64_t SinceAnswerMs() const;
  End CheckEnd();
  // Polls CheckEnd for up to `timeout`; returns what ended the wait, kNone on timeout.
  End WaitForEnd(absl::Duration timeout);

  // Encodes one 20 ms frame of the callee's audio, sends it and records it.
  void SendFrame(media::AudioSender& sender, std::span<const int16_t> frame, bool new_run,
                 int64_t tick);

  grpc::Status Ringing();
  grpc::Status Talk();
  // Ends the call from our side with Hangup, then waits for the worker's half-close.
  grpc::Status HangUp(const std::string& detail);
  // The worker ended (hung up, closed or misbehaved): finish accordingly.
  grpc::Status OnWorkerEnd(End end);
  // After a hang-up: waits (up to 3 s) for the worker to half-close, cancelling the RPC if it does
  // not, and ends it OK.
  grpc::Status AwaitWorkerClose();
  grpc::Status Finish(grpc::Status status);

  PersonaEndpoint* ep_;
  CalleeCall* call_;  // guarded by ep_->mu_
  grpc::ServerContext* context_;
  Stream* stream_;
  const int generation_;
  std::shared_ptr<const Prepared> prepared_;
  const Persona& persona_;

  absl::Mutex write_mu_;
  absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool worker_hung_up_ ABSL_GUARDED_BY(mu_) = false;
  std::string protocol_error_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> answered_{false};
  Clock::time_point answered_at_;  // written before answered_ is set
  std::unique_ptr<CallRecording> recording_;
  std::thread reader_;
};

}  // namespace parley::callee
