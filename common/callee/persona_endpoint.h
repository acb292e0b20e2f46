// The simulated callee that talks: a MediaEndpoint server (the callee side of
// protos/parley/v1/media.proto) that answers each call as a persona (persona.h) says — rings,
// then answers, is busy, does not answer, declines, hangs up, or plays a voicemail box — and,
// once answered, holds up its side of a conversation with espeak-ng speech: it listens to the
// agent's audio (Opus decoded to 16 kHz, played out one 20 ms frame per tick, voice activity by
// speech::Vad), and when the agent has spoken and then paused for the reply's `pause_ms` it says
// its next reply as paced 20 ms Opus frames (or barges in after `interrupt_after_ms`). What
// `parleyctl phone` serves, and what end-to-end tests of the worker dial.
//
//   PARLEY_ASSIGN_OR_RETURN(Persona lead, LoadPersonaFile("deploy/examples/personas/lead.yaml"));
//   PARLEY_ASSIGN_OR_RETURN(auto endpoint, PersonaEndpoint::Create(lead, {.keep_recording =
//   true})); PARLEY_RETURN_IF_ERROR(endpoint->SetPersona("+14155550111", busy));   // per called
//   number grpcx::GrpcServer server({.address = "127.0.0.1:50060"});
//   server.AddService(endpoint.get(), "parley.v1.MediaEndpoint");
//   ...
//   endpoint->WaitUntil([](const std::vector<CalleeCall>& calls) {
//     return !calls.empty() && calls[0].ended; }, absl::Seconds(60));
//   std::optional<CalleeCall> call = endpoint->Find(call_id);   // call->said, call->events …
//
// Protocol duties on the callee side: Ringing at once; Answer (Opus, 16 kHz) or Reject; Audio
// before Answer ignored; `Clear` drops the agent audio received but not yet played, and Marks
// queued before it are echoed at once with `cleared` set; other Marks are echoed when the audio
// before them has been played; Hangup from either side as media.proto describes; a message out
// of order ends the RPC with INVALID_ARGUMENT.
//
// Keyed replies (`when:`) need the text of what the agent said; the media protocol carries only
// audio, so the endpoint asks the optional `recognizer` hook (e.g. pocketsphinx in `parleyctl
// phone`) for the text of the agent's turn. Without a hook, replies are spoken in list order.
//
// Live audio (`PersonaEndpointOptions::live_audio`, what `parleyctl phone --audio` uses): instead
// of the persona's replies, each answered call gets a LiveAudio that supplies the callee's audio
// 20 ms at a time (sent as paced Opus frames, one per tick, however fast the source is) and
// receives the agent's audio as it is played out (silence between the agent's words).
//
// All public methods are thread-safe. Each call runs on its gRPC handler thread plus one reader
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/callee/call_recording.h"
#include "common/callee/persona.h"
#include "common/speech/espeak_tts.h"
#include "common/speech/vad.h"
#include "parley/v1/media.grpc.pb.h"

namespace parley::callee {

// One thing that happened on a call.
struct CallEvent {
  // Milliseconds since Answer (0 for what happened before it), on the callee's 20 ms play-out
  // clock for audio events.
  int64_t at_ms = 0;
  // "ringing", "answer", "reject", "hangup_while_ringing", "callee_said", "callee_silent",
  // "voicemail_beep", "agent_speech_start", "agent_speech_end", "agent_heard", "clear", "mark",
  // "dtmf", "hangup_by_callee", "hangup_by_worker", "dropped", "protocol_error", "recorded",
  // "record_failed".
  std::string kind;
  // callee_said: the reply; agent_heard: the recognised text; reject: the reason; hangup_*: the
  // reason/detail; mark: its name; dtmf: the digit; recorded: the WAV path; protocol_error: what.
  std::string text;
  // callee_said / voicemail_beep: length of the audio; agent_speech_end: length of the agent's
  // speech; clear: agent audio dropped.
  int64_t duration_ms = 0;
};

// What happened on one MediaEndpoint.Call stream.
struct CalleeCall {
  parley::v1::Invite invite;
  std::string persona;                  // Persona::name
  std::vector<CallEvent> events;        // in order
  std::vector<std::string> said;        // replies the callee started saying, in order
  std::vector<std::string> agent_text;  // the recogniser's text of each agent turn it heard
  int agent_utterances = 0;             // agent speech segments (agent_speech_end events)
  int clears = 0;
  int64_t agent_frames = 0;   // agent audio frames received after Answer
  int64_t callee_frames = 0;  // audio frames the callee sent
  bool answered = false;
  bool rejected = false;
  bool callee_hung_up = false;
  bool worker_hung_up = false;
  parley::v1::Hangup worker_hangup;
  bool ended = false;  // the RPC is over
  absl::Time invite_time;
  absl::Time answer_time;
  absl::Time end_time;
  // Both directions of the call, when PersonaEndpointOptions::keep_recording (set at the end).
  std::shared_ptr<const CallRecording> recording;

  // The events of `kind`, in order.
  std::vector<CallEvent> EventsOf(std::string_view kind) const;
};

// Turns the agent's audio of one turn (16 kHz mono) into text; "" when nothing was recognised.
// May be called from several calls' threads at once.
using Recognizer = std::function<std::string(std::span<const int16_t> pcm)>;

// A live voice for one call, in place of a persona's replies (e.g. a person on the sound card).
// Used from the call's tick thread only; destroyed when the call ends.
class LiveAudio {
 public:
  virtual ~LiveAudio() = default;
  // Fills `frame` (20 ms, 320 samples at 16 kHz) with the callee's next audio; returns false
  // when none is ready this tick (nothing is sent then).
  virtual bool NextFrame(std::span<int16_t> frame) = 0;
  // Takes the next 20 ms of the agent's audio as it is played out (zeros when the agent is
  // silent).
  virtual void Play(std::span<const int16_t> frame) = 0;
};

struct PersonaEndpointOptions {
  // The speech synthesiser, shared; null → the endpoint creates its own.
  speech::EspeakTts* tts = nullptr;
  // Text of the agent's turns, for keyed replies; empty → replies go in order.
  Recognizer recognizer;
  // How the callee tells agent speech from silence.
  speech::VadOptions vad = {.threshold = 0.5, .min_speech_ms = 60, .min_silence_ms = 250};
  // Keep each call's recording in CalleeCall::recording.
  bool keep_recording = false;
  // Write each call's recording to this WAV path at the end of the call ("{call_id}" is replaced
  // by the Invite's call id); empty → none.
  std::string record_path;
  // Stereo WAV (callee left, agent right) instead of both voices mixed to mono.
  bool record_stereo = false;
  // The callee hangs up after this long on the phone, whatever the persona says.
  absl::Duration max_call = absl::Minutes(10);
  // Non-null: every answered call talks through the LiveAudio this returns instead of the
  // persona's replies (the persona still decides ringing and answering; its hang-up rules still
  // apply). A failure hangs the call up from the callee side with "live audio: <message>".
  std::function<absl::StatusOr<std::unique_ptr<LiveAudio>>(const parley::v1::Invite&)> live_audio;
  // Called for every event as it happens, on a call's threads (calls may overlap), without any
  // lock of the endpoint held; must not call back into the endpoint's blocking methods.
  std::function<void(const parley::v1::Invite&, const CallEvent&)> on_event;
};

class PersonaEndpoint final : public parley::v1::MediaEndpoint::Service {
 public:
  // Pre-synthesises the default persona's replies. Fails with what EspeakTts::Create or
  // Synthesize fail with (e.g. INVALID_ARGUMENT for an unknown voice).
  static absl::StatusOr<std::unique_ptr<PersonaEndpoint>> Create(Persona default_persona,
                                                                 PersonaEndpointOptions options);
  ~PersonaEndpoint() override;

  // Calls to `number` (Invite.to) get `persona`; its replies are synthesised now. Fails like
  // Create.
  absl::Status SetPersona(const std::string& number, const Persona& persona);
  // Calls whose Invite.context has `persona: <persona.name>` get `persona`, whatever the number
  // (so one phone serves every scenario: the call's context picks the callee). Synthesises like
  // SetPersona and fails like it.
  absl::Status AddNamedPersona(const Persona& persona);

  // The persona a call with this Invite gets: the named one its context asks for, else the one
  // set for its number, else the default.
  std::string PersonaNameFor(const parley::v1::Invite& invite) const;

  grpc::Status Call(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<parley::v1::MediaMessage, parley::v1::MediaMessage>*
                        stream) override;

  // Every call so far, in Invite order (copies).
  std::vector<CalleeCall> Calls() const;
  // The latest call with this call id, if any.
  std::optional<CalleeCall> Find(const std::string& call_id) const;
  // Waits until `done(Calls())` holds; returns whether it did within `timeout`.
  bool WaitUntil(const std::function<bool(const std::vector<CalleeCall>&)>& done,
                 absl::Duration timeout) const;
  // Calls whose RPC has not ended.
  int LiveCalls() const;
  // Makes every live call hang up now from the callee side (shutdown, test teardown).
  void HangUpAll();

  // A persona with its audio ready to play.
  struct Prepared {
    Persona persona;
    std::vector<std::vector<int16_t>> replies;  // per reply; empty for silence entries
    std::vector<int16_t> greeting;              // voicemail greeting
    std::vector<int16_t> beep;                  // voicemail beep
  };

 private:
  class Leg;
  friend class Leg;

  PersonaEndpoint(PersonaEndpointOptions options, std::unique_ptr<speech::EspeakTts> own_tts);
  absl::StatusOr<std::shared_ptr<const Prepared>> Prepare(const Persona& persona);
  std::shared_ptr<const Prepared> PersonaFor(const parley::v1::Invite& invite) const;

  PersonaEndpointOptions options_;
  std::unique_ptr<speech::EspeakTts> own_tts_;
  speech::EspeakTts* tts_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Prepared> default_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const Prepared>> by_number_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const Prepared>> by_name_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<CalleeCall>> calls_ ABSL_GUARDED_BY(mu_);
  int hangup_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int live_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace parley::callee
