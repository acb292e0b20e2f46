// The libcurl plumbing the streaming HTTP clients share (OpenAiChat, HttpStream): a pool of warm
// handles, the options every request sets, and the loop that drives one transfer while watching
// a CancelFlag.
//
//   CurlHandlePool pool(8);
//   std::unique_ptr<CurlHandle> handle = pool.Acquire();
//   SetCommonOptions(handle->easy, {.url = url, .timeout = t, .connect_timeout = c,
//                                   .error_buffer = buf, .cancel = cancel});
//   ... CURLOPT_WRITEFUNCTION etc. ...
//   CurlOutcome outcome = RunTransfer(*handle, cancel, [] { return false; });
//   pool.Release(std::move(handle));
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/speech/providers.h"

namespace parley::llm {

// curl_global_init, once per process.
void InitCurlOnce();

// An easy handle and the multi handle driving it. The multi handle owns the connection cache, so
// an idle pair keeps its keep-alive connections (and DNS cache and TLS sessions) for the next
// request.
struct CurlHandle {
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  CurlHandle() = default;
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  ~CurlHandle() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
};

// Idle handles for reuse. Thread-safe.
class CurlHandlePool {
 public:
  explicit CurlHandlePool(int max_idle) : max_idle_(max_idle) { InitCurlOnce(); }

  // An idle handle, or a new one when none is idle.
  std::unique_ptr<CurlHandle> Acquire();
  // Keeps `handle` for the next Acquire, unless max_idle are already kept.
  void Release(std::unique_ptr<CurlHandle> handle);

 private:
  const int max_idle_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<CurlHandle>> idle_ ABSL_GUARDED_BY(mu_);
};

struct CurlRequestOptions {
  std::string url;
  absl::Duration timeout;          // whole request, connect to last byte
  absl::Duration connect_timeout;  // TCP (and TLS) connect
  char* error_buffer = nullptr;    // CURL_ERROR_SIZE bytes
  // Raised: curl's progress callback aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
  const speech::CancelFlag* cancel = nullptr;
};

// Resets `easy` (keeping its connections) and sets what every Parley request shares: URL (http
// or https only), user agent, no signals, TCP_NODELAY and keep-alive, the timeouts, the error
// buffer, and the cancel check.
void SetCommonOptions(CURL* easy, const CurlRequestOptions& options);

struct CurlOutcome {
  CURLcode result = CURLE_OK;  // the transfer's result, when it ran to its end
  bool cancelled = false;      // the CancelFlag was raised before the end
  bool stopped = false;        // `stop` returned true before the end
  absl::Status multi_error;    // curl_multi_perform failed
};

// Adds `handle`'s easy handle to its multi handle and drives the transfer until it ends, the
// cancel flag is raised, or `stop()` returns true (looked at after every wake-up, at least every
// 50 ms), then removes it. Removing an unfinished transfer closes its connection, which tells the
// server to stop. `provider` names the client in the multi error.
CurlOutcome RunTransfer(CurlHandle& handle, const speech::CancelFlag* cancel,
                        absl::FunctionRef<bool()> stop, std::string_view provider);

}  // namespace parley::llm
