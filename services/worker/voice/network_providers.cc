#include "services/worker/voice/network_providers.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/json/struct_convert.h"
#include "common/llm/openai_chat.h"
#include "common/providers/registry.h"
#include "common/status/status.h"
#include "services/worker/voice/ws_providers.h"

namespace parley::worker {
namespace {

class LlmClients {
 public:
  absl::StatusOr<std::shared_ptr<speech::LanguageModel>> Get(const parley::v1::LlmConfig& config,
                                                             const Credentials& credentials) {
    const providers::ProviderInfo* info =
        providers::FindProvider(providers::ProviderKind::kLlm, config.provider());
    if (info == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("llm.provider: unknown \"",
                                                     config.provider(), "\""));
    }
    llm::OpenAiChatOptions options;
    options.provider = config.provider();
    options.base_url = config.base_url().empty() ? info->default_base_url : config.base_url();
    std::string credential = config.credential().empty() ? config.provider() : config.credential();
    auto secret = credentials.find(credential);
    if (secret != credentials.end()) options.api_key = secret->second;
    if (info->needs_credential && options.api_key.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("llm ", config.provider(), ": no credential \"", credential, "\""));
    }
    options.model = config.model();
    if (config.has_temperature()) options.temperature = config.temperature();
    if (config.has_max_tokens()) options.max_tokens = config.max_tokens();
    options.extra_body = json::StructToJson(config.options());
    if (!options.extra_body.is_object()) options.extra_body = nlohmann::json::object();
    // The key is part of the identity but never logged; the map is in memory only.
    std::string key = absl::StrCat(options.provider, "\n", options.base_url, "\n", options.api_key,
                                   "\n", options.model, "\n", config.SerializeAsString());
    absl::MutexLock lock(&mu_);
    auto found = clients_.find(key);
    if (found != clients_.end()) return found->second;
    PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<llm::OpenAiChat> client,
                            llm::OpenAiChat::Create(std::move(options)));
    std::shared_ptr<speech::LanguageModel> shared = std::move(client);
    clients_.emplace(std::move(key), shared);
    return shared;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<speech::LanguageModel>> clients_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void RegisterNetworkProviders(ProviderRegistry& registry) {
  auto clients = std::make_shared<LlmClients>();
  for (const char* name : {"openai", "groq", "cerebras", "ollama"}) {
    registry.AddLlm(name, [clients](const parley::v1::LlmConfig& config,
                                    const Credentials& credentials) {
      return clients->Get(config, credentials);
    });
  }
  RegisterWebSocketProviders(registry);
}

}  // namespace parley::worker
