// Test support for the conversation engine: RuntimeConfigs built from deploy/examples, hooks that
// record what the engine did, and a scripted LanguageModel double.
//
//   PARLEY_ASSIGN_OR_RETURN(v1::RuntimeConfig config, ExampleRuntimeConfig("lead-qualifier"));
//   RecordingHooks hooks;
//   FakeLanguageModel llm;
//   llm.Push({.deltas = {"Hello ", "there."}});
//   auto engine = ConversationEngine::Create(config, {}, {}, &llm, hooks.Hooks(), {});
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/speech/providers.h"
#include "nlohmann/json.hpp"
#include "parley/v1/config.pb.h"
#include "services/worker/engine/conversation_engine.h"

namespace parley::engine::testing {

// The runtime config of the example agent `agent` in deploy/examples: its template (no campaign
// overrides), agent spec, graph and every prompt of the examples. Fails with NOT_FOUND when the
// agent or a resource it names is missing.
absl::StatusOr<v1::RuntimeConfig> ExampleRuntimeConfig(std::string_view agent);

// A runtime config from spec JSON: `graph` (GraphSpec), `template_spec` (TemplateSpec), `agent`
// (AgentSpec) and prompts by name → text.
absl::StatusOr<v1::RuntimeConfig> MakeRuntimeConfig(
    const nlohmann::json& graph, const nlohmann::json& template_spec, const nlohmann::json& agent,
    const std::map<std::string, std::string>& prompts = {});

struct RecordedEvent {
  std::string type;
  EventDetail detail;
};

// Collects the patches and events an engine reports.
class RecordingHooks {
 public:
  EngineHooks Hooks(HttpPoster poster = nullptr);
  std::vector<nlohmann::json> patches;
  std::vector<RecordedEvent> events;
  // The merge of every patch, as the state service would hold it.
  nlohmann::json merged = nlohmann::json::object();
  // Nodes of the "node" events, in order.
  std::vector<std::string> Nodes() const;
};

// One scripted reply of FakeLanguageModel.
struct FakeReply {
  std::vector<std::string> deltas;  // streamed text, in pieces
  std::vector<speech::ToolCall> tool_calls;
  absl::Status error;  // not OK: Chat fails with it (after the deltas)
};

// A LanguageModel that answers with queued replies and records every request. When the queue is
// empty it replies "OK." Not thread-safe.
class FakeLanguageModel final : public speech::LanguageModel {
 public:
  void Push(FakeReply reply) { replies_.push_back(std::move(reply)); }
  absl::StatusOr<speech::ChatResult> Chat(const speech::ChatRequest& request,
                                          absl::FunctionRef<void(std::string_view)> on_text,
                                          const speech::CancelFlag* cancel) override;
  std::vector<speech::ChatRequest> requests;

 private:
  std::deque<FakeReply> replies_;
};

}  // namespace parley::engine::testing
