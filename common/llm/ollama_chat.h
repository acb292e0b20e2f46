// The `ollama` language-model provider on Ollama's native chat API: POST {base_url}/api/chat with
// "stream": true, answered by newline-delimited JSON objects, each carrying a piece of
// `message.content` (or whole `message.tool_calls`), the last one `"done": true` with its
// `done_reason` (https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion,
// https://ollama.com/blog/streaming-tool).
//
//   PARLEY_ASSIGN_OR_RETURN(auto llm, OllamaChat::Create({
//       .base_url = "http://ollama:11434", .model = "llama3.1:8b"}));
//   PARLEY_ASSIGN_OR_RETURN(speech::ChatResult reply,
//       llm->Chat({.messages = history, .tools = tools},
//                 [&](std::string_view piece) { chunker.Push(piece); }, &cancel));
//
// Why native rather than Ollama's /v1: the native API takes `options` (num_ctx, keep_alive…)
// and reports load/eval timings, and its tool calls come whole, so no fragment assembly.
// Tool-call arguments arrive as a JSON object; they are handed on as its JSON text, like the
// OpenAI-compatible provider's. Ollama gives tool calls no ids: they are numbered "call_<n>".
// Connections stay warm (http_stream.h); a raised CancelFlag drops the transfer and its
// connection, which makes Ollama stop generating.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/llm/http_stream.h"
#include "common/speech/providers.h"

namespace parley::llm {

struct OllamaChatOptions {
  // The server root, "http://ollama:11434" (a trailing "/v1" or "/api" is ignored).
  std::string base_url = "http://localhost:11434";
  // Sent as "Authorization: Bearer <api_key>" when set (Ollama behind a proxy); usually empty.
  std::string api_key;
  // Model used when the request names none ("llama3.1:8b").
  std::string model;
  std::optional<double> temperature;
  std::optional<int> max_tokens;  // Ollama's options.num_predict
  // Extra top-level request fields merged into every body ({"keep_alive": "30m",
  // "options": {"num_ctx": 8192}}): the template's `llm.options`. An "options" object merges
  // into the generated one.
  nlohmann::json extra_body = nlohmann::json::object();
  absl::Duration connect_timeout = absl::Seconds(5);
  std::string provider = "ollama";
};

class OllamaChat final : public speech::LanguageModel {
 public:
  // INVALID_ARGUMENT when base_url is not http(s) or extra_body not an object. Does not connect.
  static absl::StatusOr<std::unique_ptr<OllamaChat>> Create(OllamaChatOptions options);

  // See speech::LanguageModel. Also INVALID_ARGUMENT when no model is named, UNAVAILABLE when
  // the stream ends before its `"done": true` line, holds a malformed line, or carries an
  // {"error": …} line; HTTP errors map as in api_error.h (404: model not pulled).
  absl::StatusOr<speech::ChatResult> Chat(const speech::ChatRequest& request,
                                          absl::FunctionRef<void(std::string_view)> on_text,
                                          const speech::CancelFlag* cancel) override;

  // The JSON body sent for `request` (exposed for tests).
  nlohmann::json RequestBody(const speech::ChatRequest& request) const;

 private:
  explicit OllamaChat(OllamaChatOptions options);

  const OllamaChatOptions options_;
  const std::string url_;
  HttpStream http_;
};

}  // namespace parley::llm
