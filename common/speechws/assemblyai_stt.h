// AssemblyAI Universal-Streaming speech-to-text, API v3
// (https://www.assemblyai.com/docs/api-reference/streaming-api/streaming-api and the message
// sequence at https://www.assemblyai.com/docs/streaming/universal-streaming/message-sequence):
// one connection per call opened by StartSession (while the phone rings), which waits for the
// Begin message; raw pcm_s16le audio in binary frames of at least 50 ms; Turn messages carry the
// running transcript (Partial) and end_of_turn; EndUtterance sends ForceEndpoint and returns the
// turn's final (formatted, when format_turns is on) transcript; the session ends with Terminate.
//
//   AssemblyAiStt stt({.api_key = key});
//   PARLEY_ASSIGN_OR_RETURN(auto session, stt.StartSession({}));
//
// Failures: a refused upgrade maps its HTTP status; a close frame (e.g. 1008 unauthorized, 3005)
// or a drop is UNAVAILABLE with the code and reason; an {"error": …} message is UNAVAILABLE.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/time/time.h"
#include "common/speech/providers.h"

namespace parley::speechws {

struct AssemblyAiSttOptions {
  std::string url = "wss://streaming.assemblyai.com/v3/ws";
  std::string api_key;  // sent as the Authorization header, as is
  std::string speech_model = "universal-streaming-english";
  bool format_turns = true;
  nlohmann::json extra = nlohmann::json::object();  // further query parameters
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration finalize_timeout = absl::Milliseconds(1500);
  std::string ca_file;
};

class AssemblyAiStt final : public speech::SpeechToText {
 public:
  explicit AssemblyAiStt(AssemblyAiSttOptions options) : options_(std::move(options)) {}
  // Connects and waits for Begin.
  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override;

 private:
  const AssemblyAiSttOptions options_;
};

}  // namespace parley::speechws
