// A WebSocket client (RFC 6455) for the streaming speech providers: ws:// and wss:// (TLS through
// OpenSSL, peer verified against the system's CAs), extra upgrade headers for API keys, messages
// read with a timeout and a cancel flag, writes queued without blocking, and an optional
// keep-alive text message for providers that close idle streams. Built on Boost.Beast; each
// client owns one I/O thread, so reading on the caller's thread never blocks the socket.
//
//   PARLEY_ASSIGN_OR_RETURN(auto ws, WebSocketClient::Connect({
//       .url = "wss://api.deepgram.com/v1/listen?encoding=linear16&sample_rate=16000",
//       .headers = {{"Authorization", "Token " + key}}}));
//   PARLEY_RETURN_IF_ERROR(ws->SendBinary(pcm_bytes));
//   PARLEY_ASSIGN_OR_RETURN(WsMessage reply, ws->Read(absl::Seconds(2), &cancel));
//   ws->Close();
//
// Errors are statuses: a refused upgrade maps its HTTP status (401 → UNAUTHENTICATED,
// 403 → PERMISSION_DENIED, 429 → RESOURCE_EXHAUSTED, 400/404 → INVALID_ARGUMENT, else
// UNAVAILABLE); a connection the server closed or dropped is UNAVAILABLE naming the close code and
// reason, so a provider chain falls back on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/speech/providers.h"

namespace parley::ws {

struct WsUrl {
  bool tls = false;
  std::string host;
  std::string port;    // "80"/"443" when the URL names none
  std::string target;  // path and query, at least "/"
};

// Parses ws://, wss://, http:// (→ ws) and https:// (→ wss) URLs. Fails with INVALID_ARGUMENT on
// any other scheme or an empty host.
absl::StatusOr<WsUrl> ParseWsUrl(std::string_view url);

// `value` percent-encoded for a URL query (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view value);

struct WsOptions {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // added to the upgrade request
  absl::Duration connect_timeout = absl::Seconds(5);         // DNS + TCP + TLS + upgrade
  std::string ca_file;  // wss: a PEM file to trust instead of the system CAs (tests)
  // When set, sent as a text message whenever nothing was sent for `keepalive_interval`.
  std::string keepalive_text;
  absl::Duration keepalive_interval = absl::ZeroDuration();
};

struct WsMessage {
  bool binary = false;
  std::string data;
};

class WebSocketClient final {
 public:
  // Connects and completes the upgrade. Fails with DEADLINE_EXCEEDED past connect_timeout,
  // UNAVAILABLE when the host cannot be reached, or the mapping of a refused upgrade's HTTP status
  // (with its body) — see the file comment.
  static absl::StatusOr<std::unique_ptr<WebSocketClient>> Connect(WsOptions options);
  // Closes (normal closure) if still open.
  ~WebSocketClient();

  // Queue a message; UNAVAILABLE once the connection is closed.
  absl::Status SendText(std::string text);
  absl::Status SendBinary(std::string bytes);

  // The next message the server sent. Messages that arrived before the connection closed are
  // still returned; after them, UNAVAILABLE with the close code and reason. DEADLINE_EXCEEDED
  // when nothing came within `timeout`, CANCELLED when `cancel` was raised.
  absl::StatusOr<WsMessage> Read(absl::Duration timeout,
                                 const speech::CancelFlag* cancel = nullptr);
  // Like Read with a zero timeout, but DEADLINE_EXCEEDED is reported as nullopt-equivalent:
  // false when no message is waiting.
  bool TryRead(WsMessage* message, absl::Status* closed);

  // Sends a close frame (1000) and waits up to `timeout` for the server's reply.
  void Close(absl::Duration timeout = absl::Milliseconds(500));

  // False once the connection closed or failed (messages may still be waiting).
  bool open() const;
  // OK while open; else why it closed.
  absl::Status status() const;

  class Impl;

 private:
  explicit WebSocketClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::ws
