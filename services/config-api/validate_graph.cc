// Graph and tool rules of validate.h.
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/graph/condition.h"
#include "common/status/status.h"
#include "services/config-api/validate_rules.h"

namespace parley::config::validate_internal {
namespace {

using std::string;

// Always available to every node, whatever the graph defines.
const std::set<string, std::less<>>& BuiltinTools() {
  static const auto* const kBuiltins =
      new std::set<string, std::less<>>{"set_state", "end_call", "transfer"};
  return *kBuiltins;
}

absl::Status CheckHttpTool(const parley::v1::HttpToolConfig& h, const string& path) {
  if (h.url().empty()) return Invalid(Field(path, "url"), "required");
  if (!IsUrl(h.url(), {"http", "https"}))
    return Invalid(Field(path, "url"), "must be an http(s) URL");
  if (!h.method().empty()) {
    static const std::set<string, std::less<>> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    if (kMethods.count(absl::AsciiStrToUpper(h.method())) == 0) {
      return Invalid(Field(path, "method"),
                     absl::StrCat("unknown method ", Quote(h.method()),
                                  " (known: GET, POST, PUT, PATCH, DELETE)"));
    }
  }
  if (h.timeout_ms() != 0) {  // 0: the default
    PARLEY_RETURN_IF_ERROR(IntInRange(Field(path, "timeout_ms"), h.timeout_ms(), 100, 30000));
  }
  // Sorted, so that the error reported does not depend on hash order.
  const std::map<string, string> headers(h.headers().begin(), h.headers().end());
  for (const auto& [name, value] : headers) {
    const string p = Field(Field(path, "headers"), name);
    if (!IsToken(name)) return Invalid(p, "header names are letters, digits, '-' and '_'");
    // A line break would let a value inject further headers.
    if (value.find_first_of("\r\n") != string::npos) {
      return Invalid(p, "must not contain line breaks");
    }
  }
  return CheckRef(Field(path, "credential"), h.credential(), /*required=*/false);
}

absl::Status CheckTool(const parley::v1::ToolSpec& t, const string& path) {
  if (t.kind().empty()) return Invalid(Field(path, "kind"), "required");
  if (t.kind() == "http") {
    PARLEY_RETURN_IF_ERROR(CheckHttpTool(t.http(), Field(path, "http")));
  } else if (t.kind() == "transfer") {
    PARLEY_RETURN_IF_ERROR(CheckE164(Field(path, "transfer_to"), t.transfer_to(), true));
  } else if (BuiltinTools().count(t.kind()) == 0) {
    return Invalid(Field(path, "kind"),
                   absl::StrCat("unknown tool kind ", Quote(t.kind()),
                                " (known: http, set_state, end_call, transfer)"));
  }
  const auto& fields = t.parameters().fields();
  if (auto it = fields.find("type"); it != fields.end()) {
    if (it->second.string_value() != "object") {
      return Invalid(Field(Field(path, "parameters"), "type"),
                     "must be \"object\" (the arguments are a JSON object)");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIntents(const parley::v1::GraphSpec& g, std::set<string, std::less<>>* names) {
  for (int i = 0; i < g.intents_size(); ++i) {
    const parley::v1::Intent& intent = g.intents(i);
    const string path = Field(Index("graph.intents", i), "name");
    if (intent.name().empty()) return Invalid(path, "required");
    if (!IsToken(intent.name())) {
      return Invalid(path, "must be 1-64 letters, digits, '_' or '-'");
    }
    if (!names->insert(intent.name()).second) {
      return Invalid(path, absl::StrCat("duplicate intent ", Quote(intent.name())));
    }
    for (int j = 0; j < intent.phrases_size(); ++j) {
      if (IsBlank(intent.phrases(j))) {
        return Invalid(Index(Field(Index("graph.intents", i), "phrases"), j), "must not be empty");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNode(const parley::v1::GraphNode& node, const string& path,
                       const std::map<string, int, std::less<>>& nodes,
                       const std::set<string, std::less<>>& intents,
                       const std::set<string, std::less<>>& tools) {
  PARLEY_RETURN_IF_ERROR(CheckRef(Field(path, "prompt"), node.prompt(), /*required=*/false));
  for (int i = 0; i < node.say_size(); ++i) {
    PARLEY_RETURN_IF_ERROR(CheckTextVariables(Index(Field(path, "say"), i), node.say(i)));
  }
  for (int i = 0; i < node.tools_size(); ++i) {
    if (tools.count(node.tools(i)) == 0 && BuiltinTools().count(node.tools(i)) == 0) {
      return Invalid(Index(Field(path, "tools"), i),
                     absl::StrCat("tool ", Quote(node.tools(i)), " is not defined"));
    }
  }
  for (int i = 0; i < node.transitions_size(); ++i) {
    const parley::v1::Transition& t = node.transitions(i);
    const string tpath = Index(Field(path, "transitions"), i);
    if (t.to().empty()) return Invalid(Field(tpath, "to"), "required");
    if (nodes.count(t.to()) == 0) {
      return Invalid(Field(tpath, "to"), absl::StrCat("node ", Quote(t.to()), " does not exist"));
    }
    if (absl::StatusOr<graph::Condition> c = graph::Condition::Parse(t.condition()); !c.ok()) {
      return Invalid(Field(tpath, "condition"), string(c.status().message()));
    }
    if (!t.intent().empty() && intents.count(t.intent()) == 0) {
      return Invalid(Field(tpath, "intent"),
                     absl::StrCat("intent ", Quote(t.intent()), " is not defined"));
    }
    // Transitions are tried in order, so one after an unconditional one is dead.
    if (IsBlank(t.condition()) && t.intent().empty() && i + 1 < node.transitions_size()) {
      return Invalid(Index(Field(path, "transitions"), i + 1),
                     absl::StrCat("never taken: transitions[", i,
                                  "] has neither condition nor intent and always matches"));
    }
  }
  return absl::OkStatus();
}

// True if some node in `terminals` can be reached from `start` along transitions.
bool TerminalReachable(const parley::v1::GraphSpec& g,
                       const std::map<string, int, std::less<>>& nodes,
                       const std::set<string, std::less<>>& terminals) {
  std::vector<bool> seen(g.nodes_size(), false);
  std::deque<int> queue = {nodes.find(g.start_node())->second};
  seen[queue.front()] = true;
  while (!queue.empty()) {
    const parley::v1::GraphNode& node = g.nodes(queue.front());
    queue.pop_front();
    if (terminals.count(node.name()) > 0) return true;
    for (const parley::v1::Transition& t : node.transitions()) {
      const int next = nodes.find(t.to())->second;
      if (!seen[next]) {
        seen[next] = true;
        queue.push_back(next);
      }
    }
  }
  return false;
}

}  // namespace

absl::Status CheckTools(const google::protobuf::RepeatedPtrField<parley::v1::ToolSpec>& tools,
                        const string& path) {
  std::set<string> names;
  for (int i = 0; i < tools.size(); ++i) {
    const string tpath = Index(path, i);
    const string& name = tools[i].name();
    if (name.empty()) return Invalid(Field(tpath, "name"), "required");
    if (!IsToken(name))
      return Invalid(Field(tpath, "name"), "must be 1-64 letters, digits, '_' or '-'");
    if (!names.insert(name).second) {
      return Invalid(Field(tpath, "name"), absl::StrCat("duplicate tool ", Quote(name)));
    }
    PARLEY_RETURN_IF_ERROR(CheckTool(tools[i], tpath));
  }
  return absl::OkStatus();
}

absl::Status CheckGraph(const parley::v1::GraphSpec& g) {
  std::set<string, std::less<>> intents;
  PARLEY_RETURN_IF_ERROR(CheckIntents(g, &intents));
  PARLEY_RETURN_IF_ERROR(CheckTools(g.tools(), "graph.tools"));
  std::set<string, std::less<>> tools;
  for (const parley::v1::ToolSpec& t : g.tools()) tools.insert(t.name());

  if (g.nodes_size() == 0) return Invalid("graph.nodes", "at least one node is required");
  std::map<string, int, std::less<>> nodes;  // name → index
  for (int i = 0; i < g.nodes_size(); ++i) {
    const string path = Field(Index("graph.nodes", i), "name");
    const string& name = g.nodes(i).name();
    if (name.empty()) return Invalid(path, "required");
    if (!IsToken(name)) return Invalid(path, "must be 1-64 letters, digits, '_' or '-'");
    if (!nodes.emplace(name, i).second) {
      return Invalid(path, absl::StrCat("duplicate node ", Quote(name)));
    }
  }
  if (g.start_node().empty()) return Invalid("graph.start_node", "required");
  if (nodes.count(g.start_node()) == 0) {
    return Invalid("graph.start_node",
                   absl::StrCat("node ", Quote(g.start_node()), " does not exist"));
  }
  if (g.terminal_nodes_size() == 0) {
    return Invalid("graph.terminal_nodes", "at least one terminal node is required");
  }
  std::set<string, std::less<>> terminals;
  for (int i = 0; i < g.terminal_nodes_size(); ++i) {
    if (nodes.count(g.terminal_nodes(i)) == 0) {
      return Invalid(Index("graph.terminal_nodes", i),
                     absl::StrCat("node ", Quote(g.terminal_nodes(i)), " does not exist"));
    }
    terminals.insert(g.terminal_nodes(i));
  }
  for (int i = 0; i < g.nodes_size(); ++i) {
    PARLEY_RETURN_IF_ERROR(CheckNode(g.nodes(i), Index("graph.nodes", i), nodes, intents, tools));
  }
  for (int i = 0; i < g.durable_keys_size(); ++i) {
    if (!IsIdentifier(g.durable_keys(i))) {
      return Invalid(Index("graph.durable_keys", i),
                     absl::StrCat(Quote(g.durable_keys(i)),
                                  " is not a valid state key (letters, digits and '_')"));
    }
  }
  if (!TerminalReachable(g, nodes, terminals)) {
    return Invalid("graph", absl::StrCat("no terminal node is reachable from start node ",
                                         Quote(g.start_node())));
  }
  return absl::OkStatus();
}

}  // namespace parley::config::validate_internal
