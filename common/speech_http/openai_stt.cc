#include "common/speech_http/openai_stt.h"

#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/audio/pcm.h"
#include "common/audio/wav.h"
#include "common/llm/api_error.h"
#include "common/status/status.h"

namespace parley::speech_http {
namespace {

constexpr size_t kMaxPromptBytes = 600;

// The API wants ISO-639-1 ("en"), templates carry BCP-47 ("en-US").
std::string Iso639(std::string_view language) {
  std::string_view primary = language.substr(0, language.find_first_of("-_"));
  return absl::AsciiStrToLower(AbslView(primary));
}

class OpenAiSttSession final : public speech::SttSession {
 public:
  OpenAiSttSession(OpenAiStt* stt, speech::SttSessionOptions options, size_t max_samples)
      : stt_(stt), options_(std::move(options)), max_samples_(max_samples) {}

  absl::Status SetPhrases(const std::vector<std::string>& phrases) override {
    options_.phrases = phrases;
    return absl::OkStatus();
  }
  absl::Status StartUtterance() override {
    samples_.clear();
    return absl::OkStatus();
  }
  absl::Status Push(std::span<const int16_t> pcm) override {
    size_t room = max_samples_ - std::min(max_samples_, samples_.size());
    samples_.insert(samples_.end(), pcm.begin(), pcm.begin() + std::min(room, pcm.size()));
    return absl::OkStatus();
  }
  std::string Partial() override { return ""; }
  absl::StatusOr<std::string> EndUtterance() override {
    std::vector<int16_t> samples = std::move(samples_);
    samples_.clear();
    // Whisper reads only the last ~224 tokens of a prompt; a short hint is all it needs.
    std::string prompt = absl::StrJoin(options_.phrases, ", ");
    if (prompt.size() > kMaxPromptBytes) {
      size_t cut = prompt.rfind(", ", kMaxPromptBytes);
      prompt.resize(cut == std::string::npos ? kMaxPromptBytes : cut);
    }
    return stt_->Transcribe(samples, options_.language, prompt, nullptr);
  }

 private:
  OpenAiStt* const stt_;
  speech::SttSessionOptions options_;
  const size_t max_samples_;
  std::vector<int16_t> samples_;
};

}  // namespace

MultipartBody BuildTranscriptionBody(std::string_view wav, std::string_view model,
                                     std::string_view language, std::string_view prompt) {
  static thread_local std::mt19937_64 random(std::random_device{}());
  MultipartBody out;
  out.boundary = absl::StrCat("parley-", random(), random());
  auto field = [&](std::string_view name, std::string_view value) {
    absl::StrAppend(&out.body, "--", out.boundary, "\r\nContent-Disposition: form-data; name=\"",
                    AbslView(name), "\"\r\n\r\n", AbslView(value), "\r\n");
  };
  absl::StrAppend(&out.body, "--", out.boundary,
                  "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\""
                  "\r\nContent-Type: audio/wav\r\n\r\n");
  out.body.append(wav);
  out.body.append("\r\n");
  field("model", model);
  if (!language.empty()) field("language", language);
  if (!prompt.empty()) field("prompt", prompt);
  field("response_format", "json");
  absl::StrAppend(&out.body, "--", out.boundary, "--\r\n");
  return out;
}

absl::StatusOr<std::unique_ptr<OpenAiStt>> OpenAiStt::Create(OpenAiSttOptions options) {
  if (!absl::StartsWith(options.base_url, "http://") &&
      !absl::StartsWith(options.base_url, "https://")) {
    return InvalidField("stt.base_url", absl::StrCat("must be an http:// or https:// URL, got \"",
                                                     options.base_url, "\""));
  }
  return std::unique_ptr<OpenAiStt>(new OpenAiStt(std::move(options)));
}

OpenAiStt::OpenAiStt(OpenAiSttOptions options)
    : options_(std::move(options)),
      http_({.provider = options_.provider, .connect_timeout = options_.connect_timeout}) {}

absl::StatusOr<std::unique_ptr<speech::SttSession>> OpenAiStt::StartSession(
    const speech::SttSessionOptions& options) {
  size_t max_samples =
      static_cast<size_t>(absl::ToInt64Seconds(options_.max_utterance)) * audio::kPipelineRate;
  return std::unique_ptr<speech::SttSession>(
      std::make_unique<OpenAiSttSession>(this, options, max_samples));
}

absl::StatusOr<std::string> OpenAiStt::Transcribe(std::span<const int16_t> pcm,
                                                  std::string_view language,
                                                  std::string_view prompt,
                                                  const speech::CancelFlag* cancel) {
  const std::string& provider = options_.provider;
  if (pcm.empty()) return std::string();
  MultipartBody multipart = BuildTranscriptionBody(
      audio::EncodeWav(pcm, audio::kPipelineRate),
      options_.model.empty() ? "whisper-1" : options_.model, Iso639(language), prompt);
  llm::HttpRequest request{
      .url = absl::StrCat(absl::StripSuffix(AbslView(options_.base_url), "/"),
                          "/audio/transcriptions"),
      .headers = {absl::StrCat("Content-Type: multipart/form-data; boundary=", multipart.boundary),
                  "Accept: application/json"},
      .body = std::move(multipart.body),
      .timeout = options_.timeout};
  if (!options_.api_key.empty()) {
    request.headers.push_back(absl::StrCat("Authorization: Bearer ", options_.api_key));
  }
  std::string body;
  PARLEY_ASSIGN_OR_RETURN(llm::HttpResponse response, http_.Perform(
                                                          request,
                                                          [&](std::string_view bytes) {
                                                            body.append(bytes);
                                                            return absl::OkStatus();
                                                          },
                                                          cancel));
  if (!response.ok()) return llm::StatusFromHttpError(provider, response.status, response.body);
  nlohmann::json answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("text") ||
      !answer["text"].is_string()) {
    return absl::UnavailableError(
        absl::StrCat(provider, ": transcription answer without text: ", body.substr(0, 200)));
  }
  return std::string(absl::StripAsciiWhitespace(answer["text"].get<std::string>()));
}

}  // namespace parley::speech_http
