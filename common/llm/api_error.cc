#include "common/llm/api_error.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

constexpr size_t kMaxMessageBytes = 500;

absl::StatusCode CodeForHttpStatus(long http_status) {
  switch (http_status) {
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
      return absl::StatusCode::kDeadlineExceeded;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kUnavailable;
}

std::string Truncated(std::string_view text) {
  if (text.size() <= kMaxMessageBytes) return std::string(text);
  return absl::StrCat(AbslView(text.substr(0, kMaxMessageBytes)), "…");
}

std::string JsonText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// The error's details: its message and a short code/type tag, from whichever shape it has.
struct ErrorDetails {
  std::string message;
  std::string tag;        // "invalid_api_key", "rate_limit_exceeded", "server_error", …
  long numeric_code = 0;  // llama.cpp and vLLM put the HTTP status in `code`
};

ErrorDetails DetailsOf(const nlohmann::json& body) {
  ErrorDetails details;
  const nlohmann::json* error = &body;
  if (body.is_object() && body.contains("error")) {
    const nlohmann::json& inner = body["error"];
    if (!inner.is_object()) {
      details.message = JsonText(inner);
      return details;
    }
    error = &inner;
  }
  if (!error->is_object()) {
    details.message = JsonText(*error);
    return details;
  }
  if (auto it = error->find("message"); it != error->end()) {
    details.message = JsonText(*it);
  } else if (auto detail = error->find("detail"); detail != error->end()) {
    details.message = JsonText(*detail);
  }
  if (auto code = error->find("code"); code != error->end()) {
    if (code->is_number_integer()) {
      details.numeric_code = code->get<long>();
    } else if (code->is_string()) {
      details.tag = code->get<std::string>();
    }
  }
  if (auto type = error->find("type"); details.tag.empty() && type != error->end()) {
    details.tag = JsonText(*type);
  }
  if (details.message.empty()) details.message = error->dump();
  return details;
}

std::string FormatMessage(std::string_view provider, std::string_view prefix,
                          const ErrorDetails& details) {
  std::string message = absl::StrCat(AbslView(provider), ": ", AbslView(prefix),
                                     AbslView(Truncated(details.message)));
  if (!details.tag.empty()) absl::StrAppend(&message, " (", AbslView(details.tag), ")");
  return message;
}

}  // namespace

absl::Status StatusFromHttpError(std::string_view provider, long http_status,
                                 std::string_view body) {
  ErrorDetails details;
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    details.message = body.empty() ? "no error message" : std::string(body);
  } else {
    details = DetailsOf(parsed);
  }
  return absl::Status(CodeForHttpStatus(http_status),
                      FormatMessage(provider, absl::StrCat("HTTP ", http_status, ": "), details));
}

absl::Status StatusFromErrorObject(std::string_view provider, const nlohmann::json& error) {
  ErrorDetails details = DetailsOf(error);
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  if (details.numeric_code >= 400 && details.numeric_code < 600) {
    code = CodeForHttpStatus(details.numeric_code);
  } else if (details.tag == "rate_limit_exceeded" || details.tag == "insufficient_quota" ||
             details.tag == "rate_limit_error") {
    code = absl::StatusCode::kResourceExhausted;
  } else if (details.tag == "invalid_request_error" || details.tag == "context_length_exceeded") {
    code = absl::StatusCode::kInvalidArgument;
  } else if (details.tag == "invalid_api_key" || details.tag == "authentication_error") {
    code = absl::StatusCode::kUnauthenticated;
  }
  return absl::Status(code, FormatMessage(provider, "stream error: ", details));
}

}  // namespace parley::llm
