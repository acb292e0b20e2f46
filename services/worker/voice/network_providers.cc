#include "services/worker/voice/network_providers.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/json/struct_convert.h"
#include "common/llm/ollama_chat.h"
#include "common/llm/openai_chat.h"
#include "common/providers/registry.h"
#include "common/speech_http/http_tts.h"
#include "common/speech_http/openai_stt.h"
#include "common/status/status.h"
#include "services/worker/voice/ws_providers.h"

namespace parley::worker {
namespace {

// One shared client per distinct configuration, so its warm connections serve every call that
// uses it. The key includes the secret but is never logged; the map is in memory only.
template <typename T>
class ClientCache {
 public:
  template <typename Make>
  absl::StatusOr<std::shared_ptr<T>> Get(const std::string& key, Make make) {
    absl::MutexLock lock(&mu_);
    auto found = clients_.find(key);
    if (found != clients_.end()) return found->second;
    absl::StatusOr<std::shared_ptr<T>> made = make();
    if (made.ok()) clients_.emplace(key, *made);
    return made;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<T>> clients_ ABSL_GUARDED_BY(mu_);
};

struct Endpoint {
  std::string base_url;
  std::string api_key;
};

// The provider's endpoint and key for a template section: base_url or the registry default; the
// key of the named credential, else the one named like the provider. FAILED_PRECONDITION when
// the provider needs a key and there is none.
template <typename Config>
absl::StatusOr<Endpoint> ResolveEndpoint(providers::ProviderKind kind, const Config& config,
                                         const Credentials& credentials) {
  std::string_view kind_name = providers::KindName(kind);
  const providers::ProviderInfo* info = providers::FindProvider(kind, config.provider());
  if (info == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(kind_name), ".provider: unknown \"", config.provider(), "\""));
  }
  Endpoint endpoint;
  endpoint.base_url = config.base_url().empty() ? info->default_base_url : config.base_url();
  std::string credential = config.credential().empty() ? config.provider() : config.credential();
  auto secret = credentials.find(credential);
  if (secret != credentials.end()) endpoint.api_key = secret->second;
  if (info->needs_credential && endpoint.api_key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(AbslView(kind_name), " ", config.provider(),
                                                      ": no credential \"", credential, "\""));
  }
  return endpoint;
}

nlohmann::json OptionsJson(const google::protobuf::Struct& options) {
  nlohmann::json out = json::StructToJson(options);
  return out.is_object() ? out : nlohmann::json::object();
}

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
