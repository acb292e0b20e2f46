// The one list of speech and language providers Parley knows, per kind.
//
// config-api validates template provider names against it; the worker's provider factories are
// keyed by the same names, so a name accepted in a template is always one a worker can build.
// Adding a provider starts here.
//
//   const ProviderInfo* p = FindProvider(ProviderKind::kStt, spec.provider());
//   if (p == nullptr) {
//     return InvalidField("template.stt.provider",
//                         absl::StrCat("unknown stt provider \"", spec.provider(),
//                                      "\" (known: ", KnownProviderNames(ProviderKind::kStt),
//                                      ")"));
//   }
//   if (p->needs_credential) { ... look up the API key ... }
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::providers {

// What a provider does in the voice pipeline.
enum class ProviderKind { kStt, kTts, kLlm };

// One provider of one kind. A name may appear under several kinds (`openai`, `deepgram`).
struct ProviderInfo {
  ProviderKind kind;
  // Name used in templates ("pocketsphinx", "openai").
  std::string name;
  // Runs inside the worker process with no network access at all.
  bool embedded;
  // Needs an API key (a credential resource); LAN/self-hosted servers and embedded engines don't.
  bool needs_credential;
  // Endpoint used when the template sets no `base_url`; empty for embedded providers.
  std::string default_base_url;
  // One line for humans (CLI listings, docs).
  std::string description;
};

// Every known provider, grouped by kind (stt, tts, llm) in a stable order; embedded first.
const std::vector<ProviderInfo>& KnownProviders();

// The provider of `kind` named exactly `name` (case-sensitive), or nullptr if there is none.
// The pointer stays valid for the life of the process.
const ProviderInfo* FindProvider(ProviderKind kind, std::string_view name);

// The names of every provider of `kind`, comma-separated in registry order, for error messages:
// "pocketsphinx, whisperlive, deepgram, assemblyai, openai".
std::string KnownProviderNames(ProviderKind kind);

// The kind as spelled in templates and messages: "stt", "tts" or "llm".
std::string_view KindName(ProviderKind kind);

}  // namespace parley::providers
