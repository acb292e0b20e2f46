// How the conversation engine calls `http` tools (GraphSpec ToolSpec kind "http"): the tool's
// arguments, plus `call_id`, POSTed as a JSON object to the configured URL; the JSON response goes
// back to the language model.
//
//   HttpPoster post = CurlHttpPoster();
//   PARLEY_ASSIGN_OR_RETURN(std::string body, post({.url = "http://crm/lookup",
//                                                   .body = R"({"call_id":"c1","id":7})",
//                                                   .timeout = absl::Milliseconds(3000)}));
//
// The poster is a plain function so tests (and the pipeline) can inject their own.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace parley::engine {

struct HttpToolRequest {
  std::string url;
  std::string method = "POST";
  // Extra headers (the tool's `headers`, and `Authorization: Bearer …` for its credential);
  // Content-Type: application/json is always sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // JSON text
  absl::Duration timeout = absl::Milliseconds(3000);
};

// Performs one request and returns the response body on a 2xx answer. Fails with UNAVAILABLE when
// the server cannot be reached, times out or answers 5xx/429, FAILED_PRECONDITION "HTTP <code>"
// for other answers. May block for up to the request's timeout.
using HttpPoster = std::function<absl::StatusOr<std::string>(const HttpToolRequest&)>;

// The default poster: libcurl, one easy handle per request, http and https only, response bodies
// up to 1 MiB (longer is FAILED_PRECONDITION). Thread-safe.
HttpPoster CurlHttpPoster();

}  // namespace parley::engine
