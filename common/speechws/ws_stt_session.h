// Shared plumbing of the WebSocket speech providers (deepgram, assemblyai, whisperlive, cartesia):
// a recogniser session base that drains the provider's messages into a subclass, keeps the first
// failure, and waits for a condition with a deadline; plus small helpers for audio bytes, query
// strings and ids.
//
//   class DeepgramSession final : public WsSttSession {
//     absl::Status Handle(const ws::WsMessage& m) override { … parse, update partial/final … }
//   };
//   PARLEY_RETURN_IF_ERROR(Pump());                        // non-blocking, e.g. in Push
//   PARLEY_RETURN_IF_ERROR(PumpUntil([&] { return finalized_; }, absl::Seconds(1)));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/speech/providers.h"
#include "common/ws/ws_client.h"

namespace parley::speechws {

class WsSttSession : public speech::SttSession {
 public:
  explicit WsSttSession(std::unique_ptr<ws::WebSocketClient> ws) : ws_(std::move(ws)) {}

 protected:
  // One provider message; a non-OK status is the provider reporting a failure (it sticks).
  virtual absl::Status Handle(const ws::WsMessage& message) = 0;

  // Handles every message already received. Returns the session's failure, if any: the
  // connection closed or dropped (UNAVAILABLE), or what Handle reported.
  absl::Status Pump();
  // Handles messages as they arrive until `done()` holds or `timeout` passes (then OK, with
  // `*timed_out` set when given). Fails like Pump.
  absl::Status PumpUntil(const std::function<bool()>& done, absl::Duration timeout,
                         bool* timed_out = nullptr);

  ws::WebSocketClient& ws() { return *ws_; }
  const absl::Status& failure() const { return failure_; }

 private:
  absl::Status SafeHandle(const ws::WsMessage& message);

  std::unique_ptr<ws::WebSocketClient> ws_;
  absl::Status failure_;
};

// The little-endian bytes of 16-bit PCM.
std::string PcmBytes(std::span<const int16_t> pcm);
// 16-bit PCM as little-endian float32 in [-1, 1) (WhisperLive's frame format).
std::string Float32Bytes(std::span<const int16_t> pcm);
// A random 128-bit id as 32 lower-case hex digits with dashes (UUID layout).
std::string RandomId();
// "k=v&k2=v2" from a JSON object's scalar members (strings as is, numbers, booleans as
// true/false); arrays repeat the key. Nested objects are skipped.
std::string QueryFromJson(const nlohmann::json& object);
// The status a provider's HTTP-like error code maps to (401 → UNAUTHENTICATED, 403 →
// PERMISSION_DENIED, 429 → RESOURCE_EXHAUSTED, other 4xx → INVALID_ARGUMENT, else UNAVAILABLE).
absl::Status StatusFromHttpCode(int code, std::string_view message);
// Joins non-empty pieces with single spaces.
std::string JoinWords(const std::vector<std::string>& pieces);

}  // namespace parley::speechws
