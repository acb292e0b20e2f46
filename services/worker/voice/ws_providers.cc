#include "services/worker/voice/ws_providers.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/providers/registry.h"
#include "common/speechws/assemblyai_stt.h"
#include "common/speechws/cartesia_tts.h"
#include "common/speechws/deepgram_stt.h"
#include "common/speechws/whisperlive_stt.h"
#include "common/status/status.h"
#include "services/worker/voice/provider_config.h"

namespace parley::worker {
namespace {

struct Resolved {
  std::string url;
  std::string key;
  nlohmann::json options;
};

// The endpoint, key and options of one template section.
template <typename Config>
absl::StatusOr<Resolved> Resolve(providers::ProviderKind kind, const Config& config,
                                 const Credentials& credentials) {
  PARLEY_ASSIGN_OR_RETURN(Endpoint endpoint, ResolveEndpoint(kind, config, credentials));
  return Resolved{std::move(endpoint.base_url), std::move(endpoint.api_key),
                  OptionsJson(config.options())};
}

// Takes `name` out of `options` (a number), or `fallback`.
int TakeInt(nlohmann::json& options, const char* name, int fallback) {
  if (!options.contains(name) || !options[name].is_number()) return fallback;
  int value = options[name].get<int>();
  options.erase(name);
  return value;
}

}  // namespace

void RegisterWebSocketProviders(ProviderRegistry& registry) {
  auto stt_cache = std::make_shared<ClientCache<speech::SpeechToText>>();
  auto tts_cache = std::make_shared<ClientCache<speechws::CartesiaTts>>();
  using Stt = absl::StatusOr<std::shared_ptr<speech::SpeechToText>>;

  registry.AddStt(
      "deepgram",
      [stt_cache](const parley::v1::SttConfig& config, const Credentials& credentials) -> Stt {
        PARLEY_ASSIGN_OR_RETURN(Resolved r,
                                Resolve(providers::ProviderKind::kStt, config, credentials));
        speechws::DeepgramSttOptions options;
        options.url = r.url;
        options.api_key = r.key;
        options.model = config.model();
        options.language = config.language();
        options.endpointing_ms = TakeInt(r.options, "endpointing_ms", options.endpointing_ms);
        options.extra = r.options;
        return stt_cache->Get(absl::StrCat("deepgram\n", r.key, "\n", config.SerializeAsString()),
                              [&] { return std::make_shared<speechws::DeepgramStt>(options); });
      });
  registry.AddStt(
      "assemblyai",
      [stt_cache](const parley::v1::SttConfig& config, const Credentials& credentials) -> Stt {
        PARLEY_ASSIGN_OR_RETURN(Resolved r,
                                Resolve(providers::ProviderKind::kStt, config, credentials));
        speechws::AssemblyAiSttOptions options;
        options.url = r.url;
        options.api_key = r.key;
        if (!config.model().empty()) options.speech_model = config.model();
        if (r.options.contains("format_turns") && r.options["format_turns"].is_boolean()) {
          options.format_turns = r.options["format_turns"].get<bool>();
          r.options.erase("format_turns");
        }
        options.extra = r.options;
        return stt_cache->Get(absl::StrCat("assemblyai\n", r.key, "\n", config.SerializeAsString()),
                              [&] { return std::make_shared<speechws::AssemblyAiStt>(options); });
      });
  registry.AddStt(
      "whisperlive",
      [stt_cache](const parley::v1::SttConfig& config, const Credentials& credentials) -> Stt {
        PARLEY_ASSIGN_OR_RETURN(Resolved r,
                                Resolve(providers::ProviderKind::kStt, config, credentials));
        speechws::WhisperLiveSttOptions options;
        options.url = r.url;
        if (!config.model().empty()) options.model = config.model();
        options.language = config.language();
        if (r.options.contains("use_vad") && r.options["use_vad"].is_boolean()) {
          options.use_vad = r.options["use_vad"].get<bool>();
          r.options.erase("use_vad");
        }
        options.extra = r.options;
        return stt_cache->Get(absl::StrCat("whisperlive\n", config.SerializeAsString()),
                              [&] { return std::make_shared<speechws::WhisperLiveStt>(options); });
      });
  registry.AddTts(
      "cartesia",
      [tts_cache](const parley::v1::TtsConfig& config, const Credentials& credentials)
          -> absl::StatusOr<std::shared_ptr<speech::TextToSpeech>> {
        PARLEY_ASSIGN_OR_RETURN(Resolved r,
                                Resolve(providers::ProviderKind::kTts, config, credentials));
        if (config.voice().empty()) {
          return absl::FailedPreconditionError(
              "tts cartesia: `voice` (a Cartesia voice id) is required");
        }
        speechws::CartesiaTtsOptions options;
        // The registry's default is the REST base; the WebSocket lives under /tts/websocket.
        options.url = r.url;
        if (!absl::StrContains(options.url, "/tts/websocket")) {
          while (!options.url.empty() && options.url.back() == '/') options.url.pop_back();
          absl::StrAppend(&options.url, "/tts/websocket");
        }
        options.api_key = r.key;
        options.voice = config.voice();
        if (!config.model().empty()) options.model = config.model();
        if (r.options.contains("cartesia_version") && r.options["cartesia_version"].is_string()) {
          options.version = r.options["cartesia_version"].get<std::string>();
          r.options.erase("cartesia_version");
        }
        if (r.options.contains("language") && r.options["language"].is_string()) {
          options.language = r.options["language"].get<std::string>();
          r.options.erase("language");
        }
        options.extra = r.options;
        PARLEY_ASSIGN_OR_RETURN(
            std::shared_ptr<speechws::CartesiaTts> tts,
            tts_cache->Get(absl::StrCat("cartesia\n", r.key, "\n", config.SerializeAsString()),
                           [&] { return std::make_shared<speechws::CartesiaTts>(options); }));
        tts->Preconnect();  // while the phone rings
        return std::shared_ptr<speech::TextToSpeech>(tts);
      });
}

}  // namespace parley::worker
