// The interfaces of the voice pipeline's providers — speech-to-text, the language model and
// text-to-speech — and one factory registry keyed by the provider names of common/providers
// (the list config-api validates templates against).
//
//   ProviderSet set = ...;                                   // built by the worker per call
//   PARLEY_ASSIGN_OR_RETURN(auto stt, set.stt->StartSession({.phrases = expected}));
//   stt->Push(frame);  ...  PARLEY_ASSIGN_OR_RETURN(std::string text, stt->EndUtterance());
//
//   ChatRequest request{.messages = history, .tools = tools};
//   PARLEY_ASSIGN_OR_RETURN(ChatResult reply,
//       llm->Chat(request, [&](std::string_view delta) { chunker.Push(delta); }, &cancel));
//
//   PARLEY_RETURN_IF_ERROR(tts->Synthesize("Hello.", [&](std::span<const int16_t> pcm) {
//     queue.Append(pcm); }, &cancel));
//
// Audio is always 16 kHz mono int16, the pipeline's format; providers resample themselves.
// Every blocking call takes a CancelFlag: once it is raised (barge-in, hang-up) the call stops
// its upstream work (closes the HTTP transfer, drops the synthesis) and returns CANCELLED.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace parley::speech {

// Raised by the pipeline to abandon a provider call in flight. Thread-safe; never lowered.
class CancelFlag {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

// ---------------------------------------------------------------------------------------------
// Speech-to-text.

struct SttSessionOptions {
  // Phrases the conversation expects next (from the current node's intents); a provider may
  // restrict recognition to them (pocketsphinx builds a grammar) or use them as hints.
  std::vector<std::string> phrases;
  // BCP-47 language ("en-US"); empty for the provider's default.
  std::string language;
};

// One call's recogniser: utterances one after another. Not thread-safe (the call's pipeline
// thread drives it).
class SttSession {
 public:
  virtual ~SttSession() = default;
  // Replaces the expected phrases for the next utterance (a node change).
  virtual absl::Status SetPhrases(const std::vector<std::string>& phrases) = 0;
  // Starts an utterance (the VAD heard speech start; the pipeline also feeds a little audio from
  // before it).
  virtual absl::Status StartUtterance() = 0;
  // One frame of the utterance.
  virtual absl::Status Push(std::span<const int16_t> pcm) = 0;
  // The best hypothesis so far ("" when none yet).
  virtual std::string Partial() = 0;
  // Ends the utterance and returns its final text ("" when nothing was recognised).
  virtual absl::StatusOr<std::string> EndUtterance() = 0;
};

class SpeechToText {
 public:
  virtual ~SpeechToText() = default;
  // A recogniser for one call. May be slow (model loading): called while the phone rings.
  virtual absl::StatusOr<std::unique_ptr<SttSession>> StartSession(
      const SttSessionOptions& options) = 0;
};

// ---------------------------------------------------------------------------------------------
// The language model (chat completions with tools).

struct ToolCall {
  std::string id;         // provider's id, echoed in the tool result message
  std::string name;       // tool name
  std::string arguments;  // JSON text of the arguments object, as the model produced it
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant messages that called tools
  std::string tool_call_id;          // tool messages: the call they answer
};

struct ToolDefinition {
  std::string name;
  std::string description;
  nlohmann::json parameters = nlohmann::json::object();  // JSON Schema of the arguments
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<ToolDefinition> tools;
  std::string model;  // empty: the provider's configured model
  std::optional<double> temperature;
  std::optional<int> max_tokens;
  // Whole-request deadline (connect to last byte); the first token has the same bound.
  absl::Duration timeout = absl::Seconds(30);
};

struct ChatResult {
  std::string text;                 // the assistant's whole reply text
  std::vector<ToolCall> tool_calls;  // complete tool calls, in order
  std::string finish_reason;        // "stop", "tool_calls", "length", …
  absl::Duration first_token;       // request start → first content or tool-call delta
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  // Streams one reply: `on_text` gets each piece of reply text as it arrives (on the calling
  // thread); the result holds the whole text and any tool calls. Fails with UNAVAILABLE
  // (cannot connect, 5xx), DEADLINE_EXCEEDED, CANCELLED (`cancel` raised), or the mapping of the
  // provider's error (401 → UNAUTHENTICATED, 429 → RESOURCE_EXHAUSTED, 400 → INVALID_ARGUMENT)
  // with the provider's message. Thread-safe: calls may run concurrently.
  virtual absl::StatusOr<ChatResult> Chat(const ChatRequest& request,
                                          absl::FunctionRef<void(std::string_view)> on_text,
                                          const CancelFlag* cancel) = 0;
};

// ---------------------------------------------------------------------------------------------
// Text-to-speech.

class TextToSpeech {
 public:
  virtual ~TextToSpeech() = default;
  // Synthesises `text`, handing 16 kHz PCM to `on_audio` as it becomes available (one piece for
  // non-streaming engines), on the calling thread; returns when all audio was delivered.
  // Fails with CANCELLED once `cancel` is raised. Thread-safe.
  virtual absl::Status Synthesize(std::string_view text,
                                  absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                                  const CancelFlag* cancel) = 0;
};

}  // namespace parley::speech
