// End-of-call summaries of ConversationEngine.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/worker/engine/conversation_engine.h"

namespace parley::engine {

namespace {

std::string DescribeEnd(std::string_view reason) {
  if (reason == "graph_end") return "the conversation reached the end of the graph";
  if (reason == "opt_out") return "the callee asked not to be called again";
  if (reason == "end_call_phrase") return "the callee said goodbye";
  if (reason == "end_call") return "the agent ended the call";
  if (reason == "transfer") return "the callee was transferred";
  if (reason == "node_visit_limit") return "the conversation went in circles (node visit limit)";
  if (reason == "turn_limit") return "the conversation ran too long (turn limit)";
  return std::string(reason);
}

}  // namespace

std::string ConversationEngine::Summary() const {
  std::string summary = absl::StrCat(
      "Nodes visited: ", visited_.empty() ? "none" : absl::StrJoin(visited_, " -> "), ".");
  std::vector<std::string> facts;
  for (const std::string& key : keys_set_) {
    auto it = state_.find(key);
    facts.push_back(absl::StrCat(key, "=", it == state_.end() ? "(deleted)" : it->dump()));
  }
  absl::StrAppend(&summary, "\nState set: ", facts.empty() ? "nothing" : absl::StrJoin(facts, ", "),
                  ".");
  absl::StrAppend(&summary, "\nOutcome: ",
                  ended_ ? absl::StrCat(DescribeEnd(ended_reason_), " (in node ", current_, ")")
                         : absl::StrCat("the call ended in node ", current_),
                  ".");
  absl::StrAppend(&summary, "\nCallee turns: ", turns_, ".");
  return summary;
}

std::string ConversationEngine::SummarizeWithLlm(const speech::CancelFlag* cancel) {
  const std::string structured = Summary();
  if (llm_ == nullptr) return structured;
  std::string call;
  for (const EngineTurn& turn : transcript_) {
    absl::StrAppend(&call, turn.role == "agent" ? "Agent: " : "Callee: ", turn.text,
                    turn.interrupted ? " (interrupted)" : "", "\n");
  }
  speech::ChatRequest request;
  request.messages.push_back(
      {.role = "system",
       .content = "You summarise phone calls for a CRM. Write exactly two plain sentences: what "
                  "the call was about and how it ended, with any commitment made."});
  request.messages.push_back(
      {.role = "user", .content = absl::StrCat("Transcript:\n", call, "\nFacts:\n", structured)});
  request.model = model_->template_spec().llm().model();
  request.timeout = options_.llm_timeout;
  absl::StatusOr<speech::ChatResult> result = llm_->Chat(
      request, [](std::string_view) {}, cancel);
  if (!result.ok() || result->text.empty()) {
    if (!result.ok()) Emit("error", {{"what", "summary"}, {"error", result.status().ToString()}});
    return structured;
  }
  return result->text;
}

}  // namespace parley::engine
