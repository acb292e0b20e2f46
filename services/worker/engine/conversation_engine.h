// The conversation engine: walks an agent's graph (GraphSpec) one callee turn at a time and
// decides what the agent says. The voice pipeline feeds it final transcripts and speaks its text.
//
// Each callee turn: (1) opt-out ("stop calling me", the graph's `opt_out` intent) ends the call
// after a confirmation; (2) the template's end-call phrases end it with a goodbye; (3) the current
// node's transitions are tried in order — intent (matched from the node's intents' phrases) and
// condition (over the state, with the call context under `context`) — and the first match is
// taken, applying its and the target node's `set_state`; (4) the agent speaks: the `scripted`
// policy (no language model) says the node's lines with {variables} filled; a language model is
// asked with the system prompt, the node's prompt and lines as guidance, the history and the
// node's tools, and the tools it calls run (`set_state`, `end_call`, `transfer`, `http`), after
// which condition-only transitions are tried again, since routing follows the state tools wrote.
// Terminal nodes end the call after their lines; a node entered (or, scripted, re-asked in) more
// than `max_node_visits` times ends it gracefully, and so does a turn beyond `max_turns`.
//
//   EngineHooks hooks{.update_state = [&](const nlohmann::json& patch) {
//                       return state_client.UpdateState(call_id, patch); },
//                     .event = [&](std::string_view type, const EventDetail& d) { ... }};
//   PARLEY_ASSIGN_OR_RETURN(auto engine, ConversationEngine::Create(config, context, state,
//                                                                  llm, hooks, {}));
//   TurnOutput greeting = engine->Start([&](std::string_view text) { tts.Queue(text); });
//   ...
//   PARLEY_ASSIGN_OR_RETURN(TurnOutput out, engine->OnUserTurn(transcript, on_text, &cancel));
//   if (out.end_call) { ... hang up after the audio; report engine->Summary() ... }
//
// Thread-compatible: one call's pipeline drives its engine from one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/speech/providers.h"
#include "nlohmann/json.hpp"
#include "parley/v1/config.pb.h"
#include "services/worker/engine/graph_model.h"
#include "services/worker/engine/http_tool.h"

namespace parley::engine {

using EventDetail = std::map<std::string, std::string>;

// How the engine reaches the rest of the call.
struct EngineHooks {
  // Persists a merge patch of the conversation state (the state service's UpdateState). The
  // engine has already merged it into its own copy. Null: local state only. An error is reported
  // as an "error" event (and to the model for a tool) and the call goes on.
  std::function<absl::Status(const nlohmann::json& patch)> update_state;
  // Something happened: "node" {node, from, via ("start", "intent", "condition", "default",
  // "opt_out"), intent?}, "tool" {name, ok, error?}, "transfer" {to}, "error" {what, error}.
  std::function<void(std::string_view type, const EventDetail& detail)> event;
  // Performs `http` tools. Null: CurlHttpPoster().
  HttpPoster http_post;
};

struct EngineOptions {
  // Sent with every http tool request as `call_id`.
  std::string call_id;
  // Most times a node may be entered (or re-asked in by the scripted policy); unset: the
  // template's limits.max_node_visits, else 5.
  std::optional<int> max_node_visits;
  // Most callee turns per call; the next one ends the call with reason "turn_limit".
  int max_turns = 60;
  // Most language-model requests per callee turn (each tool round is one).
  int max_llm_rounds = 4;
  std::string nudge_text = "Are you still there?";
  std::string goodbye_text = "Thank you for your time. Goodbye!";
  std::string opt_out_text =
      "Understood. I'm sorry for the interruption, and we won't call you again. Goodbye.";
  std::string reask_text = "Sorry, could you say that again?";
  // Deadline of each model request.
  absl::Duration llm_timeout = absl::Seconds(30);
};

// What one agent turn produced.
struct TurnOutput {
  std::string text;  // everything the agent says this turn, lines separated by spaces
  bool end_call = false;
  // Why the call ends when end_call: "graph_end" (terminal node), "opt_out", "end_call_phrase",
  // "end_call" (the model's tool), "transfer", "node_visit_limit", "turn_limit".
  std::string ended_reason;
  bool opt_out = false;     // the callee asked not to be called again (put the number on DNC)
  std::string transfer_to;  // set when a transfer tool was called
  std::string node;         // the current node after the turn
  std::string intent;       // the intent recognised in the callee's turn ("" when none)
  std::optional<absl::Duration> llm_first_token;  // first request of the turn
};

// One entry of the engine's transcript.
struct EngineTurn {
  std::string role;  // "agent" or "callee"
  std::string text;  // for an interrupted agent turn: what the callee heard
  std::string node;
  bool interrupted = false;
};

class ConversationEngine final {
 public:
  using TextSink = absl::FunctionRef<void(std::string_view)>;

  // An engine for one call. `call_context` is the call's context (the agent's default_context
  // fills what it lacks), `initial_state` the conversation state from the state service (durable
  // keys of earlier calls). `llm` null selects the deterministic `scripted` policy; it must
  // outlive the engine. Fails with INVALID_ARGUMENT (field path) when the config's specs do not
  // parse or the graph is inconsistent (see GraphModel).
  static absl::StatusOr<std::unique_ptr<ConversationEngine>> Create(
      const v1::RuntimeConfig& config, nlohmann::json call_context, nlohmann::json initial_state,
      speech::LanguageModel* llm, EngineHooks hooks, EngineOptions options = {});
  // The same on a model built already (SharedGraphModel: calls of one config share it).
  static std::unique_ptr<ConversationEngine> Create(std::shared_ptr<const GraphModel> model,
                                                    nlohmann::json call_context,
                                                    nlohmann::json initial_state,
                                                    speech::LanguageModel* llm, EngineHooks hooks,
                                                    EngineOptions options = {});

  // Enters the start node (its set_state, through update_state; a "node" event) and returns the
  // greeting: the template's `greeting`, else the start node's lines, filled — never the
  // language model, so it is cheap and can be synthesised while the phone rings. `on_text`
  // receives each line. Call once; later calls return nothing.
  TurnOutput Start(TextSink on_text);

  // Handles one final callee transcript and returns the agent's reply (see the file comment).
  // `on_text` receives the reply as it is produced (whole lines when scripted, deltas from a
  // model). Fails with CANCELLED when `cancel` is raised during a model request (the turn so far
  // stays in the history; call OnInterrupted with what was played), FAILED_PRECONDITION after
  // the call ended or before Start. A model error other than CANCELLED is not an error: the
  // node's scripted lines are spoken instead (an "error" event says so).
  absl::StatusOr<TurnOutput> OnUserTurn(std::string_view text, TextSink on_text,
                                        const speech::CancelFlag* cancel = nullptr);

  // The last agent turn was cut off by barge-in: the history keeps only `heard_text`.
  void OnInterrupted(std::string_view heard_text);

  // Records something the pipeline said on its own (a nudge, a voicemail message) in the history.
  void RecordAgentText(std::string_view text);

  // Phrases the callee is likely to say next: the phrases of the intents the current node's
  // transitions test, opt-out phrases and the end-call phrases; deduplicated, in that order.
  std::vector<std::string> ExpectedPhrases() const;

  const std::string& NudgeText() const { return options_.nudge_text; }
  const std::string& GoodbyeText() const { return options_.goodbye_text; }

  // A plain-text end-of-call summary: nodes visited, state keys set with their values, and how
  // the call ended. Never fails.
  std::string Summary() const;
  // A two-sentence summary written by the language model; Summary() when there is none or the
  // request fails.
  std::string SummarizeWithLlm(const speech::CancelFlag* cancel = nullptr);

  const nlohmann::json& state() const { return state_; }
  const std::string& current_node() const { return current_; }
  // Nodes entered, in order (a node entered twice appears twice).
  const std::vector<std::string>& nodes_visited() const { return visited_; }
  const std::vector<EngineTurn>& transcript() const { return transcript_; }
  bool ended() const { return ended_; }
  const std::string& ended_reason() const { return ended_reason_; }

 private:
  ConversationEngine(std::shared_ptr<const GraphModel> model, nlohmann::json call_context,
                     nlohmann::json initial_state, speech::LanguageModel* llm, EngineHooks hooks,
                     EngineOptions options);

  // --- routing (conversation_engine.cc)
  void Emit(std::string_view type, const EventDetail& detail);
  // Merges `patch` into the state and persists it; the hook's error, if any.
  absl::Status ApplyPatch(const nlohmann::json& patch);
  // The state conditions see: the state with the effective call context under "context".
  nlohmann::json ConditionScope() const;
  std::string Fill(std::string_view text) const;
  // Enters `node` (visit count, set_state, "node" event). False when the visit limit forbids it.
  bool Enter(const std::string& node, EventDetail detail);
  // The first transition of the current node that matches; nullptr when none. `condition_only`
  // considers only transitions with a condition and no intent.
  // The first of the current node's transitions whose intent the callee's turn `text` expresses
  // (or that tests none) and whose condition holds; with no text (after tools), the first that
  // tests a condition and no intent and whose condition holds. Null when none does.
  const GraphModel::Edge* FindEdge(std::optional<std::string_view> text) const;
  // Takes `edge` (its set_state, then Enter). False when the visit limit forbids it.
  bool Take(const GraphModel::Edge& edge, const std::string& intent, std::string_view via);
  void Say(std::string_view text, TurnOutput& out, TextSink on_text);
  void End(std::string_view reason, TurnOutput& out);
  // Speaks the goodbye and ends the call with `reason`.
  void EndWithGoodbye(std::string_view reason, TurnOutput& out, TextSink on_text);
  bool IsOptOut(std::string_view text) const;
  void SayNodeLines(TurnOutput& out, TextSink on_text);
  void FinishTurn(TurnOutput& out);
  // Moves what Say() spoke since the last flush into the history as one agent message.
  void FlushSaid();

  // --- the language model (llm_turn.cc)
  absl::Status LlmSpeak(TurnOutput& out, TextSink on_text, const speech::CancelFlag* cancel);
  std::string SystemPrompt() const;
  std::vector<speech::ToolDefinition> NodeTools() const;
  // Runs one tool call; returns the JSON result for the model.
  nlohmann::json RunTool(const speech::ToolCall& call, TurnOutput& out);
  nlohmann::json RunHttpTool(const v1::ToolSpec& tool, const nlohmann::json& args);

  std::shared_ptr<const GraphModel> model_;
  nlohmann::json call_context_;       // as given
  nlohmann::json effective_context_;  // default_context merged under call_context_
  nlohmann::json state_;
  speech::LanguageModel* llm_;
  EngineHooks hooks_;
  EngineOptions options_;
  int max_node_visits_ = 5;

  bool started_ = false;
  bool ended_ = false;
  std::string ended_reason_;
  std::string current_;
  std::vector<std::string> visited_;
  std::map<std::string, int> visits_;
  std::set<std::string> keys_set_;  // top-level state keys patched during this call
  int turns_ = 0;
  std::string said_;                          // spoken by Say() and not yet in history_
  std::vector<speech::ChatMessage> history_;  // without the system message
  std::vector<EngineTurn> transcript_;
};

}  // namespace parley::engine
