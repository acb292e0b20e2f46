#include "common/llm/openai_chat.h"

#include <curl/curl.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/llm/api_error.h"
#include "common/llm/chat_delta.h"
#include "common/llm/curl_transfer.h"
#include "common/llm/sse.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// After "data: [DONE]" the server should end the response at once; a server that keeps it open
// is given this long before the (then unusable) connection is dropped.
constexpr absl::Duration kDoneGrace = absl::Milliseconds(100);
// Bound on a non-streamed body (an error, or a server that ignored stream:true).
constexpr size_t kMaxBodyBytes = 4 << 20;

nlohmann::json MessageJson(const speech::ChatMessage& message) {
  nlohmann::json out = {{"role", message.role}};
  if (message.role == "assistant" && !message.tool_calls.empty()) {
    // The API takes null content for a turn that only called tools.
    out["content"] =
        message.content.empty() ? nlohmann::json(nullptr) : nlohmann::json(message.content);
    nlohmann::json calls = nlohmann::json::array();
    for (const speech::ToolCall& call : message.tool_calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    out["tool_calls"] = std::move(calls);
  } else {
    out["content"] = message.content;
  }
  if (message.role == "tool") out["tool_call_id"] = message.tool_call_id;
  return out;
}

// State of one transfer, shared with curl's callbacks (which run on the calling thread, inside
// curl_multi_perform).
struct Transfer {
  Transfer(CURL* easy, std::string_view provider, absl::FunctionRef<void(std::string_view)> on_text)
      : easy(easy), provider(provider), on_text(on_text), reply(std::string(provider)) {}

  CURL* const easy;
  const std::string provider;
  const absl::FunctionRef<void(std::string_view)> on_text;
  const absl::Time start = absl::Now();

  bool decided = false;  // the response's status and type are known
  long http_status = 0;
  bool streaming = false;  // a 2xx text/event-stream response
  std::string body;        // the body of any other response
  SseParser parser;
  ChatDeltaAccumulator reply;
  absl::Duration first_token = absl::ZeroDuration();
  bool done = false;  // "data: [DONE]" seen
  absl::Time done_at;
  absl::Status error;  // why the write callback stopped the transfer

  void Decide() {
    decided = true;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    const char* type = nullptr;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &type);
    streaming = http_status / 100 == 2 && type != nullptr &&
                absl::StrContains(absl::AsciiStrToLower(type), "text/event-stream");
  }

  void OnEvent(const SseEvent& event) {
    if (!error.ok() || done) return;
    if (event.data == "[DONE]") {
      done = true;
      done_at = absl::Now();
      return;
    }
    nlohmann::json chunk = nlohmann::json::parse(event.data, nullptr, false);
    if (chunk.is_discarded()) {
      error = absl::UnavailableError(
          absl::StrCat(provider, ": malformed stream chunk: ", event.data.substr(0, 200)));
      return;
    }
    bool was_started = reply.started();
    absl::StatusOr<std::string> text = reply.Apply(chunk);
    if (!text.ok()) {
      error = text.status();
      return;
    }
    if (!was_started && reply.started()) first_token = absl::Now() - start;
    if (!text->empty()) on_text(*text);
  }

  size_t OnData(std::string_view data) {
    if (!decided) Decide();
    if (streaming) {
      absl::Status fed = parser.Feed(data, [this](const SseEvent& event) { OnEvent(event); });
      if (!fed.ok() && error.ok()) error = absl::UnavailableError(fed.message());
    } else if (body.size() + data.size() > kMaxBodyBytes) {
      error = absl::UnavailableError(absl::StrCat(provider, ": response body too large"));
    } else {
      body.append(data);
    }
    return error.ok() ? data.size() : 0;  // 0 makes curl end the transfer (CURLE_WRITE_ERROR)
  }
};

size_t WriteCallback(char* data, size_t size, size_t count, void* user) {
  return static_cast<Transfer*>(user)->OnData(std::string_view(data, size * count));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenAiChat>> OpenAiChat::Create(OpenAiChatOptions options) {
  if (!absl::StartsWith(options.base_url, "http://") &&
      !absl::StartsWith(options.base_url, "https://")) {
    return InvalidField("base_url", absl::StrCat("must be an http:// or https:// URL, got \"",
                                                 options.base_url, "\""));
  }
  if (!options.extra_body.is_object()) {
    return InvalidField("options", "must be a JSON object");
  }
  InitCurlOnce();
  curl_slist* headers = nullptr;
  auto add = [&headers](const std::string& line) {
    headers = curl_slist_append(headers, line.c_str());
  };
  add("Content-Type: application/json");
  add("Accept: text/event-stream");
  add("Expect:");  // no 100-continue round trip for long conversations
  if (!options.api_key.empty()) add(absl::StrCat("Authorization: Bearer ", options.api_key));
  for (const auto& [name, value] : options.headers) {
    if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      curl_slist_free_all(headers);
      return InvalidField("headers", absl::StrCat("malformed header \"", name, "\""));
    }
    add(absl::StrCat(name, ": ", value));
  }
  return std::unique_ptr<OpenAiChat>(new OpenAiChat(std::move(options), headers));
}

OpenAiChat::OpenAiChat(OpenAiChatOptions options, curl_slist* headers)
    : options_(std::move(options)),
      url_(absl::StrCat(absl::StripSuffix(options_.base_url, "/"), "/chat/completions")),
      headers_(headers) {}

OpenAiChat::~OpenAiChat() { curl_slist_free_all(headers_); }

nlohmann::json ToolsJson(const std::vector<speech::ToolDefinition>& tools,
                         const nlohmann::json& missing_parameters) {
  nlohmann::json out = nlohmann::json::array();
  for (const speech::ToolDefinition& tool : tools) {
    nlohmann::json function = {{"name", tool.name}};
    if (!tool.description.empty()) function["description"] = tool.description;
    if (!tool.parameters.is_null() && !tool.parameters.empty()) {
      function["parameters"] = tool.parameters;
    } else if (!missing_parameters.is_null()) {
      function["parameters"] = missing_parameters;
    }
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

nlohmann::json OpenAiChat::RequestBody(const speech::ChatRequest& request) const {
  nlohmann::json body = {{"model", request.model.empty() ? options_.model : request.model},
                         {"stream", true}};
  nlohmann::json messages = nlohmann::json::array();
  for (const speech::ChatMessage& message : request.messages) {
    messages.push_back(MessageJson(message));
  }
  body["messages"] = std::move(messages);
  if (!request.tools.empty()) body["tools"] = ToolsJson(request.tools);
  if (auto t = request.temperature ? request.temperature : options_.temperature) {
    body["temperature"] = *t;
  }
  if (auto m = request.max_tokens ? request.max_tokens : options_.max_tokens) {
    body["max_tokens"] = *m;
  }
  for (const auto& [key, value] : options_.extra_body.items()) body[key] = value;
  return body;
}

absl::StatusOr<speech::ChatResult> OpenAiChat::Chat(
    const speech::ChatRequest& request, absl::FunctionRef<void(std::string_view)> on_text,
    const speech::CancelFlag* cancel) {
  const std::string& provider = options_.provider;
  auto cancelled = [&] { return absl::CancelledError(absl::StrCat(provider, ": chat cancelled")); };
  if (cancel != nullptr && cancel->cancelled()) return cancelled();
  if (request.model.empty() && options_.model.empty()) {
    return InvalidField("model", "no model named by the request or the provider configuration");
  }
  const std::string body = RequestBody(request).dump();

  std::unique_ptr<CurlHandle> handle = pool_.Acquire();
  CURL* easy = handle->easy;
  Transfer transfer(easy, provider, on_text);
  char curl_error[CURL_ERROR_SIZE] = "";
  SetCommonOptions(easy, {.url = url_,
                          .timeout = request.timeout,
                          .connect_timeout = options_.connect_timeout,
                          .error_buffer = curl_error,
                          .cancel = cancel});
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);

  // After [DONE] a server that keeps the response open gets kDoneGrace, then the (then unusable)
  // connection is dropped and the reply counts as finished.
  const CurlOutcome outcome = RunTransfer(
      *handle, cancel, [&] { return transfer.done && absl::Now() - transfer.done_at > kDoneGrace; },
      provider);
  if (!transfer.decided) transfer.Decide();  // a response without a body, or none at all
  const absl::Duration elapsed = absl::Now() - transfer.start;
  pool_.Release(std::move(handle));
  if (!outcome.multi_error.ok()) return outcome.multi_error;
  const CURLcode result = outcome.result;
  const bool user_cancelled = outcome.cancelled;
  const bool finished = result == CURLE_OK || outcome.stopped;

  if (user_cancelled ||
      (result == CURLE_ABORTED_BY_CALLBACK && cancel != nullptr && cancel->cancelled())) {
    return cancelled();
  }
  if (!transfer.error.ok()) return transfer.error;
  if (transfer.http_status != 0 && transfer.http_status / 100 != 2) {
    return StatusFromHttpError(provider, transfer.http_status, transfer.body);
  }
  if (!finished) {
    // A stream cut after its finish_reason still carries a whole reply.
    bool complete = transfer.streaming && (transfer.done || transfer.reply.finished()) &&
                    (result == CURLE_PARTIAL_FILE || result == CURLE_RECV_ERROR);
    if (!complete) {
      std::string detail = curl_error[0] != '\0' ? curl_error : curl_easy_strerror(result);
      if (result == CURLE_OPERATION_TIMEDOUT) {
        if (transfer.http_status == 0 && elapsed < request.timeout) {
          return absl::UnavailableError(absl::StrCat(provider, ": cannot connect: ", detail));
        }
        return absl::DeadlineExceededError(absl::StrCat(provider, ": no complete reply within ",
                                                        absl::FormatDuration(request.timeout), ": ",
                                                        detail));
      }
      if (result == CURLE_URL_MALFORMAT || result == CURLE_UNSUPPORTED_PROTOCOL) {
        return InvalidField("base_url", detail);
      }
      return absl::UnavailableError(absl::StrCat(provider, ": ", detail));
    }
  }
  if (transfer.streaming) {
    if (!transfer.done && !transfer.reply.finished()) {
      return absl::UnavailableError(
          absl::StrCat(provider, ": stream ended before the reply was complete"));
    }
  } else {
    // A server that ignored stream:true answers with one chat.completion object.
    nlohmann::json completion = nlohmann::json::parse(transfer.body, nullptr, false);
    if (completion.is_discarded()) {
      return absl::UnavailableError(absl::StrCat(provider,
                                                 ": response is neither an event "
                                                 "stream nor JSON"));
    }
    PARLEY_ASSIGN_OR_RETURN(std::string text, transfer.reply.ApplyCompletion(completion));
    transfer.first_token = elapsed;
    if (!text.empty()) on_text(text);
  }
  PARLEY_ASSIGN_OR_RETURN(speech::ChatResult reply, std::move(transfer.reply).Finish());
  reply.first_token = transfer.first_token;
  return reply;
}

}  // namespace parley::llm
