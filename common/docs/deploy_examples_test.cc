// Loads the example agents in deploy/examples, as `parleyctl apply -f deploy/examples` would, and
// checks that they match the API schema and hang together. config-api's validator is the real
// judge when they are applied; these checks keep the examples (what a newcomer sees first) tidy
// and runnable without a server.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/docs/resource_docs.h"
#include "parley/v1/config.pb.h"

#ifndef PARLEY_SOURCE_DIR
#error "PARLEY_SOURCE_DIR must be defined by the build"
#endif

namespace parley::docs {
namespace {

using ::nlohmann::json;
using ::parley::v1::AgentSpec;
using ::parley::v1::CampaignSpec;
using ::parley::v1::GraphSpec;
using ::parley::v1::PromptSpec;
using ::parley::v1::TemplateSpec;
using ::testing::IsSupersetOf;

constexpr char kExamplesDir[] = PARLEY_SOURCE_DIR "/deploy/examples";

// Built-in tools a node may name without defining them (config.proto, GraphSpec.tools).
const std::set<std::string> kBuiltinTools = {"set_state", "end_call", "transfer"};
// State keys every conversation has (config.proto, GraphSpec.durable_keys).
const std::set<std::string> kDefaultStateKeys = {"lead_id", "qualified", "topics_discussed",
                                                 "call_count", "summary"};

const std::vector<ResourceDoc>& Examples() {
  static const auto* docs = [] {
    absl::StatusOr<std::vector<ResourceDoc>> loaded = LoadResourceDocs(kExamplesDir);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::vector<ResourceDoc>(loaded.ok() ? *std::move(loaded)
                                                    : std::vector<ResourceDoc>{});
  }();
  return *docs;
}

const ResourceDoc* Find(std::string_view kind, std::string_view name) {
  for (const ResourceDoc& doc : Examples()) {
    if (doc.kind == kind && doc.name == name) return &doc;
  }
  return nullptr;
}

std::vector<const ResourceDoc*> OfKind(std::string_view kind) {
  std::vector<const ResourceDoc*> out;
  for (const ResourceDoc& doc : Examples()) {
    if (doc.kind == kind) out.push_back(&doc);
  }
  return out;
}

// The spec parsed into its *Spec message, strictly (unknown fields are errors), as config-api
// parses it. Adds a test failure naming the document if it does not parse.
template <typename Spec>
Spec Parse(const ResourceDoc& doc) {
  Spec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(doc.spec.dump(), &spec, options);
  EXPECT_TRUE(status.ok()) << Reference(doc) << " (" << Location(doc)
                           << ") does not match its schema: " << status.ToString();
  return spec;
}

// The `{variables}` in `text` ("{{" and "}}" are literal braces); adds a failure for a stray
// brace.
std::set<std::string> Variables(const std::string& text, const std::string& where) {
  std::set<std::string> vars;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "{{") == 0 || text.compare(i, 2, "}}") == 0) {
      ++i;
      continue;
    }
    if (text[i] == '}') {
      ADD_FAILURE() << where << ": stray '}' at " << i << " in: " << text;
      continue;
    }
    if (text[i] != '{') continue;
    const size_t end = text.find('}', i);
    const std::string name = end == std::string::npos ? "" : text.substr(i + 1, end - i - 1);
    const bool ok = !name.empty() && !isdigit(static_cast<unsigned char>(name[0])) &&
                    name.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_.") == std::string::npos;
    if (!ok) {
      ADD_FAILURE() << where << ": malformed variable at " << i << " in: " << text;
      continue;
    }
    vars.insert(name);
    i = end;
  }
  return vars;
}

// The state paths a transition condition reads (identifiers other than true/false/null).
std::set<std::string> ConditionPaths(const std::string& condition) {
  std::set<std::string> paths;
  for (size_t i = 0; i < condition.size();) {
    const char c = condition[i];
    if (c == '"') {
      i = condition.find('"', i + 1);
      i = i == std::string::npos ? condition.size() : i + 1;
    } else if (isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < condition.size() && (isalnum(static_cast<unsigned char>(condition[j])) ||
                                      condition[j] == '_' || condition[j] == '.')) {
        ++j;
      }
      const std::string word = condition.substr(i, j - i);
      if (word != "true" && word != "false" && word != "null") paths.insert(word);
      i = j;
    } else {
      ++i;
    }
  }
  return paths;
}

// Every state key a graph sets (node and transition set_state patches, top level) or declares.
std::set<std::string> StateKeys(const GraphSpec& graph) {
  std::set<std::string> keys = kDefaultStateKeys;
  keys.insert(graph.durable_keys().begin(), graph.durable_keys().end());
  auto add = [&keys](const google::protobuf::Struct& patch) {
    for (const auto& [key, value] : patch.fields()) keys.insert(key);
  };
  for (const auto& node : graph.nodes()) {
    add(node.set_state());
    for (const auto& t : node.transitions()) add(t.set_state());
  }
  return keys;
}

std::set<std::string> Keys(const google::protobuf::Struct& s) {
  std::set<std::string> keys;
  for (const auto& [key, value] : s.fields()) keys.insert(key);
  return keys;
}

TEST(DeployExamplesTest, LoadsBothAgentsAndEverythingTheyUse) {
  std::vector<std::string> refs;
  for (const ResourceDoc& doc : Examples()) refs.push_back(Reference(doc));
  EXPECT_THAT(refs, IsSupersetOf({
                        "trunk/sim-phone",
                        "template/offline-default",
                        "template/payment-reminder-voice",
                        "prompt/payment-reminder-system",
                        "prompt/payment-reminder-remind",
                        "graph/payment-reminder",
                        "agent/payment-reminder",
                        "campaign/payment-reminders-us",
                        "prompt/lead-qualifier-system",
                        "graph/lead-qualifier",
                        "agent/lead-qualifier",
                        "template/lan-box-voice",
                        "agent/lan-box-lead-qualifier",
                    }));
}

TEST(DeployExamplesTest, EverySpecMatchesItsSchema) {
  ASSERT_FALSE(Examples().empty());
  for (const ResourceDoc& doc : Examples()) {
    SCOPED_TRACE(Reference(doc));
    if (doc.kind == "template") Parse<TemplateSpec>(doc);
    if (doc.kind == "prompt") Parse<PromptSpec>(doc);
    if (doc.kind == "graph") Parse<GraphSpec>(doc);
    if (doc.kind == "agent") Parse<AgentSpec>(doc);
    if (doc.kind == "campaign") Parse<CampaignSpec>(doc);
    if (doc.kind == "trunk") Parse<parley::v1::TrunkSpec>(doc);
    if (doc.kind == "credential") Parse<parley::v1::CredentialSpec>(doc);
    if (doc.kind == "inbound_route") Parse<parley::v1::InboundRouteSpec>(doc);
  }
}

TEST(DeployExamplesTest, SchemaCheckRejectsUnknownFields) {
  // The check above is only worth something if a misspelt field fails it.
  ResourceDoc doc{.kind = "template", .name = "typo"};
  doc.spec = {{"stt", {{"provder", "pocketsphinx"}}}};
  EXPECT_NONFATAL_FAILURE(Parse<TemplateSpec>(doc), "does not match its schema");
}

TEST(DeployExamplesTest, ReferencedResourcesExist) {
  for (const ResourceDoc* doc : OfKind("agent")) {
    SCOPED_TRACE(Reference(*doc));
    const AgentSpec agent = Parse<AgentSpec>(*doc);
    EXPECT_NE(Find("template", agent.template_()), nullptr) << agent.template_();
    EXPECT_NE(Find("graph", agent.graph()), nullptr) << agent.graph();
    EXPECT_NE(Find("trunk", agent.trunk()), nullptr) << agent.trunk();
    if (!agent.system_prompt().empty()) {
      EXPECT_NE(Find("prompt", agent.system_prompt()), nullptr) << agent.system_prompt();
    }
    for (const auto& [prompt, version] : agent.prompt_versions()) {
      EXPECT_NE(Find("prompt", prompt), nullptr) << prompt;
    }
  }
  for (const ResourceDoc* doc : OfKind("campaign")) {
    SCOPED_TRACE(Reference(*doc));
    const CampaignSpec campaign = Parse<CampaignSpec>(*doc);
    EXPECT_NE(Find("agent", campaign.agent()), nullptr) << campaign.agent();
    if (!campaign.trunk().empty()) {
      EXPECT_NE(Find("trunk", campaign.trunk()), nullptr) << campaign.trunk();
    }
  }
  for (const ResourceDoc* doc : OfKind("graph")) {
    SCOPED_TRACE(Reference(*doc));
    const GraphSpec graph = Parse<GraphSpec>(*doc);
    for (const auto& node : graph.nodes()) {
      if (!node.prompt().empty()) {
        EXPECT_NE(Find("prompt", node.prompt()), nullptr) << node.name() << ": " << node.prompt();
      }
    }
  }
}

TEST(DeployExamplesTest, GraphsAreWellFormed) {
  ASSERT_FALSE(OfKind("graph").empty());
  for (const ResourceDoc* doc : OfKind("graph")) {
    SCOPED_TRACE(Reference(*doc));
    const GraphSpec graph = Parse<GraphSpec>(*doc);

    std::map<std::string, const parley::v1::GraphNode*> nodes;
    for (const auto& node : graph.nodes()) {
      EXPECT_TRUE(nodes.emplace(node.name(), &node).second) << "duplicate node " << node.name();
    }
    ASSERT_TRUE(nodes.count(graph.start_node())) << "start node " << graph.start_node();
    const std::set<std::string> terminal(graph.terminal_nodes().begin(),
                                         graph.terminal_nodes().end());
    ASSERT_FALSE(terminal.empty());
    for (const std::string& name : terminal) EXPECT_TRUE(nodes.count(name)) << name;

    std::set<std::string> intents;
    std::map<std::string, std::string> phrase_owner;
    for (const auto& intent : graph.intents()) {
      EXPECT_TRUE(intents.insert(intent.name()).second) << "duplicate intent " << intent.name();
      EXPECT_FALSE(intent.phrases().empty()) << intent.name();
      for (const std::string& phrase : intent.phrases()) {
        auto [it, inserted] = phrase_owner.emplace(phrase, intent.name());
        EXPECT_TRUE(inserted) << "phrase \"" << phrase << "\" in " << it->second << " and "
                              << intent.name();
      }
    }
    std::set<std::string> tools = kBuiltinTools;
    for (const auto& tool : graph.tools()) tools.insert(tool.name());
    const std::set<std::string> state_keys = StateKeys(graph);

    std::set<std::string> used_intents;
    for (const auto& node : graph.nodes()) {
      SCOPED_TRACE("node " + node.name());
      for (const std::string& tool : node.tools()) EXPECT_TRUE(tools.count(tool)) << tool;
      EXPECT_FALSE(node.say().empty()) << "every node needs lines for the scripted policy";
      if (terminal.count(node.name())) {
        EXPECT_TRUE(node.transitions().empty()) << "a terminal node's transitions never run";
        continue;
      }
      ASSERT_FALSE(node.transitions().empty()) << "a non-terminal node needs a way out";
      if (intents.count("opt_out")) {
        EXPECT_EQ(node.transitions(0).intent(), "opt_out") << "opting out must always work";
      }
      for (const auto& t : node.transitions()) {
        EXPECT_TRUE(nodes.count(t.to())) << "transition to " << t.to();
        if (!t.intent().empty()) {
          EXPECT_TRUE(intents.count(t.intent())) << "intent " << t.intent();
          if (intents.count(t.intent())) used_intents.insert(t.intent());
        }
        for (const std::string& path : ConditionPaths(t.condition())) {
          if (path.rfind("context.", 0) == 0) continue;
          EXPECT_TRUE(state_keys.count(path))
              << "condition \"" << t.condition() << "\" reads \"" << path << "\", never set";
        }
      }
    }
    EXPECT_EQ(used_intents, intents) << "every intent defined is tested somewhere";

    // Every node is reachable from the start node, so a terminal node is too.
    std::set<std::string> seen = {graph.start_node()};
    std::deque<std::string> queue = {graph.start_node()};
    while (!queue.empty()) {
      const std::string name = queue.front();
      queue.pop_front();
      for (const auto& t : nodes[name]->transitions()) {
        if (nodes.count(t.to()) && seen.insert(t.to()).second) queue.push_back(t.to());
      }
    }
    for (const auto& [name, node] : nodes) EXPECT_TRUE(seen.count(name)) << "unreachable " << name;
  }
}

TEST(DeployExamplesTest, PromptVariablesAreDeclared) {
  ASSERT_FALSE(OfKind("prompt").empty());
  for (const ResourceDoc* doc : OfKind("prompt")) {
    SCOPED_TRACE(Reference(*doc));
    const PromptSpec prompt = Parse<PromptSpec>(*doc);
    const std::set<std::string> used = Variables(prompt.text(), Reference(*doc));
    const std::set<std::string> declared(prompt.variables().begin(), prompt.variables().end());
    EXPECT_EQ(used, declared);
  }
}

// Every {variable} an agent's calls speak or send to a model has a value: from the agent's (or a
// campaign's) default context, or from the conversation state its graph keeps.
TEST(DeployExamplesTest, EveryVariableAnAgentUsesHasAValue) {
  ASSERT_FALSE(OfKind("agent").empty());
  for (const ResourceDoc* doc : OfKind("agent")) {
    SCOPED_TRACE(Reference(*doc));
    const AgentSpec agent = Parse<AgentSpec>(*doc);
    const ResourceDoc* graph_doc = Find("graph", agent.graph());
    const ResourceDoc* template_doc = Find("template", agent.template_());
    ASSERT_NE(graph_doc, nullptr);
    ASSERT_NE(template_doc, nullptr);
    const GraphSpec graph = Parse<GraphSpec>(*graph_doc);

    std::set<std::string> known = Keys(agent.default_context());
    const std::set<std::string> state = StateKeys(graph);
    known.insert(state.begin(), state.end());

    std::vector<std::pair<std::string, std::string>> texts;  // where, text
    const TemplateSpec tmpl = Parse<TemplateSpec>(*template_doc);
    texts.emplace_back("template greeting", tmpl.greeting());
    texts.emplace_back("template voicemail", tmpl.voicemail().message());
    for (const ResourceDoc* c : OfKind("campaign")) {
      const CampaignSpec campaign = Parse<CampaignSpec>(*c);
      if (campaign.agent() != doc->name) continue;
      // A campaign's context is merged over the agent's: its keys only help its own texts, but the
      // examples keep every key in the agent's default context so the agent runs on its own.
      for (const std::string& key : Keys(campaign.default_context())) {
        EXPECT_TRUE(Keys(agent.default_context()).count(key)) << Reference(*c) << ": " << key;
      }
      const json message =
          c->spec.value(json::json_pointer("/overrides/voicemail/message"), json());
      if (message.is_string()) texts.emplace_back(Reference(*c), message.get<std::string>());
    }
    std::set<std::string> prompts = {agent.system_prompt()};
    for (const auto& node : graph.nodes()) {
      for (const std::string& line : node.say()) texts.emplace_back("node " + node.name(), line);
      prompts.insert(node.prompt());
    }
    for (const std::string& name : prompts) {
      if (name.empty()) continue;
      const ResourceDoc* p = Find("prompt", name);
      ASSERT_NE(p, nullptr) << name;
      texts.emplace_back("prompt " + name, Parse<PromptSpec>(*p).text());
    }
    for (const auto& [where, text] : texts) {
      for (const std::string& var : Variables(text, where)) {
        EXPECT_TRUE(known.count(var)) << where << ": {" << var << "} has no value";
      }
    }
  }
}

// Every example runs with no server at all: on the embedded engines, or (the LAN box) with them
// as the last fallback of each section.
TEST(DeployExamplesTest, ExamplesRunOffline) {
  auto last = [](const auto& section) {
    return section.fallbacks().empty() ? section.provider()
                                       : section.fallbacks(section.fallbacks_size() - 1).provider();
  };
  for (const ResourceDoc* doc : OfKind("template")) {
    SCOPED_TRACE(Reference(*doc));
    const TemplateSpec tmpl = Parse<TemplateSpec>(*doc);
    EXPECT_EQ(last(tmpl.stt()), "pocketsphinx");
    EXPECT_EQ(last(tmpl.llm()), "scripted");
    EXPECT_EQ(last(tmpl.tts()), "espeak");
  }
  for (const ResourceDoc* doc : OfKind("trunk")) {
    const parley::v1::TrunkSpec trunk = Parse<parley::v1::TrunkSpec>(*doc);
    EXPECT_EQ(trunk.kind(), "grpc") << Reference(*doc);
    EXPECT_EQ(trunk.grpc().address(), "127.0.0.1:50060") << Reference(*doc);
  }
}

}  // namespace
}  // namespace parley::docs
