#include "services/worker/voice/network_providers.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/llm/ollama_chat.h"
#include "common/llm/openai_chat.h"
#include "common/providers/registry.h"
#include "common/speech_http/http_tts.h"
#include "common/speech_http/openai_stt.h"
#include "common/status/status.h"
#include "services/worker/voice/provider_config.h"
#include "services/worker/voice/ws_providers.h"

namespace parley::worker {
namespace {

struct Caches {
  ClientCache<speech::LanguageModel> llm;
  ClientCache<speech::TextToSpeech> tts;
  ClientCache<speech::SpeechToText> stt;
};

absl::StatusOr<std::shared_ptr<speech::LanguageModel>> MakeLlm(Caches& caches,
                                                               const parley::v1::LlmConfig& config,
                                                               const Credentials& credentials) {
  PARLEY_ASSIGN_OR_RETURN(Endpoint endpoint,
                          ResolveEndpoint(providers::ProviderKind::kLlm, config, credentials));
  std::string key = absl::StrCat(config.provider(), "\n", endpoint.base_url, "\n", endpoint.api_key,
                                 "\n", config.SerializeAsString());
  return caches.llm.Get(key, [&]() -> absl::StatusOr<std::shared_ptr<speech::LanguageModel>> {
    std::optional<double> temperature;
    std::optional<int> max_tokens;
    if (config.has_temperature()) temperature = config.temperature();
    if (config.has_max_tokens()) max_tokens = config.max_tokens();
    if (config.provider() == "ollama") {
      PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<llm::OllamaChat> client,
                              llm::OllamaChat::Create({.base_url = endpoint.base_url,
                                                       .api_key = endpoint.api_key,
                                                       .model = config.model(),
                                                       .temperature = temperature,
                                                       .max_tokens = max_tokens,
                                                       .extra_body = OptionsJson(config.options()),
                                                       .provider = config.provider()}));
      return std::shared_ptr<speech::LanguageModel>(std::move(client));
    }
    PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<llm::OpenAiChat> client,
                            llm::OpenAiChat::Create({.base_url = endpoint.base_url,
                                                     .api_key = endpoint.api_key,
                                                     .model = config.model(),
                                                     .temperature = temperature,
                                                     .max_tokens = max_tokens,
                                                     .extra_body = OptionsJson(config.options()),
                                                     .provider = config.provider()}));
    return std::shared_ptr<speech::LanguageModel>(std::move(client));
  });
}

absl::StatusOr<std::shared_ptr<speech::TextToSpeech>> MakeHttpTts(
    Caches& caches, const parley::v1::TtsConfig& config, const Credentials& credentials) {
  PARLEY_ASSIGN_OR_RETURN(Endpoint endpoint,
                          ResolveEndpoint(providers::ProviderKind::kTts, config, credentials));
  std::string key = absl::StrCat(config.provider(), "\n", endpoint.base_url, "\n", endpoint.api_key,
                                 "\n", config.SerializeAsString());
  return caches.tts.Get(key, [&]() -> absl::StatusOr<std::shared_ptr<speech::TextToSpeech>> {
    speech_http::HttpTtsOptions options{.provider = config.provider(),
                                        .base_url = endpoint.base_url,
                                        .api_key = endpoint.api_key,
                                        .voice = config.voice(),
                                        .model = config.model(),
                                        .extra_body = OptionsJson(config.options())};
    if (config.has_speed()) options.speed = config.speed();
    if (config.has_stability()) options.stability = config.stability();
    PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<speech::TextToSpeech> tts,
                            speech_http::CreateHttpTts(std::move(options)));
    return std::shared_ptr<speech::TextToSpeech>(std::move(tts));
  });
}

absl::StatusOr<std::shared_ptr<speech::SpeechToText>> MakeOpenAiStt(
    Caches& caches, const parley::v1::SttConfig& config, const Credentials& credentials) {
  PARLEY_ASSIGN_OR_RETURN(Endpoint endpoint,
                          ResolveEndpoint(providers::ProviderKind::kStt, config, credentials));
  std::string key = absl::StrCat(config.provider(), "\n", endpoint.base_url, "\n", endpoint.api_key,
                                 "\n", config.model());
  return caches.stt.Get(key, [&]() -> absl::StatusOr<std::shared_ptr<speech::SpeechToText>> {
    PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<speech_http::OpenAiStt> stt,
                            speech_http::OpenAiStt::Create({.base_url = endpoint.base_url,
                                                            .api_key = endpoint.api_key,
                                                            .model = config.model(),
                                                            .provider = config.provider()}));
    return std::shared_ptr<speech::SpeechToText>(std::move(stt));
  });
}

}  // namespace

void RegisterNetworkProviders(ProviderRegistry& registry) {
  auto caches = std::make_shared<Caches>();
  for (const char* name : {"openai", "groq", "cerebras", "ollama"}) {
    registry.AddLlm(name,
                    [caches](const parley::v1::LlmConfig& config, const Credentials& credentials) {
                      return MakeLlm(*caches, config, credentials);
                    });
  }
  for (const char* name : {"piper", "openai", "elevenlabs", "deepgram"}) {
    registry.AddTts(name,
                    [caches](const parley::v1::TtsConfig& config, const Credentials& credentials) {
                      return MakeHttpTts(*caches, config, credentials);
                    });
  }
  registry.AddStt("openai",
                  [caches](const parley::v1::SttConfig& config, const Credentials& credentials) {
                    return MakeOpenAiStt(*caches, config, credentials);
                  });
  RegisterWebSocketProviders(registry);
}

}  // namespace parley::worker
