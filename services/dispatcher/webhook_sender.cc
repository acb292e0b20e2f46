#include "services/dispatcher/webhook_sender.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::dispatcher {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

WebhookSender::WebhookSender(WebhookSenderOptions options) : options_(options) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

WebhookSender::~WebhookSender() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

absl::Status WebhookSender::Post(const std::string& url, std::string_view secret,
                                 const std::string& body, const std::string& event_id) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return absl::InternalError("webhook: libcurl did not initialise");
  curl_easy_reset(curl);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(
      headers, absl::StrCat("X-Parley-Signature: sha256=", HmacSha256Hex(secret, body)).c_str());
  headers = curl_slist_append(headers, absl::StrCat("X-Parley-Event-Id: ", event_id).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "parley-dispatcher/webhook");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  CURLcode code = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("webhook: ", curl_easy_strerror(code)));
  }
  if (http >= 200 && http < 300) return absl::OkStatus();
  if (http >= 500 || http == 429 || http == 408) {
    return absl::UnavailableError(absl::StrCat("webhook: HTTP ", http));
  }
  return absl::FailedPreconditionError(absl::StrCat("webhook: HTTP ", http));
}

}  // namespace parley::dispatcher
