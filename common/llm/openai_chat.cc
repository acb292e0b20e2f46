#include "common/llm/openai_chat.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/llm/api_error.h"
#include "common/llm/chat_delta.h"
#include "common/llm/sse.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// How often a transfer wakes to look at the cancel flag when no byte arrives.
constexpr int kCancelPollMs = 50;
// After "data: [DONE]" the server should end the response at once; a server that keeps it open
// is given this long before the (then unusable) connection is dropped.
constexpr absl::Duration kDoneGrace = absl::Milliseconds(100);
// Bound on a non-streamed body (an error, or a server that ignored stream:true).
constexpr size_t kMaxBodyBytes = 4 << 20;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

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
  Transfer(CURL* easy, std::string_view provider, const speech::CancelFlag* cancel,
           absl::FunctionRef<void(std::string_view)> on_text)
      : easy(easy),
        provider(provider),
        cancel(cancel),
        on_text(on_text),
        reply(std::string(provider)) {}

  CURL* const easy;
  const std::string provider;
  const speech::CancelFlag* const cancel;
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

int ProgressCallback(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const Transfer* transfer = static_cast<const Transfer*>(user);
  return transfer->cancel != nullptr && transfer->cancel->cancelled() ? 1 : 0;
}

}  // namespace

// A curl easy handle and the multi handle that drives it. The multi handle owns the connection
// cache, so an idle pair keeps its keep-alive connections for the next call.
struct OpenAiChat::Handle {
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  ~Handle() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
};

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

OpenAiChat::~OpenAiChat() {
  {
    absl::MutexLock lock(&mu_);
    idle_.clear();
  }
  curl_slist_free_all(headers_);
}

std::unique_ptr<OpenAiChat::Handle> OpenAiChat::AcquireHandle() {
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

void OpenAiChat::ReleaseHandle(std::unique_ptr<Handle> handle) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_handles) {
    idle_.push_back(std::move(handle));
  }
}

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

  std::unique_ptr<Handle> handle = AcquireHandle();
  CURL* easy = handle->easy;
  Transfer transfer(easy, provider, cancel, on_text);
  char curl_error[CURL_ERROR_SIZE] = "";

  // Reset keeps the handle's live connections, DNS cache and TLS sessions.
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
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
  bool cut_after_done = false;
  CURLcode result = CURLE_OK;
  for (;;) {
    int running = 0;
    CURLMcode multi_result = curl_multi_perform(handle->multi, &running);
    if (multi_result != CURLM_OK) {
      curl_multi_remove_handle(handle->multi, easy);
      return absl::InternalError(
          absl::StrCat(provider, ": curl_multi_perform: ", curl_multi_strerror(multi_result)));
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
    if (transfer.done && absl::Now() - transfer.done_at > kDoneGrace) {
      cut_after_done = true;
      break;
    }
    curl_multi_poll(handle->multi, nullptr, 0, kCancelPollMs, nullptr);
  }
  // Removing an unfinished transfer closes its connection, which tells the server to stop.
  curl_multi_remove_handle(handle->multi, easy);
  if (!transfer.decided) transfer.Decide();  // a response without a body, or none at all
  const absl::Duration elapsed = absl::Now() - transfer.start;
  const bool finished = result == CURLE_OK || cut_after_done;
  ReleaseHandle(std::move(handle));

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
