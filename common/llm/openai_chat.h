// The `openai` language-model provider: any OpenAI-compatible Chat Completions endpoint (OpenAI,
// Groq, Cerebras, vLLM, llama.cpp server, Ollama's /v1), streamed over server-sent events with
// tool calls, through libcurl.
//
//   PARLEY_ASSIGN_OR_RETURN(auto llm, OpenAiChat::Create({
//       .base_url = "https://api.groq.com/openai/v1",   // POST {base_url}/chat/completions
//       .api_key = key,                                 // "Authorization: Bearer <key>"
//       .model = "llama-3.1-8b-instant",
//       .provider = "groq"}));
//   speech::CancelFlag cancel;
//   PARLEY_ASSIGN_OR_RETURN(speech::ChatResult reply,
//       llm->Chat({.messages = history, .tools = tools},
//                 [&](std::string_view piece) { chunker.Push(piece); }, &cancel));
//
// Each reply is one POST with "stream": true; text pieces reach `on_text` as the chunks arrive,
// tool calls are assembled from their fragments (chat_delta.h). Connections stay warm: a small
// pool of curl handles keeps its keep-alive connections (and DNS and TLS sessions) between calls,
// with TCP_NODELAY. A raised CancelFlag is noticed within ~50 ms even while no byte flows; the
// transfer is then dropped and its connection closed, so the server stops generating.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/llm/curl_transfer.h"
#include "common/speech/providers.h"

struct curl_slist;

namespace parley::llm {

// The "tools" array of the OpenAI chat format (each {"type": "function", "function": {name,
// description, parameters}}), which Ollama's native /api/chat takes too. A tool without a
// parameter schema gets `missing_parameters`, or no "parameters" field when that is null.
nlohmann::json ToolsJson(const std::vector<speech::ToolDefinition>& tools,
                         const nlohmann::json& missing_parameters = nullptr);

struct OpenAiChatOptions {
  // The API root, without the trailing "/chat/completions": "https://api.openai.com/v1",
  // "http://ollama:11434/v1". http:// or https:// only.
  std::string base_url;
  // Sent as "Authorization: Bearer <api_key>"; empty for servers without authentication.
  std::string api_key;
  // Model used when the request names none.
  std::string model;
  // Defaults for requests that set none; unset: the server's default.
  std::optional<double> temperature;
  std::optional<int> max_tokens;
  // Extra HTTP headers ("OpenAI-Organization", proxies' headers), sent with every request.
  std::vector<std::pair<std::string, std::string>> headers;
  // Extra top-level request fields, merged into every request body ({"top_p": 0.9, "seed": 1});
  // the template's `llm.options`. They override the fields this class sets.
  nlohmann::json extra_body = nlohmann::json::object();
  // Bound on establishing a connection (TCP + TLS); the request's own timeout also applies.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Idle curl handles (each keeping its connections open) kept for the next calls.
  int max_idle_handles = 8;
  // Names the provider in error messages ("openai", "groq").
  std::string provider = "openai";
};

class OpenAiChat final : public speech::LanguageModel {
 public:
  // A provider for `options`. Fails with INVALID_ARGUMENT when base_url is not an http(s) URL
  // or a header is malformed. Does not connect.
  static absl::StatusOr<std::unique_ptr<OpenAiChat>> Create(OpenAiChatOptions options);

  // Calls in flight must have returned before destruction.
  ~OpenAiChat() override;

  // See speech::LanguageModel. Also fails with INVALID_ARGUMENT when neither the request nor the
  // options name a model, UNAVAILABLE when the stream ends before the reply is complete or is
  // malformed, NOT_FOUND/PERMISSION_DENIED for HTTP 404/403 (api_error.h).
  absl::StatusOr<speech::ChatResult> Chat(const speech::ChatRequest& request,
                                          absl::FunctionRef<void(std::string_view)> on_text,
                                          const speech::CancelFlag* cancel) override;

  // The JSON body sent for `request` (exposed for tests and logs).
  nlohmann::json RequestBody(const speech::ChatRequest& request) const;

 private:
  explicit OpenAiChat(OpenAiChatOptions options, curl_slist* headers);

  const OpenAiChatOptions options_;
  const std::string url_;
  curl_slist* const headers_;  // read-only after construction; shared by all transfers
  CurlHandlePool pool_{options_.max_idle_handles};
};

}  // namespace parley::llm
