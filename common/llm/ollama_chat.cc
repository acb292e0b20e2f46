#include "common/llm/ollama_chat.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/llm/api_error.h"
#include "common/llm/openai_chat.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// Bound on one NDJSON line (a whole tool call fits easily).
constexpr size_t kMaxLineBytes = 1 << 20;

std::string ServerRoot(std::string_view base_url) {
  absl::string_view root = absl::StripSuffix(AbslView(base_url), "/");
  root = absl::StripSuffix(root, "/v1");
  root = absl::StripSuffix(root, "/api");
  return std::string(root);
}

nlohmann::json ArgumentsObject(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return nlohmann::json::object();
  return parsed;
}

// The state of one streamed reply, fed line by line.
struct Reply {
  absl::FunctionRef<void(std::string_view)> on_text;
  absl::Time start;
  std::string pending;  // bytes of an unfinished line
  speech::ChatResult result;
  bool started = false;
  bool done = false;
  std::string provider;

  absl::Status Line(std::string_view line) {
    absl::string_view stripped = absl::StripAsciiWhitespace(AbslView(line));
    line = std::string_view(stripped.data(), stripped.size());
    if (line.empty()) return absl::OkStatus();
    if (done) return absl::OkStatus();  // nothing should follow "done"; ignore it
    nlohmann::json chunk = nlohmann::json::parse(line, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) {
      return absl::UnavailableError(
          absl::StrCat(provider, ": malformed stream line: ", AbslView(line.substr(0, 200))));
    }
    if (chunk.contains("error")) {
      const nlohmann::json& error = chunk["error"];
      return absl::UnavailableError(absl::StrCat(
          provider, ": ", error.is_string() ? error.get<std::string>() : error.dump()));
    }
    if (chunk.contains("message") && chunk["message"].is_object()) {
      const nlohmann::json& message = chunk["message"];
      if (message.contains("content") && message["content"].is_string()) {
        std::string text = message["content"].get<std::string>();
        if (!text.empty()) {
          Started();
          result.text += text;
          on_text(text);
        }
      }
      if (message.contains("tool_calls") && message["tool_calls"].is_array()) {
        for (const nlohmann::json& call : message["tool_calls"]) {
          if (!call.contains("function") || !call["function"].is_object()) continue;
          const nlohmann::json& function = call["function"];
          speech::ToolCall tool;
          tool.id = call.contains("id") && call["id"].is_string()
                        ? call["id"].get<std::string>()
                        : absl::StrCat("call_", result.tool_calls.size() + 1);
          tool.name = function.value("name", "");
          const nlohmann::json arguments =
              function.contains("arguments") ? function["arguments"] : nlohmann::json::object();
          tool.arguments = arguments.is_string() ? arguments.get<std::string>() : arguments.dump();
          if (tool.name.empty()) {
            return absl::UnavailableError(absl::StrCat(provider, ": tool call without a name"));
          }
          Started();
          result.tool_calls.push_back(std::move(tool));
        }
      }
    }
    if (chunk.value("done", false)) {
      done = true;
      std::string reason = chunk.value("done_reason", "stop");
      result.finish_reason = result.tool_calls.empty() ? reason : "tool_calls";
    }
    return absl::OkStatus();
  }

  void Started() {
    if (started) return;
    started = true;
    result.first_token = absl::Now() - start;
  }

  absl::Status Feed(std::string_view bytes) {
    for (;;) {
      size_t newline = bytes.find('\n');
      if (newline == std::string_view::npos) break;
      absl::Status status;
      if (pending.empty()) {
        status = Line(bytes.substr(0, newline));
      } else {
        pending.append(bytes.substr(0, newline));
        status = Line(pending);
        pending.clear();
      }
      if (!status.ok()) return status;
      bytes.remove_prefix(newline + 1);
    }
    if (pending.size() + bytes.size() > kMaxLineBytes) {
      return absl::UnavailableError(absl::StrCat(provider, ": stream line too long"));
    }
    pending.append(bytes);
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<OllamaChat>> OllamaChat::Create(OllamaChatOptions options) {
  if (!absl::StartsWith(options.base_url, "http://") &&
      !absl::StartsWith(options.base_url, "https://")) {
    return InvalidField("base_url", absl::StrCat("must be an http:// or https:// URL, got \"",
                                                 options.base_url, "\""));
  }
  if (!options.extra_body.is_object()) return InvalidField("options", "must be a JSON object");
  return std::unique_ptr<OllamaChat>(new OllamaChat(std::move(options)));
}

OllamaChat::OllamaChat(OllamaChatOptions options)
    : options_(std::move(options)),
      url_(absl::StrCat(ServerRoot(options_.base_url), "/api/chat")),
      http_({.provider = options_.provider, .connect_timeout = options_.connect_timeout}) {}

nlohmann::json OllamaChat::RequestBody(const speech::ChatRequest& request) const {
  nlohmann::json body = {{"model", request.model.empty() ? options_.model : request.model},
                         {"stream", true}};
  // Tool results name their tool (Ollama matches by name); find it from the call's id.
  std::map<std::string, std::string> tool_names;
  nlohmann::json messages = nlohmann::json::array();
  for (const speech::ChatMessage& message : request.messages) {
    nlohmann::json out = {{"role", message.role}, {"content", message.content}};
    if (!message.tool_calls.empty()) {
      nlohmann::json calls = nlohmann::json::array();
      for (const speech::ToolCall& call : message.tool_calls) {
        tool_names[call.id] = call.name;
        calls.push_back(
            {{"function", {{"name", call.name}, {"arguments", ArgumentsObject(call.arguments)}}}});
      }
      out["tool_calls"] = std::move(calls);
    }
    if (message.role == "tool") {
      auto name = tool_names.find(message.tool_call_id);
      if (name != tool_names.end()) out["tool_name"] = name->second;
    }
    messages.push_back(std::move(out));
  }
  body["messages"] = std::move(messages);
  if (!request.tools.empty()) {
    // Ollama wants a schema on every tool: an empty object schema for a tool without arguments.
    body["tools"] =
        ToolsJson(request.tools, nlohmann::json{{"type", "object"}, {"properties", {}}});
  }
  nlohmann::json model_options = nlohmann::json::object();
  if (auto t = request.temperature ? request.temperature : options_.temperature) {
    model_options["temperature"] = *t;
  }
  if (auto m = request.max_tokens ? request.max_tokens : options_.max_tokens) {
    model_options["num_predict"] = *m;
  }
  for (const auto& [key, value] : options_.extra_body.items()) {
    if (key == "options" && value.is_object()) {
      for (const auto& [k, v] : value.items()) model_options[k] = v;
    } else {
      body[key] = value;
    }
  }
  if (!model_options.empty()) body["options"] = std::move(model_options);
  return body;
}

absl::StatusOr<speech::ChatResult> OllamaChat::Chat(
    const speech::ChatRequest& request, absl::FunctionRef<void(std::string_view)> on_text,
    const speech::CancelFlag* cancel) {
  const std::string& provider = options_.provider;
  if (request.model.empty() && options_.model.empty()) {
    return InvalidField("model", "no model named by the request or the provider configuration");
  }
  HttpRequest http_request{
      .url = url_,
      .headers = {"Content-Type: application/json", "Accept: application/x-ndjson"},
      .body = RequestBody(request).dump(),
      .timeout = request.timeout};
  if (!options_.api_key.empty()) {
    http_request.headers.push_back(absl::StrCat("Authorization: Bearer ", options_.api_key));
  }
  Reply reply{on_text, absl::Now()};
  reply.provider = provider;
  PARLEY_ASSIGN_OR_RETURN(
      HttpResponse response,
      http_.Perform(
          http_request, [&](std::string_view bytes) { return reply.Feed(bytes); }, cancel));
  if (!response.ok()) return StatusFromHttpError(provider, response.status, response.body);
  if (!reply.pending.empty()) PARLEY_RETURN_IF_ERROR(reply.Line(reply.pending));
  if (!reply.done) {
    return absl::UnavailableError(
        absl::StrCat(provider, ": stream ended before the reply was complete"));
  }
  return std::move(reply.result);
}

}  // namespace parley::llm
