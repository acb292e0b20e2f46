#include "services/worker/engine/http_tool.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parley::engine {
namespace {

constexpr size_t kMaxResponseBytes = 1 << 20;

struct Sink {
  std::string body;
  bool overflow = false;
};

size_t Collect(char* data, size_t size, size_t n, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  if (sink->body.size() + size * n > kMaxResponseBytes) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, size * n);
  return size * n;
}

absl::StatusOr<std::string> CurlPost(const HttpToolRequest& request) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (curl == nullptr) return absl::InternalError("http tool: curl_easy_init failed");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, &curl_slist_free_all);
  Sink sink;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
                   request.method.empty() ? "POST" : request.method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "parley-worker/http-tool");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  const CURLcode code = curl_easy_perform(c);
  if (sink.overflow) {
    return absl::FailedPreconditionError("http tool: response larger than 1 MiB");
  }
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("http tool: ", curl_easy_strerror(code)));
  }
  long http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  if (http >= 200 && http < 300) return std::move(sink.body);
  if (http >= 500 || http == 429) {
    return absl::UnavailableError(absl::StrCat("http tool: HTTP ", http));
  }
  return absl::FailedPreconditionError(absl::StrCat("http tool: HTTP ", http));
}

}  // namespace

HttpPoster CurlHttpPoster() { return &CurlPost; }

}  // namespace parley::engine
