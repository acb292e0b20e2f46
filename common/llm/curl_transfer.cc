#include "common/llm/curl_transfer.h"

#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// How often a transfer wakes to look at the cancel flag when no byte arrives.
constexpr int kCancelPollMs = 50;

int ProgressCallback(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const speech::CancelFlag*>(user);
  return cancel != nullptr && cancel->cancelled() ? 1 : 0;
}

}  // namespace

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::unique_ptr<CurlHandle> CurlHandlePool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<CurlHandle> handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return std::make_unique<CurlHandle>();
}

void CurlHandlePool::Release(std::unique_ptr<CurlHandle> handle) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < max_idle_) idle_.push_back(std::move(handle));
}

void SetCommonOptions(CURL* easy, const CurlRequestOptions& options) {
  // Reset keeps the handle's live connections, DNS cache and TLS sessions.
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "parley/0.1");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
  curl_easy_setopt(
      easy, CURLOPT_TIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options.timeout))));
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, options.error_buffer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, const_cast<speech::CancelFlag*>(options.cancel));
}

CurlOutcome RunTransfer(CurlHandle& handle, const speech::CancelFlag* cancel,
                        absl::FunctionRef<bool()> stop, std::string_view provider) {
  CurlOutcome outcome;
  curl_multi_add_handle(handle.multi, handle.easy);
  for (;;) {
    int running = 0;
    CURLMcode multi_result = curl_multi_perform(handle.multi, &running);
    if (multi_result != CURLM_OK) {
      outcome.multi_error = absl::InternalError(absl::StrCat(
          AbslView(provider), ": curl_multi_perform: ", curl_multi_strerror(multi_result)));
      break;
    }
    if (running == 0) {
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(handle.multi, &queued)) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == handle.easy) {
          outcome.result = message->data.result;
        }
      }
      break;
    }
    if (cancel != nullptr && cancel->cancelled()) {
      outcome.cancelled = true;
      break;
    }
    if (stop()) {
      outcome.stopped = true;
      break;
    }
    curl_multi_poll(handle.multi, nullptr, 0, kCancelPollMs, nullptr);
  }
  curl_multi_remove_handle(handle.multi, handle.easy);
  return outcome;
}

}  // namespace parley::llm
