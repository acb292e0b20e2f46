#include "services/worker/engine/conversation_engine.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json/merge_patch.h"
#include "common/speech/scripted_policy.h"
#include "common/speech/words.h"
#include "common/status/status.h"

namespace parley::engine {

using Json = nlohmann::json;

namespace {

constexpr int kDefaultMaxNodeVisits = 5;

// Used when the graph defines no `opt_out` intent.
constexpr std::array<std::string_view, 6> kBuiltinOptOutPhrases = {
    "stop calling", "remove me",     "take me off your list",
    "do not call",  "don't call me", "unsubscribe"};

}  // namespace

absl::StatusOr<std::unique_ptr<ConversationEngine>> ConversationEngine::Create(
    const v1::RuntimeConfig& config, Json call_context, Json initial_state,
    speech::LanguageModel* llm, EngineHooks hooks, EngineOptions options) {
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<GraphModel> model, GraphModel::FromRuntimeConfig(config));
  return Create(std::shared_ptr<const GraphModel>(std::move(model)), std::move(call_context),
                std::move(initial_state), llm, std::move(hooks), std::move(options));
}

std::unique_ptr<ConversationEngine> ConversationEngine::Create(
    std::shared_ptr<const GraphModel> model, Json call_context, Json initial_state,
    speech::LanguageModel* llm, EngineHooks hooks, EngineOptions options) {
  return std::unique_ptr<ConversationEngine>(
      new ConversationEngine(std::move(model), std::move(call_context), std::move(initial_state),
                             llm, std::move(hooks), std::move(options)));
}

ConversationEngine::ConversationEngine(std::shared_ptr<const GraphModel> model, Json call_context,
                                       Json initial_state, speech::LanguageModel* llm,
                                       EngineHooks hooks, EngineOptions options)
    : model_(std::move(model)),
      call_context_(call_context.is_object() ? std::move(call_context) : Json::object()),
      state_(initial_state.is_object() ? std::move(initial_state) : Json::object()),
      llm_(llm),
      hooks_(std::move(hooks)),
      options_(std::move(options)) {
  effective_context_ = json::MergePatch(model_->default_context(), call_context_);
  const v1::TemplateSpec& t = model_->template_spec();
  if (options_.max_node_visits.has_value()) {
    max_node_visits_ = *options_.max_node_visits;
  } else if (t.has_limits() && t.limits().has_max_node_visits()) {
    max_node_visits_ = t.limits().max_node_visits();
  } else {
    max_node_visits_ = kDefaultMaxNodeVisits;
  }
  if (max_node_visits_ < 1) max_node_visits_ = 1;
  if (!hooks_.http_post) hooks_.http_post = CurlHttpPoster();
}

void ConversationEngine::Emit(std::string_view type, const EventDetail& detail) {
  if (hooks_.event) hooks_.event(type, detail);
}

absl::Status ConversationEngine::ApplyPatch(const Json& patch) {
  if (!patch.is_object() || patch.empty()) return absl::OkStatus();
  state_ = json::MergePatch(std::move(state_), patch);
  for (const auto& [key, value] : patch.items()) keys_set_.insert(key);
  if (!hooks_.update_state) return absl::OkStatus();
  absl::Status status = hooks_.update_state(patch);
  if (!status.ok()) Emit("error", {{"what", "update_state"}, {"error", status.ToString()}});
  return status;
}

Json ConversationEngine::ConditionScope() const {
  Json scope = state_;
  scope["context"] = effective_context_;
  return scope;
}

std::string ConversationEngine::Fill(std::string_view text) const {
  absl::StatusOr<speech::FilledText> filled =
      speech::FillVariables(text, {&call_context_, &state_, &model_->default_context()});
  // Config-api validated the braces; should one slip through, speak the text as written.
  return filled.ok() ? std::move(filled->text) : std::string(text);
}

bool ConversationEngine::Enter(const std::string& node, EventDetail detail) {
  if (visits_[node] + 1 > max_node_visits_) return false;
  ++visits_[node];
  visited_.push_back(node);
  detail["from"] = current_;
  detail["node"] = node;
  current_ = node;
  (void)ApplyPatch(model_->node(node)->set_state);  // errors are reported as events
  Emit("node", detail);
  return true;
}

const GraphModel::Edge* ConversationEngine::FindEdge(std::optional<std::string_view> text) const {
  const GraphModel::Node* node = model_->node(current_);
  std::optional<Json> scope;
  for (const GraphModel::Edge& edge : node->edges) {
    const std::string& wants = edge.spec->intent();
    if (!text.has_value()) {
      // After tools: only transitions that test the state alone.
      if (!edge.has_condition || !wants.empty()) continue;
    } else if (!wants.empty()) {
      const speech::IntentPhrases* intent = model_->intent(wants);
      if (intent == nullptr || !speech::MatchIntent(*text, std::span(intent, 1)).has_value()) {
        continue;
      }
    }
    if (edge.has_condition) {
      if (!scope.has_value()) scope = ConditionScope();
      if (!edge.condition.Evaluate(*scope)) continue;
    }
    return &edge;
  }
  return nullptr;
}

bool ConversationEngine::Take(const GraphModel::Edge& edge, const std::string& intent,
                              std::string_view via) {
  const std::string& to = edge.spec->to();
  if (visits_[to] + 1 > max_node_visits_) return false;
  (void)ApplyPatch(edge.set_state);
  EventDetail detail{{"via", std::string(via)}};
  if (!intent.empty()) detail["intent"] = intent;
  if (edge.has_condition) detail["condition"] = edge.spec->condition();
  return Enter(to, std::move(detail));
}

void ConversationEngine::Say(std::string_view text, TurnOutput& out, TextSink on_text) {
  if (text.empty()) return;
  // The sink gets a stream: lines after the first carry the space that separates them, so a
  // sentence chunker downstream sees "one. Two" and not "one.Two".
  const bool first = out.text.empty();
  if (!first) out.text += ' ';
  out.text += text;
  if (!said_.empty()) said_ += ' ';
  said_ += text;
  if (first) {
    on_text(text);
  } else {
    std::string spaced(" ");
    spaced.append(text);
    on_text(spaced);
  }
}

void ConversationEngine::FlushSaid() {
  if (said_.empty()) return;
  history_.push_back({.role = "assistant", .content = std::move(said_)});
  said_.clear();
}

void ConversationEngine::End(std::string_view reason, TurnOutput& out) {
  if (ended_) return;
  ended_ = true;
  ended_reason_ = std::string(reason);
  out.end_call = true;
  out.ended_reason = ended_reason_;
}

void ConversationEngine::EndWithGoodbye(std::string_view reason, TurnOutput& out,
                                        TextSink on_text) {
  Say(options_.goodbye_text, out, on_text);
  End(reason, out);
}

void ConversationEngine::SayNodeLines(TurnOutput& out, TextSink on_text) {
  for (const std::string& line : model_->node(current_)->spec->say()) {
    Say(Fill(line), out, on_text);
  }
}

void ConversationEngine::FinishTurn(TurnOutput& out) {
  FlushSaid();
  if (!out.text.empty()) {
    transcript_.push_back({.role = "agent", .text = out.text, .node = current_});
  }
  out.node = current_;
}

bool ConversationEngine::IsOptOut(std::string_view text) const {
  if (const speech::IntentPhrases* intent = model_->intent("opt_out")) {
    return speech::MatchIntent(text, std::span(intent, 1)).has_value();
  }
  for (std::string_view phrase : kBuiltinOptOutPhrases) {
    if (speech::ContainsPhrase(text, phrase)) return true;
  }
  return false;
}

TurnOutput ConversationEngine::Start(TextSink on_text) {
  TurnOutput out;
  if (started_) {
    out.node = current_;
    return out;
  }
  started_ = true;
  Enter(model_->graph().start_node(), {{"via", "start"}});
  if (const std::string& greeting = model_->template_spec().greeting(); !greeting.empty()) {
    Say(Fill(greeting), out, on_text);
  } else {
    SayNodeLines(out, on_text);
  }
  if (model_->node(current_)->terminal) End("graph_end", out);
  FinishTurn(out);
  return out;
}

absl::StatusOr<TurnOutput> ConversationEngine::OnUserTurn(std::string_view text, TextSink on_text,
                                                          const speech::CancelFlag* cancel) {
  if (!started_) return absl::FailedPreconditionError("conversation not started");
  if (ended_) return absl::FailedPreconditionError("conversation has ended");
  TurnOutput out;
  ++turns_;
  history_.push_back({.role = "user", .content = std::string(text)});
  transcript_.push_back({.role = "callee", .text = std::string(text), .node = current_});

  // (1) Opt-out wins over everything: the callee's wish is honoured whatever the node.
  if (IsOptOut(text)) {
    out.opt_out = true;
    out.intent = "opt_out";
    const GraphModel::Edge* edge = nullptr;
    const Json scope = ConditionScope();
    for (const GraphModel::Edge& e : model_->node(current_)->edges) {
      if (e.spec->intent() == "opt_out" && (!e.has_condition || e.condition.Evaluate(scope))) {
        edge = &e;
        break;
      }
    }
    if (edge != nullptr) {
      (void)ApplyPatch(edge->set_state);
      visits_[edge->spec->to()] = 0;  // the confirmation is never refused by the visit limit
      Enter(edge->spec->to(), {{"via", "opt_out"}, {"intent", "opt_out"}});
      SayNodeLines(out, on_text);
    }
    if (out.text.empty()) {
      (void)ApplyPatch(Json{{"opted_out", true}});
      Say(options_.opt_out_text, out, on_text);
    }
    End("opt_out", out);
    FinishTurn(out);
    return out;
  }
  // (2) The template's end-call phrases.
  for (const std::string& phrase : model_->template_spec().end_call_phrases()) {
    if (speech::ContainsPhrase(text, phrase)) {
      EndWithGoodbye("end_call_phrase", out, on_text);
      FinishTurn(out);
      return out;
    }
  }
  if (turns_ > options_.max_turns) {
    EndWithGoodbye("turn_limit", out, on_text);
    FinishTurn(out);
    return out;
  }
  // (3) Route: the node's transitions in order, the first whose intent the turn expresses (and
  // whose condition holds) wins — the graph lists the specific intents before the general ones,
  // so "the earlier one, neither of the others" books the first slot in a node that tests
  // slot_first before callback. The intent reported is the taken transition's, else the first
  // of the graph's intents the turn expresses.
  const GraphModel::Node* node = model_->node(current_);
  const GraphModel::Edge* edge = FindEdge(text);
  if (edge != nullptr && !edge->spec->intent().empty()) {
    out.intent = edge->spec->intent();
  } else {
    out.intent = speech::MatchIntent(text, model_->intents()).value_or("");
  }
  if (edge != nullptr) {
    const char* via = !edge->spec->intent().empty() ? "intent"
                      : edge->has_condition         ? "condition"
                                                    : "default";
    if (!Take(*edge, edge->spec->intent().empty() ? "" : out.intent, via)) {
      EndWithGoodbye("node_visit_limit", out, on_text);
      FinishTurn(out);
      return out;
    }
  } else if (llm_ == nullptr && ++visits_[current_] > max_node_visits_) {
    // A scripted re-ask repeats the node's line, so it counts as a visit; a model talking within
    // a node over several turns (asking budget, then company) is progress, bounded by max_turns.
    EndWithGoodbye("node_visit_limit", out, on_text);
    FinishTurn(out);
    return out;
  }
  // (4) Speak.
  if (llm_ != nullptr) {
    absl::Status status = LlmSpeak(out, on_text, cancel);
    if (!status.ok()) {
      FinishTurn(out);
      return status;
    }
  } else if (edge != nullptr) {
    SayNodeLines(out, on_text);
  } else {
    Say(options_.reask_text, out, on_text);
    if (!node->spec->say().empty()) Say(Fill(*node->spec->say().rbegin()), out, on_text);
  }
  // (5) Terminal nodes end the call after their lines.
  if (!ended_ && model_->node(current_)->terminal) End("graph_end", out);
  FinishTurn(out);
  return out;
}

void ConversationEngine::OnInterrupted(std::string_view heard_text) {
  size_t first = 0;
  for (size_t i = history_.size(); i > 0; --i) {
    if (history_[i - 1].role == "user") {
      first = i;
      break;
    }
  }
  bool placed = false;
  std::vector<speech::ChatMessage> kept(history_.begin(), history_.begin() + first);
  for (size_t i = first; i < history_.size(); ++i) {
    speech::ChatMessage message = std::move(history_[i]);
    if (message.role == "assistant" && !message.content.empty()) {
      message.content = placed ? "" : std::string(heard_text);
      placed = true;
      // An assistant message with neither text nor tool calls says nothing; providers reject it.
      if (message.content.empty() && message.tool_calls.empty()) continue;
    }
    kept.push_back(std::move(message));
  }
  history_ = std::move(kept);
  for (size_t i = transcript_.size(); i > 0; --i) {
    if (transcript_[i - 1].role == "agent") {
      transcript_[i - 1].text = std::string(heard_text);
      transcript_[i - 1].interrupted = true;
      break;
    }
  }
}

void ConversationEngine::RecordAgentText(std::string_view text) {
  if (text.empty()) return;
  history_.push_back({.role = "assistant", .content = std::string(text)});
  transcript_.push_back({.role = "agent", .text = std::string(text), .node = current_});
}

std::vector<std::string> ConversationEngine::ExpectedPhrases() const {
  std::vector<std::string> phrases;
  std::set<std::string> seen;
  auto add = [&](std::string_view phrase) {
    if (!phrase.empty() && seen.emplace(phrase).second) phrases.emplace_back(phrase);
  };
  if (const GraphModel::Node* node = model_->node(current_)) {
    for (const speech::IntentPhrases& intent : node->tested_intents) {
      for (const std::string& phrase : intent.phrases) add(phrase);
    }
  }
  if (const speech::IntentPhrases* opt_out = model_->intent("opt_out")) {
    for (const std::string& phrase : opt_out->phrases) add(phrase);
  } else {
    for (std::string_view phrase : kBuiltinOptOutPhrases) add(phrase);
  }
  for (const std::string& phrase : model_->template_spec().end_call_phrases()) add(phrase);
  return phrases;
}

}  // namespace parley::engine
