#include "services/config-api/references.h"

#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::config {
namespace {

using Json = nlohmann::json;
using parley::v1::ResourceKind;

// Collects references, keeping the first field of each (kind, name).
class Collector {
 public:
  // Adds `node[key]` if it is a non-empty string.
  void Add(ResourceKind kind, const Json& node, std::string_view key, const std::string& path) {
    if (!node.is_object()) return;
    auto it = node.find(key);
    if (it == node.end() || !it->is_string()) return;
    AddName(kind, it->get<std::string>(), absl::StrCat(path, ".", AbslView(key)));
  }

  void AddName(ResourceKind kind, std::string name, std::string field) {
    if (name.empty() || !seen_.emplace(kind, name).second) return;
    refs_.push_back({kind, std::move(name), std::move(field)});
  }

  std::vector<Reference> Take() { return std::move(refs_); }

 private:
  std::set<std::pair<ResourceKind, std::string>> seen_;
  std::vector<Reference> refs_;
};

const Json& Member(const Json& node, std::string_view key) {
  static const Json* const kNull = new Json();
  if (!node.is_object()) return *kNull;
  auto it = node.find(key);
  return it == node.end() ? *kNull : *it;
}

void ToolCredentials(const Json& tools, const std::string& path, Collector& out) {
  if (!tools.is_array()) return;
  for (size_t i = 0; i < tools.size(); ++i) {
    out.Add(parley::v1::RESOURCE_KIND_CREDENTIAL, Member(tools[i], "http"), "credential",
            absl::StrCat(path, "[", i, "].http"));
  }
}

// Credentials of a template (or of a merge patch over one) rooted at `path`.
void TemplateCredentials(const Json& spec, const std::string& path, Collector& out) {
  for (std::string_view section : {"stt", "tts", "llm"}) {
    const Json& s = Member(spec, section);
    const std::string spath = absl::StrCat(path, ".", AbslView(section));
    out.Add(parley::v1::RESOURCE_KIND_CREDENTIAL, s, "credential", spath);
    const Json& fallbacks = Member(s, "fallbacks");
    if (!fallbacks.is_array()) continue;
    for (size_t i = 0; i < fallbacks.size(); ++i) {
      out.Add(parley::v1::RESOURCE_KIND_CREDENTIAL, fallbacks[i], "credential",
              absl::StrCat(spath, ".fallbacks[", i, "]"));
    }
  }
}

}  // namespace

std::vector<Reference> ReferencesOf(ResourceKind kind, const Json& spec) {
  Collector out;
  switch (kind) {
    case parley::v1::RESOURCE_KIND_AGENT: {
      out.Add(parley::v1::RESOURCE_KIND_TEMPLATE, spec, "template", "agent");
      out.Add(parley::v1::RESOURCE_KIND_GRAPH, spec, "graph", "agent");
      out.Add(parley::v1::RESOURCE_KIND_PROMPT, spec, "system_prompt", "agent");
      out.Add(parley::v1::RESOURCE_KIND_TRUNK, spec, "trunk", "agent");
      const Json& versions = Member(spec, "prompt_versions");
      if (versions.is_object()) {
        for (const auto& [prompt, version] : versions.items()) {
          out.AddName(parley::v1::RESOURCE_KIND_PROMPT, prompt,
                      absl::StrCat("agent.prompt_versions.", prompt));
        }
      }
      ToolCredentials(Member(spec, "tools"), "agent.tools", out);
      break;
    }
    case parley::v1::RESOURCE_KIND_TEMPLATE:
      TemplateCredentials(spec, "template", out);
      break;
    case parley::v1::RESOURCE_KIND_GRAPH: {
      const Json& nodes = Member(spec, "nodes");
      if (nodes.is_array()) {
        for (size_t i = 0; i < nodes.size(); ++i) {
          out.Add(parley::v1::RESOURCE_KIND_PROMPT, nodes[i], "prompt",
                  absl::StrCat("graph.nodes[", i, "]"));
        }
      }
      ToolCredentials(Member(spec, "tools"), "graph.tools", out);
      break;
    }
    case parley::v1::RESOURCE_KIND_CAMPAIGN:
      out.Add(parley::v1::RESOURCE_KIND_AGENT, spec, "agent", "campaign");
      out.Add(parley::v1::RESOURCE_KIND_TRUNK, spec, "trunk", "campaign");
      out.Add(parley::v1::RESOURCE_KIND_CREDENTIAL, Member(spec, "webhook"), "secret",
              "campaign.webhook");
      TemplateCredentials(Member(spec, "overrides"), "campaign.overrides", out);
      break;
    case parley::v1::RESOURCE_KIND_TRUNK:
      out.Add(parley::v1::RESOURCE_KIND_CREDENTIAL, Member(spec, "sip"), "auth_credential",
              "trunk.sip");
      break;
    case parley::v1::RESOURCE_KIND_INBOUND_ROUTE:
      out.Add(parley::v1::RESOURCE_KIND_AGENT, spec, "agent", "inbound_route");
      out.Add(parley::v1::RESOURCE_KIND_CAMPAIGN, spec, "campaign", "inbound_route");
      break;
    default:
      break;
  }
  return out.Take();
}

}  // namespace parley::config
