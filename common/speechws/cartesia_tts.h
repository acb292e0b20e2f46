// Cartesia Sonic text-to-speech over its WebSocket API
// (https://docs.cartesia.ai/api-reference/tts/websocket): connections authenticated with the
// X-API-Key and Cartesia-Version headers are kept warm in a small pool shared by every call (one
// is opened by Preconnect while a call rings); each Synthesize is one context (a fresh
// context_id, continue=false) whose "chunk" messages carry base64 raw pcm_s16le at 16 kHz, ended
// by "done". Raising the cancel flag (barge-in) sends {"context_id", "cancel": true}, so Cartesia
// stops generating, and the connection goes back to the pool (late messages of the cancelled
// context are skipped by id).
//
//   auto tts = std::make_shared<CartesiaTts>(CartesiaTtsOptions{.api_key = key, .voice = id});
//   tts->Preconnect();
//   PARLEY_RETURN_IF_ERROR(tts->Synthesize("Hello.", [&](auto pcm) { … }, &cancel));
//
// Failures: a refused upgrade maps its HTTP status; an "error" message maps its status_code
// (401 → UNAUTHENTICATED, 429 → RESOURCE_EXHAUSTED, 4xx → INVALID_ARGUMENT, else UNAVAILABLE);
// a dropped connection is UNAVAILABLE. A pooled connection that turns out dead before any audio
// is replaced once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/speech/providers.h"
#include "common/ws/ws_client.h"

namespace parley::speechws {

struct CartesiaTtsOptions {
  std::string url = "wss://api.cartesia.ai/tts/websocket";
  std::string api_key;
  std::string version = "2024-11-13";  // the Cartesia-Version header
  std::string model = "sonic-2";
  std::string voice;  // voice id (required)
  std::string language = "en";
  nlohmann::json extra = nlohmann::json::object();  // merged into each generation request
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration chunk_timeout = absl::Seconds(10);  // between messages of one generation
  int max_idle_connections = 4;
  std::string ca_file;
};

class CartesiaTts final : public speech::TextToSpeech {
 public:
  explicit CartesiaTts(CartesiaTtsOptions options) : options_(std::move(options)) {}
  ~CartesiaTts() override;

  // Opens one connection in the background when none is idle (no-op otherwise).
  void Preconnect();
  absl::Status Synthesize(std::string_view text,
                          absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                          const speech::CancelFlag* cancel) override;

  // Idle connections in the pool (tests).
  int idle_connections() const;

 private:
  absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> Connect() const;
  std::unique_ptr<ws::WebSocketClient> TakeIdle();
  void Release(std::unique_ptr<ws::WebSocketClient> ws);
  // One generation on `ws`; `*delivered` says whether any audio went out.
  absl::Status Generate(ws::WebSocketClient& ws, std::string_view text,
                        absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                        const speech::CancelFlag* cancel, bool* delivered);

  const CartesiaTtsOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<ws::WebSocketClient>> idle_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> preconnects_ ABSL_GUARDED_BY(mu_);
  bool preconnecting_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace parley::speechws
