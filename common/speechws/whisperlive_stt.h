// WhisperLive (https://github.com/collabora/WhisperLive, its README and whisper_live/client.py
// define the protocol): a self-hosted streaming Whisper server. One connection per call, opened by
// StartSession while the phone rings: a JSON options message (uid, language, task, model, use_vad),
// then SERVER_READY from the server (or WAIT when it is full, ERROR when the model fails to
// load); audio as float32 16 kHz mono frames; the server sends {"segments": [{start, end, text,
// completed}]} updates with times in seconds of the stream; the session ends with END_OF_AUDIO.
// WhisperLive has no "finalize": EndUtterance waits until a segment reaches the utterance's end
// (less `end_slack`) or `final_timeout` passes, and returns the text of the utterance's segments.
//
//   WhisperLiveStt stt({.url = "ws://whisper:9090", .model = "small"});
//   PARLEY_ASSIGN_OR_RETURN(auto session, stt.StartSession({.language = "en"}));
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/time/time.h"
#include "common/speech/providers.h"

namespace parley::speechws {

struct WhisperLiveSttOptions {
  std::string url = "ws://localhost:9090";
  std::string model = "small";
  std::string language;  // "en"; empty: detected (the session's language wins when set)
  bool use_vad = false;  // the pipeline's VAD already gates the audio
  nlohmann::json extra = nlohmann::json::object();  // merged into the options message
  absl::Duration connect_timeout = absl::Seconds(5);
  // SERVER_READY can take a model load.
  absl::Duration ready_timeout = absl::Seconds(30);
  absl::Duration final_timeout = absl::Milliseconds(1500);
  absl::Duration end_slack = absl::Milliseconds(500);
};

class WhisperLiveStt final : public speech::SpeechToText {
 public:
  explicit WhisperLiveStt(WhisperLiveSttOptions options) : options_(std::move(options)) {}
  // Connects, sends the options and waits for SERVER_READY. RESOURCE_EXHAUSTED when the server
  // answers WAIT, UNAVAILABLE on ERROR or a closed connection.
  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override;

 private:
  const WhisperLiveSttOptions options_;
};

}  // namespace parley::speechws
