// The `openai` speech-to-text provider: OpenAI's transcription endpoint (and compatible servers:
// Groq, faster-whisper-server, LocalAI), which is not streaming — each utterance is buffered and
// sent whole when the turn ends, as one multipart/form-data POST {base}/audio/transcriptions with
// `file` (a 16 kHz WAV), `model`, `language`, `prompt` (the expected phrases, as a hint) and
// `response_format=json`; the answer is {"text": "…"}
// (https://platform.openai.com/docs/api-reference/audio/createTranscription).
//
//   PARLEY_ASSIGN_OR_RETURN(auto stt, OpenAiStt::Create({.base_url = "https://api.openai.com/v1",
//                                                        .api_key = key}));
//   PARLEY_ASSIGN_OR_RETURN(auto session, stt->StartSession({.language = "en-US"}));
//   session->StartUtterance(); session->Push(frame); ...
//   PARLEY_ASSIGN_OR_RETURN(std::string text, session->EndUtterance());   // one HTTP request
//
// Partial() is always "" (no interim results). The added latency is the whole request after the
// turn ends; use a streaming provider where that matters.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/llm/http_stream.h"
#include "common/speech/providers.h"

namespace parley::speech_http {

struct OpenAiSttOptions {
  std::string base_url = "https://api.openai.com/v1";
  std::string api_key;  // "Authorization: Bearer <key>"; empty for servers without auth
  std::string model;    // empty: "whisper-1"
  std::string provider = "openai";
  // Bound on one utterance's transcription request.
  absl::Duration timeout = absl::Seconds(15);
  absl::Duration connect_timeout = absl::Seconds(5);
  // Longest utterance kept (audio past it is dropped): the API takes at most 25 MB.
  absl::Duration max_utterance = absl::Seconds(120);
};

// The multipart body for one utterance and its boundary (exposed for tests and the bench).
struct MultipartBody {
  std::string boundary;
  std::string body;
};
MultipartBody BuildTranscriptionBody(std::string_view wav, std::string_view model,
                                     std::string_view language, std::string_view prompt);

class OpenAiStt final : public speech::SpeechToText {
 public:
  // INVALID_ARGUMENT when base_url is not http(s). Does not connect.
  static absl::StatusOr<std::unique_ptr<OpenAiStt>> Create(OpenAiSttOptions options);

  // Never fails (sessions connect per utterance).
  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override;

  // Transcribes 16 kHz samples: the text, "" for an empty clip (no request is made). Fails with
  // UNAVAILABLE (cannot connect, 5xx, a cut-off or malformed answer), DEADLINE_EXCEEDED,
  // CANCELLED, or the HTTP error's mapping (api_error.h). Thread-safe.
  absl::StatusOr<std::string> Transcribe(std::span<const int16_t> pcm, std::string_view language,
                                         std::string_view prompt, const speech::CancelFlag* cancel);

 private:
  explicit OpenAiStt(OpenAiSttOptions options);
  const OpenAiSttOptions options_;
  llm::HttpStream http_;
};

}  // namespace parley::speech_http
