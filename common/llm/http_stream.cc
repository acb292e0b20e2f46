#include "common/llm/http_stream.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// How often a transfer wakes to look at the cancel flag when no byte arrives.
constexpr int kCancelPollMs = 50;
// Bound on a collected error body.
constexpr size_t kMaxErrorBody = 64 << 10;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  CURL* easy;
  absl::FunctionRef<absl::Status(std::string_view)> on_body;
  const speech::CancelFlag* cancel;
  bool expect_non_json;
  std::string_view provider;
  absl::Time start = absl::Now();
  bool decided = false;
  HttpResponse response;
  absl::Status error;

  void Decide() {
    if (decided) return;
    decided = true;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
    const char* type = nullptr;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) response.content_type = absl::AsciiStrToLower(type);
    response.first_byte = absl::Now() - start;
  }

  size_t OnData(std::string_view data) {
    Decide();
    if (!response.ok()) {
      size_t room = kMaxErrorBody - std::min(kMaxErrorBody, response.body.size());
      response.body.append(data.substr(0, room));
      return data.size();
    }
    if (expect_non_json && response.content_type.find("json") != std::string::npos) {
      error = absl::UnavailableError(absl::StrCat(AbslView(provider), ": expected audio, got ",
                                                  response.content_type, ": ",
                                                  AbslView(data.substr(0, 200))));
      return 0;
    }
    error = on_body(data);
    return error.ok() ? data.size() : 0;  // 0 ends the transfer (CURLE_WRITE_ERROR)
  }
};

size_t WriteCallback(char* data, size_t size, size_t count, void* user) {
  return static_cast<Transfer*>(user)->OnData(std::string_view(data, size * count));
}

int ProgressCallback(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const Transfer* transfer = static_cast<const Transfer*>(user);
  return transfer->cancel != nullptr && transfer->cancel->cancelled() ? 1 : 0;
}

}  // namespace

// An easy handle and the multi handle driving it; the multi handle owns the connection cache,
// so an idle pair keeps its keep-alive connections.
struct HttpStream::Handle {
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  ~Handle() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
};

HttpStream::HttpStream(HttpStreamOptions options) : options_(std::move(options)) { InitCurlOnce(); }

HttpStream::~HttpStream() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

std::unique_ptr<HttpStream::Handle> HttpStream::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>();
}

void HttpStream::Release(std::unique_ptr<Handle> handle) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_handles) {
    idle_.push_back(std::move(handle));
  }
}

absl::StatusOr<HttpResponse> HttpStream::Perform(
    const HttpRequest& request, absl::FunctionRef<absl::Status(std::string_view)> on_body,
    const speech::CancelFlag* cancel) {
  const std::string& provider = options_.provider;
  auto cancelled = [&] {
    return absl::CancelledError(absl::StrCat(provider, ": request cancelled"));
  };
  if (cancel != nullptr && cancel->cancelled()) return cancelled();

  curl_slist* headers = nullptr;
  for (const std::string& line : request.headers) {
    if (line.find_first_of("\r\n") != std::string::npos) {
      curl_slist_free_all(headers);
      return InvalidField("headers", "a header holds a line break");
    }
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

  std::unique_ptr<Handle> handle = Acquire();
  CURL* easy = handle->easy;
  Transfer transfer{easy, on_body, cancel, request.expect_non_json, provider};
  char curl_error[CURL_ERROR_SIZE] = "";

  // Reset keeps the handle's live connections, DNS cache and TLS sessions.
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "parley/0.1");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(
      easy, CURLOPT_TIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(request.timeout))));
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_error);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);

  curl_multi_add_handle(handle->multi, easy);
  bool user_cancelled = false;
  CURLcode result = CURLE_OK;
  absl::Status multi_error;
  for (;;) {
    int running = 0;
    CURLMcode multi_result = curl_multi_perform(handle->multi, &running);
    if (multi_result != CURLM_OK) {
      multi_error = absl::InternalError(
          absl::StrCat(provider, ": curl_multi_perform: ", curl_multi_strerror(multi_result)));
      break;
    }
    if (running == 0) {
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(handle->multi, &queued)) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
          result = message->data.result;
        }
      }
      break;
    }
    if (cancel != nullptr && cancel->cancelled()) {
      user_cancelled = true;
      break;
    }
    curl_multi_poll(handle->multi, nullptr, 0, kCancelPollMs, nullptr);
  }
  // Removing an unfinished transfer closes its connection, which tells the server to stop.
  curl_multi_remove_handle(handle->multi, easy);
  transfer.Decide();
  const absl::Duration elapsed = absl::Now() - transfer.start;
  curl_slist_free_all(headers);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  Release(std::move(handle));

  if (!multi_error.ok()) return multi_error;
  if (user_cancelled ||
      (result == CURLE_ABORTED_BY_CALLBACK && cancel != nullptr && cancel->cancelled())) {
    return cancelled();
  }
  if (!transfer.error.ok()) return transfer.error;
  if (result == CURLE_OK) return std::move(transfer.response);
  std::string detail = curl_error[0] != '\0' ? curl_error : curl_easy_strerror(result);
  if (result == CURLE_OPERATION_TIMEDOUT) {
    if (transfer.response.status == 0 && elapsed < request.timeout) {
      return absl::UnavailableError(absl::StrCat(provider, ": cannot connect: ", detail));
    }
    return absl::DeadlineExceededError(absl::StrCat(provider, ": no complete response within ",
                                                    absl::FormatDuration(request.timeout), ": ",
                                                    detail));
  }
  if (result == CURLE_URL_MALFORMAT || result == CURLE_UNSUPPORTED_PROTOCOL) {
    return InvalidField("base_url", detail);
  }
  if (transfer.response.status != 0) {
    return absl::UnavailableError(absl::StrCat(provider, ": response broke off (HTTP ",
                                               transfer.response.status, "): ", detail));
  }
  return absl::UnavailableError(absl::StrCat(provider, ": ", detail));
}

}  // namespace parley::llm
