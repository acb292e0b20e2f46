// Rebuilds one assistant reply from the chunks of a streamed OpenAI-style chat completion
// ("chat.completion.chunk" objects, one per server-sent event): reply text arrives as
// choices[0].delta.content pieces; each tool call arrives as choices[0].delta.tool_calls entries
// keyed by `index`, the first carrying its id and function name, later ones fragments of
// function.arguments to concatenate; choices[0].finish_reason ends the reply.
//
//   ChatDeltaAccumulator reply("openai");
//   for (each event's JSON chunk) {
//     PARLEY_ASSIGN_OR_RETURN(std::string text, reply.Apply(chunk));
//     if (!text.empty()) on_text(text);
//   }
//   PARLEY_ASSIGN_OR_RETURN(speech::ChatResult result, std::move(reply).Finish());
//
// Lenient with servers that bend the format: a tool-call entry without `index` continues the
// previous call unless it brings a new id; an id or name repeated in later fragments is not
// appended twice; a missing id becomes "call_<index>"; empty arguments become "{}". Chunks
// without choices (usage reports) and unknown fields are ignored. Not thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/speech/providers.h"

namespace parley::llm {

class ChatDeltaAccumulator final {
 public:
  // `provider` names the provider in error messages.
  explicit ChatDeltaAccumulator(std::string provider = "openai") : provider_(std::move(provider)) {}

  // Applies one streamed chunk and returns the reply text it adds ("" when none). Fails with
  // the status StatusFromErrorObject maps when the chunk is an error object ({"error":{…}}), and
  // with UNAVAILABLE when it is not a chunk object at all.
  absl::StatusOr<std::string> Apply(const nlohmann::json& chunk);

  // Applies a whole, non-streamed "chat.completion" (a server that ignored stream:true) and
  // returns its text. Fails like Apply.
  absl::StatusOr<std::string> ApplyCompletion(const nlohmann::json& completion);

  // A content or tool-call delta has been seen (the model started answering).
  bool started() const { return started_; }
  // A finish_reason has been seen: the reply is complete even if the stream is cut now.
  bool finished() const { return !finish_reason_.empty(); }

  // The reply: text, tool calls in index order, finish reason. Fails with UNAVAILABLE when a
  // tool call never got a function name.
  absl::StatusOr<speech::ChatResult> Finish() &&;

 private:
  struct PartialToolCall {
    std::string id;
    std::string name;
    std::string arguments;
  };

  absl::Status ApplyToolCall(const nlohmann::json& entry);
  absl::StatusOr<std::string> ApplyChoice(const nlohmann::json& choice, const char* field);

  const std::string provider_;
  std::string text_;
  std::map<int, PartialToolCall> tool_calls_;
  int last_index_ = -1;
  std::string finish_reason_;
  bool started_ = false;
};

}  // namespace parley::llm
