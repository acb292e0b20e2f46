// The parts of a RuntimeConfig the conversation engine walks, parsed once per config: the graph
// (GraphSpec) with its nodes indexed by name and its transition conditions compiled, the template
// (TemplateSpec), the agent (AgentSpec), prompt texts by name and the credentials.
//
//   PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<GraphModel> model,
//                           GraphModel::FromRuntimeConfig(config));
//   const GraphModel::Node* start = model->node(model->graph().start_node());
//   for (const GraphModel::Edge& edge : start->edges) { ... edge.condition.Evaluate(state) ... }
//
// Immutable after construction; thread-safe to read. The calls that share one RuntimeConfig (the
// worker's config cache hands out one per agent, campaign and overrides) share one model:
//
//   std::shared_ptr<const GraphModel> model = SharedGraphModel(cached.config).value();
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/graph/condition.h"
#include "common/speech/scripted_policy.h"
#include "nlohmann/json.hpp"
#include "parley/v1/config.pb.h"

namespace parley::engine {

class GraphModel final {
 public:
  // A transition with its condition compiled.
  struct Edge {
    const v1::Transition* spec = nullptr;
    graph::Condition condition;
    bool has_condition = false;  // a non-blank condition
    nlohmann::json set_state;    // the transition's merge patch ({} for none)
  };

  struct Node {
    const v1::GraphNode* spec = nullptr;
    std::vector<Edge> edges;
    nlohmann::json set_state;  // the node's merge patch ({} for none)
    bool terminal = false;     // in terminal_nodes, or without transitions
    // Intents this node's transitions test, in the graph's intent order (for matching and the
    // recogniser's grammar).
    std::vector<speech::IntentPhrases> tested_intents;
  };

  // Parses the template, agent and graph specs of `config`. Fails with INVALID_ARGUMENT (with
  // the field path) when a spec does not parse, the start node or a transition target does not
  // exist, or a condition does not parse.
  static absl::StatusOr<std::unique_ptr<GraphModel>> FromRuntimeConfig(
      const v1::RuntimeConfig& config);

  // Not copyable or movable: nodes and edges point into the parsed specs.
  GraphModel(const GraphModel&) = delete;
  GraphModel& operator=(const GraphModel&) = delete;

  const v1::GraphSpec& graph() const { return graph_; }
  const v1::TemplateSpec& template_spec() const { return template_; }
  const v1::AgentSpec& agent() const { return agent_; }
  // The agent's default_context as JSON ({} when none).
  const nlohmann::json& default_context() const { return default_context_; }

  // The node named `name`, or nullptr.
  const Node* node(std::string_view name) const;
  // The graph's intents, in order.
  const std::vector<speech::IntentPhrases>& intents() const { return intents_; }
  // The intent named `name`, or nullptr.
  const speech::IntentPhrases* intent(std::string_view name) const;
  // The text of the prompt resource named `name` ("" when absent or `name` is empty).
  std::string PromptText(std::string_view name) const;
  // The secret of credential `name`, or nullopt.
  std::optional<std::string> Credential(std::string_view name) const;
  // A tool by name: the graph's tools first, then the agent's; nullptr when neither has it.
  const v1::ToolSpec* tool(std::string_view name) const;

 private:
  GraphModel() = default;

  v1::GraphSpec graph_;
  v1::TemplateSpec template_;
  v1::AgentSpec agent_;
  nlohmann::json default_context_ = nlohmann::json::object();
  std::map<std::string, Node, std::less<>> nodes_;
  std::vector<speech::IntentPhrases> intents_;
  std::map<std::string, std::string, std::less<>> prompts_;
  std::map<std::string, std::string, std::less<>> credentials_;
};

// The model of `config`, built once while `config` is alive and shared by every caller that
// passes the same config; a config freed and another allocated at its address is never confused
// with it. Thread-safe. Fails as FromRuntimeConfig does (and is asked again next time).
absl::StatusOr<std::shared_ptr<const GraphModel>> SharedGraphModel(
    const std::shared_ptr<const v1::RuntimeConfig>& config);

}  // namespace parley::engine
