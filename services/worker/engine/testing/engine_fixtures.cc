#include "services/worker/engine/testing/engine_fixtures.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/docs/resource_docs.h"
#include "common/json/merge_patch.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"

namespace parley::engine::testing {

using Json = nlohmann::json;

namespace {

const docs::ResourceDoc* Find(const std::vector<docs::ResourceDoc>& all, std::string_view kind,
                              std::string_view name) {
  for (const docs::ResourceDoc& doc : all) {
    if (doc.kind == kind && doc.name == name) return &doc;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<v1::RuntimeConfig> MakeRuntimeConfig(
    const Json& graph, const Json& template_spec, const Json& agent,
    const std::map<std::string, std::string>& prompts) {
  v1::RuntimeConfig config;
  PARLEY_ASSIGN_OR_RETURN(*config.mutable_template_(), json::JsonToStruct(template_spec));
  PARLEY_ASSIGN_OR_RETURN(*config.mutable_agent(), json::JsonToStruct(agent));
  config.mutable_graph()->set_kind(v1::RESOURCE_KIND_GRAPH);
  config.mutable_graph()->set_name("graph");
  PARLEY_ASSIGN_OR_RETURN(*config.mutable_graph()->mutable_spec(), json::JsonToStruct(graph));
  for (const auto& [name, text] : prompts) {
    v1::Resource* prompt = config.add_prompts();
    prompt->set_kind(v1::RESOURCE_KIND_PROMPT);
    prompt->set_name(name);
    PARLEY_ASSIGN_OR_RETURN(*prompt->mutable_spec(), json::JsonToStruct(Json{{"text", text}}));
  }
  return config;
}

absl::StatusOr<v1::RuntimeConfig> ExampleRuntimeConfig(std::string_view agent_name) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<docs::ResourceDoc> all,
                          docs::LoadResourceDocs(PARLEY_SOURCE_DIR "/deploy/examples"));
  const docs::ResourceDoc* agent = Find(all, "agent", agent_name);
  if (agent == nullptr) return absl::NotFoundError(absl::StrCat("agent/", AbslView(agent_name)));
  const docs::ResourceDoc* tmpl = Find(all, "template", agent->spec.value("template", ""));
  const docs::ResourceDoc* graph = Find(all, "graph", agent->spec.value("graph", ""));
  if (tmpl == nullptr || graph == nullptr) {
    return absl::NotFoundError(absl::StrCat("template or graph of agent/", AbslView(agent_name)));
  }
  std::map<std::string, std::string> prompts;
  for (const docs::ResourceDoc& doc : all) {
    if (doc.kind == "prompt") prompts[doc.name] = doc.spec.value("text", "");
  }
  return MakeRuntimeConfig(graph->spec, tmpl->spec, agent->spec, prompts);
}

EngineHooks RecordingHooks::Hooks(HttpPoster poster) {
  return {.update_state =
              [this](const Json& patch) {
                patches.push_back(patch);
                merged = json::MergePatch(std::move(merged), patch);
                return absl::OkStatus();
              },
          .event =
              [this](std::string_view type, const EventDetail& detail) {
                events.push_back({std::string(type), detail});
              },
          .http_post = std::move(poster)};
}

std::vector<std::string> RecordingHooks::Nodes() const {
  std::vector<std::string> nodes;
  for (const RecordedEvent& event : events) {
    if (event.type == "node") nodes.push_back(event.detail.at("node"));
  }
  return nodes;
}

absl::StatusOr<speech::ChatResult> FakeLanguageModel::Chat(
    const speech::ChatRequest& request, absl::FunctionRef<void(std::string_view)> on_text,
    const speech::CancelFlag* cancel) {
  requests.push_back(request);
  FakeReply reply;
  if (replies_.empty()) {
    reply.deltas = {"OK."};
  } else {
    reply = std::move(replies_.front());
    replies_.pop_front();
  }
  speech::ChatResult result;
  result.first_token = absl::Milliseconds(42);
  for (const std::string& delta : reply.deltas) {
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("cancelled");
    on_text(delta);
    result.text += delta;
  }
  if (!reply.error.ok()) return reply.error;
  result.tool_calls = std::move(reply.tool_calls);
  result.finish_reason = result.tool_calls.empty() ? "stop" : "tool_calls";
  return result;
}

}  // namespace parley::engine::testing
