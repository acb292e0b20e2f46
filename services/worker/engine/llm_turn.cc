// The language-model half of ConversationEngine: the request for the current node, the tool
// calls the model makes, and the routing that follows the state they wrote.
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"
#include "services/worker/engine/conversation_engine.h"

namespace parley::engine {

using Json = nlohmann::json;

namespace {

// Hops through condition-only transitions after one tool round; the visit limit bounds loops
// too, this only bounds the work of one round.
constexpr int kMaxConditionHops = 8;

const std::set<std::string, std::less<>>& BuiltinTools() {
  static const auto* names =
      new std::set<std::string, std::less<>>{"set_state", "end_call", "transfer"};
  return *names;
}

speech::ToolDefinition BuiltinDefinition(std::string_view name) {
  if (name == "set_state") {
    return {.name = "set_state",
            .description =
                "Record facts in the conversation state. The arguments are a JSON "
                "merge patch: each key is set to its value; null deletes a key.",
            .parameters = {{"type", "object"}, {"additionalProperties", true}}};
  }
  if (name == "end_call") {
    return {.name = "end_call",
            .description = "End the call once your reply has been spoken. Say goodbye first.",
            .parameters = {
                {"type", "object"},
                {"properties",
                 {{"reason", {{"type", "string"}, {"description", "Why the call ends."}}}}}}};
  }
  return {.name = "transfer",
          .description = "Transfer the callee to a human at the given phone number.",
          .parameters = {{"type", "object"},
                         {"properties",
                          {{"to", {{"type", "string"}, {"description", "E.164 phone number."}}}}},
                         {"required", {"to"}}}};
}

speech::ToolDefinition Definition(const v1::ToolSpec& tool) {
  Json parameters = tool.has_parameters() ? json::StructToJson(tool.parameters()) : Json::object();
  if (parameters.empty()) parameters = {{"type", "object"}, {"properties", Json::object()}};
  return {.name = tool.name(), .description = tool.description(), .parameters = parameters};
}

Json ToolError(std::string message) { return {{"ok", false}, {"error", std::move(message)}}; }

}  // namespace

std::string ConversationEngine::SystemPrompt() const {
  const GraphModel::Node* node = model_->node(current_);
  std::string prompt = Fill(model_->PromptText(model_->agent().system_prompt()));
  auto paragraph = [&](std::string_view text) {
    if (text.empty()) return;
    if (!prompt.empty()) absl::StrAppend(&prompt, prompt.back() == '\n' ? "\n" : "\n\n");
    absl::StrAppend(&prompt, AbslView(text));
  };
  std::string step = absl::StrCat("Current step: ", node->spec->name(), ".");
  if (!node->spec->description().empty()) {
    absl::StrAppend(&step, " Goal: ", node->spec->description());
  }
  paragraph(step);
  paragraph(Fill(model_->PromptText(node->spec->prompt())));
  if (!node->spec->say().empty()) {
    std::string lines = "Say this now, in your own words if it helps the conversation:";
    for (const std::string& line : node->spec->say()) absl::StrAppend(&lines, "\n- ", Fill(line));
    paragraph(lines);
  }
  if (node->terminal) paragraph("This is the last step of the call: after this reply it ends.");
  return prompt;
}

std::vector<speech::ToolDefinition> ConversationEngine::NodeTools() const {
  std::vector<speech::ToolDefinition> tools;
  std::set<std::string, std::less<>> names;
  auto add = [&](speech::ToolDefinition definition) {
    if (names.insert(definition.name).second) tools.push_back(std::move(definition));
  };
  for (const std::string& name : model_->node(current_)->spec->tools()) {
    if (const v1::ToolSpec* tool = model_->tool(name)) {
      add(Definition(*tool));
    } else if (BuiltinTools().contains(name)) {
      add(BuiltinDefinition(name));
    }
  }
  for (const v1::ToolSpec& tool : model_->agent().tools()) add(Definition(tool));
  for (const std::string& name : BuiltinTools()) add(BuiltinDefinition(name));
  return tools;
}

Json ConversationEngine::RunHttpTool(const v1::ToolSpec& tool, const Json& args) {
  const v1::HttpToolConfig& http = tool.http();
  HttpToolRequest request{
      .url = http.url(),
      .method = http.method().empty() ? "POST" : http.method(),
      .timeout = absl::Milliseconds(http.timeout_ms() > 0 ? http.timeout_ms() : 3000)};
  for (const auto& [name, value] : http.headers()) request.headers.emplace_back(name, value);
  if (!http.credential().empty()) {
    std::optional<std::string> secret = model_->Credential(http.credential());
    if (!secret.has_value()) {
      return ToolError(absl::StrCat("credential \"", http.credential(), "\" is not available"));
    }
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", *secret));
  }
  Json body = args;
  body["call_id"] = options_.call_id;
  request.body = body.dump();
  absl::StatusOr<std::string> response = hooks_.http_post(request);
  if (!response.ok()) return ToolError(std::string(response.status().message()));
  Json result = Json::parse(*response, nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded()) return Json{{"ok", true}, {"response", *response}};
  return result;
}

Json ConversationEngine::RunTool(const speech::ToolCall& call, TurnOutput& out) {
  Json result;
  Json args = Json::parse(call.arguments.empty() ? "{}" : call.arguments, nullptr, false);
  bool offered = false;
  for (const speech::ToolDefinition& tool : NodeTools()) offered |= tool.name == call.name;
  const v1::ToolSpec* spec = model_->tool(call.name);
  const std::string kind = spec != nullptr ? spec->kind() : call.name;
  if (!offered) {
    result = ToolError(absl::StrCat("no tool named \"", call.name, "\" in this step"));
  } else if (!args.is_object()) {
    result = ToolError("the arguments must be a JSON object");
  } else if (kind == "set_state") {
    absl::Status status = ApplyPatch(args);
    result = status.ok() ? Json{{"ok", true}} : ToolError(std::string(status.message()));
  } else if (kind == "end_call") {
    End("end_call", out);
    result = {{"ok", true}};
  } else if (kind == "transfer") {
    std::string to = spec != nullptr ? spec->transfer_to() : args.value("to", std::string());
    if (to.empty()) {
      result = ToolError("no number to transfer to");
    } else {
      out.transfer_to = to;
      Emit("transfer", {{"to", to}});
      End("transfer", out);
      result = {{"ok", true}};
    }
  } else if (kind == "http" && spec != nullptr) {
    result = RunHttpTool(*spec, args);
  } else {
    result = ToolError(absl::StrCat("tool kind \"", kind, "\" is not supported"));
  }
  const bool ok = !(result.is_object() && result.value("ok", true) == false);
  EventDetail detail{{"name", call.name}, {"ok", ok ? "true" : "false"}};
  if (!ok) detail["error"] = result.value("error", std::string());
  Emit("tool", detail);
  return result;
}

absl::Status ConversationEngine::LlmSpeak(TurnOutput& out, TextSink on_text,
                                          const speech::CancelFlag* cancel) {
  FlushSaid();
  const v1::LlmConfig& config = model_->template_spec().llm();
  for (int round = 0; round < options_.max_llm_rounds && !ended_; ++round) {
    speech::ChatRequest request;
    request.messages.push_back({.role = "system", .content = SystemPrompt()});
    request.messages.insert(request.messages.end(), history_.begin(), history_.end());
    request.tools = NodeTools();
    request.model = config.model();
    if (config.has_temperature()) request.temperature = config.temperature();
    if (config.has_max_tokens()) request.max_tokens = config.max_tokens();
    request.timeout = options_.llm_timeout;

    std::string streamed;
    auto deliver = [&](std::string_view delta) {
      if (delta.empty()) return;
      if (streamed.empty() && !out.text.empty()) {  // a new round's text: keep sentences apart
        out.text += ' ';
        on_text(" ");
      }
      streamed += delta;
      out.text += delta;
      on_text(delta);
    };
    absl::StatusOr<speech::ChatResult> result = llm_->Chat(request, deliver, cancel);
    if (!result.ok()) {
      if (!streamed.empty()) history_.push_back({.role = "assistant", .content = streamed});
      if (result.status().code() == absl::StatusCode::kCancelled) return result.status();
      Emit("error", {{"what", "llm"}, {"error", result.status().ToString()}});
      if (!out.text.empty()) return absl::OkStatus();
      break;  // speak the node's lines instead, below
    }
    if (round == 0) out.llm_first_token = result->first_token;
    if (streamed.empty() && !result->text.empty()) deliver(result->text);
    speech::ChatMessage reply{
        .role = "assistant", .content = result->text, .tool_calls = result->tool_calls};
    if (reply.content.empty()) reply.content = streamed;
    if (!reply.content.empty() || !reply.tool_calls.empty()) history_.push_back(reply);
    if (result->tool_calls.empty()) break;
    for (const speech::ToolCall& call : result->tool_calls) {
      Json tool_result = RunTool(call, out);
      history_.push_back({.role = "tool", .content = tool_result.dump(), .tool_call_id = call.id});
    }
    if (ended_) break;
    // Routing follows the state the tools wrote: condition-only transitions, in order.
    for (int hop = 0; hop < kMaxConditionHops; ++hop) {
      const GraphModel::Edge* edge = FindEdge(std::nullopt);
      if (edge == nullptr) break;
      if (!Take(*edge, "", "condition")) {
        EndWithGoodbye("node_visit_limit", out, on_text);
        return absl::OkStatus();
      }
    }
  }
  if (out.text.empty() && out.ended_reason == "end_call") {
    Say(options_.goodbye_text, out, on_text);
  } else if (out.text.empty() && !ended_) {
    // The model said nothing (an error, or tool rounds used up): the node's own lines keep the
    // call going.
    SayNodeLines(out, on_text);
    if (out.text.empty()) Say(options_.reask_text, out, on_text);
  }
  return absl::OkStatus();
}

}  // namespace parley::engine
