// Signed webhook POSTs (config.proto Webhook): a JSON body, signed with HMAC-SHA256 under the
// campaign's webhook secret in `X-Parley-Signature: sha256=<hex>`.
//
// A receiver verifies a delivery by computing HMAC-SHA256(secret, raw body) and comparing it, in
// constant time, with the header's hex digest; `X-Parley-Event-Id` identifies the delivery (the
// same event may be delivered more than once after a retry, never with another id).
//
//   WebhookSender sender({.timeout = absl::Seconds(5)});
//   absl::Status s = sender.Post("https://crm.example.com/hooks", secret, body, event_id);
//
// Thread-compatible: one sender per thread (it keeps a libcurl handle and its connections).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace parley::dispatcher {

// Lower-case hex HMAC-SHA256 of `body` under `key`.
std::string HmacSha256Hex(std::string_view key, std::string_view body);

struct WebhookSenderOptions {
  absl::Duration timeout = absl::Seconds(5);
};

class WebhookSender final {
 public:
  explicit WebhookSender(WebhookSenderOptions options = {});
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // POSTs `body` (JSON) to `url` with the signature and event id headers. OK on a 2xx answer;
  // UNAVAILABLE "webhook: …" when the receiver cannot be reached, times out or answers 5xx/429
  // (worth retrying); FAILED_PRECONDITION "webhook: HTTP 4xx" for other answers (retried too — a
  // receiver may be fixed — but logged louder by the relay).
  absl::Status Post(const std::string& url, std::string_view secret, const std::string& body,
                    const std::string& event_id);

 private:
  WebhookSenderOptions options_;
  void* curl_;  // CURL*
};

}  // namespace parley::dispatcher
