// One streamed HTTP request at a time per call, through libcurl, for the network speech and
// language providers: a small pool of warm curl handles (keep-alive connections, DNS and TLS
// sessions survive between requests), the response body handed over as it arrives, and a
// CancelFlag that really stops the transfer (its connection is closed, so the server stops
// generating).
//
//   HttpStream http({.provider = "elevenlabs"});
//   PARLEY_ASSIGN_OR_RETURN(HttpResponse response, http.Perform(
//       {.url = url, .headers = {"xi-api-key: " + key}, .body = json},
//       [&](std::string_view bytes) { decoder.Feed(bytes); return absl::OkStatus(); }, &cancel));
//   if (!response.ok()) return StatusFromHttpError("elevenlabs", response.status, response.body);
//
// Only the body of a 2xx response goes to `on_body`; any other response's body is collected in
// HttpResponse::body (bounded) for the caller's error mapping.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/llm/curl_transfer.h"
#include "common/speech/providers.h"

namespace parley::llm {

struct HttpRequest {
  std::string method = "POST";  // "GET" or "POST"
  std::string url;
  std::vector<std::string> headers;  // whole lines: "Authorization: Bearer k"
  std::string body;                  // sent with POST
  // Whole-request bound, connect to last byte.
  absl::Duration timeout = absl::Seconds(30);
  // A 2xx answer with a JSON content type is an error description, not the expected body (audio):
  // fail with UNAVAILABLE quoting it instead of handing it to on_body.
  bool expect_non_json = false;
};

struct HttpResponse {
  long status = 0;
  std::string content_type;   // lower-cased, "" when absent
  std::string body;           // non-2xx responses only
  absl::Duration first_byte;  // request start → first body byte (or end, when none)
  bool ok() const { return status / 100 == 2; }
};

struct HttpStreamOptions {
  // Names the provider in error messages.
  std::string provider;
  absl::Duration connect_timeout = absl::Seconds(5);
  // Idle curl handles kept for the next requests.
  int max_idle_handles = 8;
};

class HttpStream final {
 public:
  explicit HttpStream(HttpStreamOptions options);
  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Performs `request`, giving each piece of a 2xx body to `on_body` (on the calling thread);
  // an error `on_body` returns ends the transfer and is returned. Returns the response (any HTTP
  // status) once the body is complete. Fails with CANCELLED once `cancel` is raised (noticed
  // within ~50 ms even while no byte flows), UNAVAILABLE when the server cannot be reached or
  // the response breaks off before its end (a mid-stream disconnect), DEADLINE_EXCEEDED past
  // request.timeout, INVALID_ARGUMENT for a malformed URL. Thread-safe.
  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request,
                                       absl::FunctionRef<absl::Status(std::string_view)> on_body,
                                       const speech::CancelFlag* cancel);

 private:
  const HttpStreamOptions options_;
  CurlHandlePool pool_;
};

}  // namespace parley::llm
