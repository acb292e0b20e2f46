// Turns the errors of an OpenAI-compatible API into statuses the voice pipeline acts on, keeping
// the provider's own message.
//
//   if (http_status / 100 != 2) return StatusFromHttpError("groq", http_status, body);
//   // 429 {"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}} →
//   //   RESOURCE_EXHAUSTED "groq: HTTP 429: Rate limit reached (rate_limit_exceeded)"
//
// Error bodies differ between servers; all of these are understood: OpenAI's
// {"error":{"message","type","param","code"}}, llama.cpp's {"error":{"code":500,"message"}},
// vLLM's {"object":"error","message","type","code"}, {"error":"text"}, FastAPI's {"detail":…},
// and anything else as (truncated) plain text.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/status.h"

namespace parley::llm {

// The status for a non-2xx HTTP response with `body`: 401 → UNAUTHENTICATED, 403 →
// PERMISSION_DENIED, 404 → NOT_FOUND (unknown model or wrong base URL), 408 → DEADLINE_EXCEEDED,
// 429 → RESOURCE_EXHAUSTED, other 4xx → INVALID_ARGUMENT, 5xx and anything else → UNAVAILABLE.
// The message is "<provider>: HTTP <status>: <provider's message> (<code or type>)".
absl::Status StatusFromHttpError(std::string_view provider, long http_status,
                                 std::string_view body);

// The status for an error sent as an event inside a 200 stream: `error` is the event's object,
// either {"error":{…}} or the inner object. A numeric `code` is read as an HTTP status; otherwise
// the code/type decide ("rate_limit_exceeded" → RESOURCE_EXHAUSTED, "invalid_request_error" →
// INVALID_ARGUMENT, "invalid_api_key"/"authentication_error" → UNAUTHENTICATED), else
// UNAVAILABLE.
absl::Status StatusFromErrorObject(std::string_view provider, const nlohmann::json& error);

}  // namespace parley::llm
