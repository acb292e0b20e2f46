#include "services/worker/engine/graph_model.h"

#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/json/proto_json.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"

namespace parley::engine {

using Json = nlohmann::json;

namespace {

bool IsBlank(std::string_view s) { return absl::StripAsciiWhitespace(AbslView(s)).empty(); }

Json PatchOf(const v1::GraphNode& node) {
  return node.has_set_state() ? parley::json::StructToJson(node.set_state()) : Json::object();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GraphModel>> GraphModel::FromRuntimeConfig(
    const v1::RuntimeConfig& config) {
  std::unique_ptr<GraphModel> model(new GraphModel());
  PARLEY_RETURN_IF_ERROR(parley::json::ParseSpec(parley::json::StructToJson(config.graph().spec()),
                                                 "graph", &model->graph_));
  PARLEY_RETURN_IF_ERROR(parley::json::ParseSpec(parley::json::StructToJson(config.template_()),
                                                 "template", &model->template_));
  PARLEY_RETURN_IF_ERROR(
      parley::json::ParseSpec(parley::json::StructToJson(config.agent()), "agent", &model->agent_));
  if (model->agent_.has_default_context()) {
    model->default_context_ = parley::json::StructToJson(model->agent_.default_context());
  }
  for (const v1::Resource& prompt : config.prompts()) {
    auto text = prompt.spec().fields().find("text");
    if (text != prompt.spec().fields().end()) {
      model->prompts_[prompt.name()] = text->second.string_value();
    }
  }
  for (const auto& [name, secret] : config.credentials()) model->credentials_[name] = secret;

  const v1::GraphSpec& graph = model->graph_;
  for (const v1::Intent& intent : graph.intents()) {
    model->intents_.push_back({intent.name(), std::vector<std::string>(intent.phrases().begin(),
                                                                       intent.phrases().end())});
  }
  const std::set<std::string, std::less<>> terminal(graph.terminal_nodes().begin(),
                                                    graph.terminal_nodes().end());
  std::set<std::string, std::less<>> names;
  for (const v1::GraphNode& node : graph.nodes()) names.insert(node.name());
  if (!names.contains(graph.start_node())) {
    return InvalidField("graph.start_node",
                        absl::StrCat("no node named \"", graph.start_node(), "\""));
  }
  for (int n = 0; n < graph.nodes_size(); ++n) {
    const v1::GraphNode& spec = graph.nodes(n);
    Node node;
    node.spec = &spec;
    node.set_state = PatchOf(spec);
    node.terminal = terminal.contains(spec.name()) || spec.transitions().empty();
    std::set<std::string, std::less<>> tested;
    for (int t = 0; t < spec.transitions_size(); ++t) {
      const v1::Transition& transition = spec.transitions(t);
      const std::string field = absl::StrCat("graph.nodes[", n, "].transitions[", t, "]");
      if (!names.contains(transition.to())) {
        return InvalidField(absl::StrCat(field, ".to"),
                            absl::StrCat("no node named \"", transition.to(), "\""));
      }
      absl::StatusOr<graph::Condition> condition = graph::Condition::Parse(transition.condition());
      if (!condition.ok()) {
        return InvalidField(absl::StrCat(field, ".condition"),
                            std::string(condition.status().message()));
      }
      if (!transition.intent().empty()) tested.insert(transition.intent());
      node.edges.push_back({.spec = &transition,
                            .condition = *std::move(condition),
                            .has_condition = !IsBlank(transition.condition()),
                            .set_state = transition.has_set_state()
                                             ? parley::json::StructToJson(transition.set_state())
                                             : Json::object()});
    }
    for (const speech::IntentPhrases& intent : model->intents_) {
      if (tested.contains(intent.name)) node.tested_intents.push_back(intent);
    }
    model->nodes_.emplace(spec.name(), std::move(node));
  }
  return model;
}

const GraphModel::Node* GraphModel::node(std::string_view name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

const speech::IntentPhrases* GraphModel::intent(std::string_view name) const {
  for (const speech::IntentPhrases& intent : intents_) {
    if (intent.name == name) return &intent;
  }
  return nullptr;
}

std::string GraphModel::PromptText(std::string_view name) const {
  auto it = prompts_.find(name);
  return it == prompts_.end() ? std::string() : it->second;
}

std::optional<std::string> GraphModel::Credential(std::string_view name) const {
  auto it = credentials_.find(name);
  if (it == credentials_.end()) return std::nullopt;
  return it->second;
}

const v1::ToolSpec* GraphModel::tool(std::string_view name) const {
  for (const v1::ToolSpec& tool : graph_.tools()) {
    if (tool.name() == name) return &tool;
  }
  for (const v1::ToolSpec& tool : agent_.tools()) {
    if (tool.name() == name) return &tool;
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const GraphModel>> SharedGraphModel(
    const std::shared_ptr<const v1::RuntimeConfig>& config) {
  struct Entry {
    std::weak_ptr<const v1::RuntimeConfig> config;
    std::shared_ptr<const GraphModel> model;
  };
  static absl::Mutex mu;
  static auto* models = new absl::flat_hash_map<const v1::RuntimeConfig*, Entry>();
  {
    absl::MutexLock lock(&mu);
    auto it = models->find(config.get());
    // The same live config (an expired weak_ptr: the address was reused by another config).
    if (it != models->end() && it->second.config.lock() == config) return it->second.model;
  }
  // Built outside the lock: two first calls may both build; the second one's model is kept.
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<GraphModel> built,
                          GraphModel::FromRuntimeConfig(*config));
  std::shared_ptr<const GraphModel> model = std::move(built);
  absl::MutexLock lock(&mu);
  // Entries of configs that are gone, dropped as the map grows (the config cache holds ≤ 1000).
  if (models->size() >= 64) {
    absl::erase_if(*models, [](const auto& kv) { return kv.second.config.expired(); });
  }
  (*models)[config.get()] = Entry{config, model};
  return model;
}

}  // namespace parley::engine
