#include "common/llm/http_stream.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/llm/curl_transfer.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// Bound on a collected error body.
constexpr size_t kMaxErrorBody = 64 << 10;

struct Transfer {
  CURL* easy;
  absl::FunctionRef<absl::Status(std::string_view)> on_body;
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

}  // namespace

HttpStream::HttpStream(HttpStreamOptions options)
    : options_(std::move(options)), pool_(options_.max_idle_handles) {}

HttpStream::~HttpStream() = default;

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

  std::unique_ptr<CurlHandle> handle = pool_.Acquire();
  CURL* easy = handle->easy;
  Transfer transfer{easy, on_body, request.expect_non_json, provider};
  char curl_error[CURL_ERROR_SIZE] = "";
  SetCommonOptions(easy, {.url = request.url,
                          .timeout = request.timeout,
                          .connect_timeout = options_.connect_timeout,
                          .error_buffer = curl_error,
                          .cancel = cancel});
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);

  const CurlOutcome outcome = RunTransfer(
      *handle, cancel, [] { return false; }, provider);
  transfer.Decide();
  const absl::Duration elapsed = absl::Now() - transfer.start;
  curl_slist_free_all(headers);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  pool_.Release(std::move(handle));
  const absl::Status& multi_error = outcome.multi_error;
  const bool user_cancelled = outcome.cancelled;
  const CURLcode result = outcome.result;

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
