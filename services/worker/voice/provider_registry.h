// Builds a call's speech and language providers from its template by provider name, and wraps
// each template section's fallback chain so a failing provider hands over to the next one and the
// call's events say so (DESIGN.md, "Media and the voice pipeline"). A provider that keeps failing
// across calls has its circuit opened (circuit_breaker.h) and is skipped until a probe succeeds.
//
//   ProviderRegistry registry;
//   RegisterEmbeddedProviders(registry, {});        // espeak, pocketsphinx, scripted
//   registry.AddLlm("openai", MakeOpenAiLlm);      // further providers by name
//   PARLEY_ASSIGN_OR_RETURN(CallProviders providers,
//       registry.Build(template_spec, runtime_config.credentials(),
//                      [&](const Fallback& f) { host.AppendEvent("provider_fallback", …); }));
//
// Names are those of common/providers (the list config-api validates templates against); a name
// known there but not registered here fails the call with UNIMPLEMENTED naming it. Makers are
// called per call and should share expensive state (models, warm connections) between calls.
// Thread-safe once registration is over.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/speech/providers.h"
#include "parley/v1/config.pb.h"
#include "services/worker/voice/circuit_breaker.h"

namespace parley::worker {

// A provider gave up and the next one in the chain took over.
struct Fallback {
  std::string kind;  // "stt", "tts", "llm"
  std::string from;  // provider name that failed
  std::string to;    // provider name used instead
  std::string error;
  // Why: "error" (`from` failed with `error`) or "circuit_open" (`from` failed repeatedly on
  // recent calls and was not tried; `error` says how often and when it is probed again).
  std::string reason = "error";
};
using FallbackObserver = std::function<void(const Fallback&)>;

// Secrets by credential name (RuntimeConfig.credentials, decrypted for workers).
using Credentials = google::protobuf::Map<std::string, std::string>;

struct CallProviders {
  std::shared_ptr<speech::SpeechToText> stt;
  std::shared_ptr<speech::TextToSpeech> tts;
  // Null for the `scripted` policy (the graph speaks its own lines).
  std::shared_ptr<speech::LanguageModel> llm;
};

class ProviderRegistry final {
 public:
  // `breakers`: when a provider's circuit opens (circuit_breaker.h); shared by every call built
  // here, keyed by kind, provider name and base_url.
  explicit ProviderRegistry(CircuitBreakerOptions breakers = {})
      : breakers_(std::make_shared<CircuitBreakers>(std::move(breakers))) {}

  using SttMaker = std::function<absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(
      const parley::v1::SttConfig&, const Credentials&)>;
  using TtsMaker = std::function<absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(
      const parley::v1::TtsConfig&, const Credentials&)>;
  // May return null: a policy without a language model (`scripted`).
  using LlmMaker = std::function<absl::StatusOr<std::shared_ptr<speech::LanguageModel>>(
      const parley::v1::LlmConfig&, const Credentials&)>;

  // Registers (or replaces) the maker of a provider name.
  void AddStt(std::string name, SttMaker maker) { stt_[std::move(name)] = std::move(maker); }
  void AddTts(std::string name, TtsMaker maker) { tts_[std::move(name)] = std::move(maker); }
  void AddLlm(std::string name, LlmMaker maker) { llm_[std::move(name)] = std::move(maker); }

  // The providers of one call, each the head of its section's chain (the provider, then its
  // `fallbacks` in order). A provider that cannot be built is skipped for the next one (reported
  // to `on_fallback`); fails when no provider of a section can be built — UNIMPLEMENTED for
  // names this worker has no maker for, else the last maker's error. `on_fallback` may be called
  // from any thread the providers are used on, until the providers are destroyed.
  absl::StatusOr<CallProviders> Build(const parley::v1::TemplateSpec& spec,
                                      const Credentials& credentials,
                                      FallbackObserver on_fallback) const;

 private:
  std::map<std::string, SttMaker> stt_;
  std::map<std::string, TtsMaker> tts_;
  std::map<std::string, LlmMaker> llm_;
  std::shared_ptr<CircuitBreakers> breakers_;
};

}  // namespace parley::worker
