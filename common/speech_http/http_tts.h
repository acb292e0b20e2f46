// The HTTP text-to-speech providers: one POST per sentence, the audio streamed back and handed to
// the pipeline as it arrives (resampled to 16 kHz when the provider speaks at another rate).
//
//   provider    request (doc)                                                      audio back
//   piper       POST {base}/ {"text","voice","speaker_id","length_scale"}           WAV, voice rate
//               (https://github.com/OHF-Voice/piper1-gpl/blob/main/docs/API_HTTP.md)
//   openai      POST {base}/audio/speech {"model","input","voice",                  PCM 24 kHz
//               "response_format":"pcm","speed"}, Authorization: Bearer
//               (https://platform.openai.com/docs/api-reference/audio/createSpeech)
//   elevenlabs  POST {base}/text-to-speech/{voice}/stream?output_format=pcm_16000   PCM 16 kHz
//               {"text","model_id","voice_settings"}, xi-api-key
//               (https://elevenlabs.io/docs/api-reference/text-to-speech/stream)
//   deepgram    POST {base}?model=…&encoding=linear16&sample_rate=16000&container=none
//               {"text"}, Authorization: Token                                     PCM 16 kHz
//               (https://developers.deepgram.com/reference/text-to-speech/speak-request)
//
// A body starting with "RIFF" is read as WAV whatever was asked for (its header gives the rate),
// so a server that ignores the raw-PCM request still works.
//
//   PARLEY_ASSIGN_OR_RETURN(auto tts, CreateHttpTts({.provider = "piper",
//                                                    .base_url = "http://piper:5000"}));
//   PARLEY_RETURN_IF_ERROR(tts->Synthesize("Hello.", [&](std::span<const int16_t> pcm) {
//     queue.Append(pcm); }, &cancel));
//
// Connections stay warm between sentences (common/llm/http_stream.h); a raised CancelFlag drops
// the transfer and its connection, so the provider stops synthesising.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/llm/http_stream.h"
#include "common/speech/providers.h"

namespace parley::speech_http {

struct HttpTtsOptions {
  // "piper", "openai", "elevenlabs" or "deepgram".
  std::string provider;
  // Provider root: "http://piper:5000", "https://api.openai.com/v1",
  // "https://api.elevenlabs.io/v1", "https://api.deepgram.com/v1/speak".
  std::string base_url;
  std::string api_key;
  // Voice name/id (piper voice, openai voice, elevenlabs voice_id; deepgram: the model when
  // `model` is empty). Empty: the provider's default where it has one.
  std::string voice;
  std::string model;
  std::optional<double> speed;      // 1 = normal
  std::optional<double> stability;  // elevenlabs voice_settings.stability
  // Extra top-level body fields (the template's `tts.options`), merged last.
  nlohmann::json extra_body = nlohmann::json::object();
  // Bound on one sentence's synthesis, request to last byte.
  absl::Duration timeout = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(5);
};

// The request for one sentence (exposed for tests and the bench). INVALID_ARGUMENT for an
// unknown provider or a missing required setting (elevenlabs needs a voice).
absl::StatusOr<llm::HttpRequest> BuildTtsRequest(const HttpTtsOptions& options,
                                                 std::string_view text);

// The provider. INVALID_ARGUMENT for an unknown provider, a base_url that is not http(s), or
// extra_body not an object. Does not connect. Synthesize fails with CANCELLED, UNAVAILABLE
// (cannot connect, 5xx, audio cut off mid-stream, a malformed WAV), DEADLINE_EXCEEDED, or the
// provider's HTTP error mapped as in common/llm/api_error.h (401 → UNAUTHENTICATED …).
absl::StatusOr<std::unique_ptr<speech::TextToSpeech>> CreateHttpTts(HttpTtsOptions options);

}  // namespace parley::speech_http
