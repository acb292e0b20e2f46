// The streaming speech providers spoken over WebSocket (common/speechws), by template name:
// stt `deepgram`, `assemblyai`, `whisperlive`; tts `cartesia`. One provider object per distinct
// configuration (provider, endpoint, key, settings) is shared by every call using it, so
// Cartesia's warm connections serve them all; building a Cartesia provider for a call opens a
// connection in the background (while the phone rings) when none is idle. Recognisers connect
// in StartSession, which the pipeline calls while the phone rings.
//
//   ProviderRegistry registry;
//   RegisterEmbeddedProviders(registry, {});
//   RegisterNetworkProviders(registry);  // calls RegisterWebSocketProviders
//
// Template fields: `provider`, `model`, `language` (stt), `voice` (tts, the Cartesia voice id),
// `base_url` (default: common/providers' endpoint), `credential` (default: the credential named
// like the provider), `options` (extra query parameters for deepgram/assemblyai, extra members
// of WhisperLive's options message and of Cartesia's generation request; `cartesia_version`
// sets Cartesia's API version, `endpointing_ms` Deepgram's endpointing).
#pragma once

#include "services/worker/voice/provider_registry.h"

namespace parley::worker {

// Registers the WebSocket providers. A provider that needs a key and has none fails to build
// with FAILED_PRECONDITION naming the credential (the chain moves on to its fallback).
void RegisterWebSocketProviders(ProviderRegistry& registry);

}  // namespace parley::worker
