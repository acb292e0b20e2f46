// The network providers a worker can build over HTTP: the language models `openai`, `groq`,
// `cerebras` (OpenAI-compatible) and `ollama` (native /api/chat) from common/llm; the TTS
// providers `piper`, `openai`, `elevenlabs`, `deepgram` and the STT provider `openai` from
// common/speech_http. Each distinct configuration (provider, endpoint, key, model, settings)
// gets one client shared by every call that uses it, so its warm keep-alive connections serve
// them all.
//
//   ProviderRegistry registry;
//   RegisterEmbeddedProviders(registry, {});
//   RegisterNetworkProviders(registry);
#pragma once

#include "services/worker/voice/provider_registry.h"

namespace parley::worker {

// Registers those providers, and the WebSocket speech providers (ws_providers.h). The API key
// is the credential the template section names (`credential`), else the one named like the
// provider; a provider that needs a key (common/providers) and has none fails to build with
// FAILED_PRECONDITION naming the credential.
void RegisterNetworkProviders(ProviderRegistry& registry);

}  // namespace parley::worker
