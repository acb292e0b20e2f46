// Deepgram streaming speech-to-text over its WebSocket API
// (https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming): one
// connection per call, opened by StartSession while the phone rings and kept alive between
// utterances with KeepAlive messages; 16 kHz linear16 audio as binary frames; interim results
// feed Partial; EndUtterance sends Finalize and returns the final results (from_finalize), and
// the session ends with CloseStream.
//
//   DeepgramStt stt({.api_key = key, .model = "nova-3", .language = "en-US"});
//   PARLEY_ASSIGN_OR_RETURN(auto session, stt.StartSession({}));
//   session->StartUtterance(); session->Push(frame); …
//   PARLEY_ASSIGN_OR_RETURN(std::string text, session->EndUtterance());
//
// Failures are statuses: a refused upgrade (401 → UNAUTHENTICATED, …), a close frame (1008
// DATA-0000, 1011 NET-0001) or a dropped connection → UNAVAILABLE, so a fallback chain takes over.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/time/time.h"
#include "common/speech/providers.h"

namespace parley::speechws {

struct DeepgramSttOptions {
  std::string url = "wss://api.deepgram.com/v1/listen";
  std::string api_key;   // sent as "Authorization: Token <key>"
  std::string model;     // "nova-3"; empty: Deepgram's default
  std::string language;  // "en-US"; the session's language wins when set
  int endpointing_ms = 300;
  // Extra query parameters from the template's options (smart_format, keyterm, …).
  nlohmann::json extra = nlohmann::json::object();
  absl::Duration connect_timeout = absl::Seconds(5);
  // How long EndUtterance waits for the finalized results.
  absl::Duration finalize_timeout = absl::Milliseconds(1500);
  absl::Duration keepalive_interval = absl::Seconds(4);
  std::string ca_file;  // tests only
};

class DeepgramStt final : public speech::SpeechToText {
 public:
  explicit DeepgramStt(DeepgramSttOptions options) : options_(std::move(options)) {}
  // Connects. Fails like the file comment says.
  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override;

 private:
  const DeepgramSttOptions options_;
};

}  // namespace parley::speechws
