#include "common/speech_http/http_tts.h"

#include <curl/curl.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/llm/api_error.h"
#include "common/speech_http/audio_stream.h"
#include "common/status/status.h"

namespace parley::speech_http {
namespace {

std::string Root(std::string_view base_url) {
  return std::string(absl::StripSuffix(AbslView(base_url), "/"));
}

std::string UrlEscape(std::string_view text) {
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

// The rate of a raw (non-WAV) body, as requested from each provider.
int RawRate(std::string_view provider) { return provider == "openai" ? 24000 : 16000; }

class HttpTts final : public speech::TextToSpeech {
 public:
  explicit HttpTts(HttpTtsOptions options)
      : options_(std::move(options)),
        http_({.provider = options_.provider, .connect_timeout = options_.connect_timeout}) {}

  absl::Status Synthesize(std::string_view text,
                          absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                          const speech::CancelFlag* cancel) override {
    const std::string& provider = options_.provider;
    PARLEY_ASSIGN_OR_RETURN(llm::HttpRequest request, BuildTtsRequest(options_, text));
    AudioStreamDecoder decoder(RawRate(provider));
    // A 200 with JSON is an error description, not audio.
    request.expect_non_json = true;
    absl::StatusOr<llm::HttpResponse> response = http_.Perform(
        request,
        [&](std::string_view bytes) -> absl::Status {
          absl::Status fed = decoder.Feed(bytes, on_audio);
          if (!fed.ok()) return absl::UnavailableError(absl::StrCat(provider, ": ", fed.message()));
          return absl::OkStatus();
        },
        cancel);
    if (!response.ok()) return response.status();
    if (!response->ok()) {
      return llm::StatusFromHttpError(provider, response->status, response->body);
    }
    if (absl::Status s = decoder.Finish(on_audio); !s.ok()) {
      return absl::UnavailableError(absl::StrCat(provider, ": ", s.message()));
    }
    return absl::OkStatus();
  }

 private:
  const HttpTtsOptions options_;
  llm::HttpStream http_;
};

}  // namespace

absl::StatusOr<llm::HttpRequest> BuildTtsRequest(const HttpTtsOptions& options,
                                                 std::string_view text) {
  llm::HttpRequest request;
  request.timeout = options.timeout;
  request.headers.push_back("Content-Type: application/json");
  nlohmann::json body = nlohmann::json::object();
  const std::string root = Root(options.base_url);
  const std::string& p = options.provider;
  if (p == "piper") {
    request.url = absl::StrCat(root, "/");
    request.headers.push_back("Accept: audio/wav");
    body["text"] = text;
    if (!options.voice.empty()) body["voice"] = options.voice;
    // Piper's length_scale is a duration factor: faster speech is a smaller scale.
    if (options.speed && *options.speed > 0) body["length_scale"] = 1.0 / *options.speed;
  } else if (p == "openai") {
    request.url = absl::StrCat(root, "/audio/speech");
    body["model"] = options.model.empty() ? "gpt-4o-mini-tts" : options.model;
    body["input"] = text;
    body["voice"] = options.voice.empty() ? "alloy" : options.voice;
    body["response_format"] = "pcm";
    if (options.speed) body["speed"] = *options.speed;
    if (!options.api_key.empty()) {
      request.headers.push_back(absl::StrCat("Authorization: Bearer ", options.api_key));
    }
  } else if (p == "elevenlabs") {
    if (options.voice.empty()) {
      return InvalidField("tts.voice", "elevenlabs needs a voice id");
    }
    request.url = absl::StrCat(root, "/text-to-speech/", UrlEscape(options.voice),
                               "/stream?output_format=pcm_16000");
    body["text"] = text;
    body["model_id"] = options.model.empty() ? "eleven_flash_v2_5" : options.model;
    nlohmann::json settings = nlohmann::json::object();
    if (options.stability) settings["stability"] = *options.stability;
    if (options.speed) settings["speed"] = *options.speed;
    if (!settings.empty()) body["voice_settings"] = std::move(settings);
    if (!options.api_key.empty()) {
      request.headers.push_back(absl::StrCat("xi-api-key: ", options.api_key));
    }
  } else if (p == "deepgram") {
    std::string model = !options.model.empty()   ? options.model
                        : !options.voice.empty() ? options.voice
                                                 : "aura-2-thalia-en";
    request.url = absl::StrCat(root, "?model=", UrlEscape(model),
                               "&encoding=linear16&sample_rate=16000&container=none");
    body["text"] = text;
    if (!options.api_key.empty()) {
      request.headers.push_back(absl::StrCat("Authorization: Token ", options.api_key));
    }
  } else {
    return InvalidField("tts.provider", absl::StrCat("no HTTP provider \"", p, "\""));
  }
  for (const auto& [key, value] : options.extra_body.items()) body[key] = value;
  request.body = body.dump();
  return request;
}

absl::StatusOr<std::unique_ptr<speech::TextToSpeech>> CreateHttpTts(HttpTtsOptions options) {
  if (!absl::StartsWith(options.base_url, "http://") &&
      !absl::StartsWith(options.base_url, "https://")) {
    return InvalidField("tts.base_url", absl::StrCat("must be an http:// or https:// URL, got \"",
                                                     options.base_url, "\""));
  }
  if (!options.extra_body.is_object()) return InvalidField("tts.options", "must be an object");
  PARLEY_RETURN_IF_ERROR(BuildTtsRequest(options, "probe").status());
  return std::unique_ptr<speech::TextToSpeech>(new HttpTts(std::move(options)));
}

}  // namespace parley::speech_http
