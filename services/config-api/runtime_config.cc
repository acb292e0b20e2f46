#include "services/config-api/runtime_config.h"

#include <openssl/sha.h>

#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json/merge_patch.h"
#include "common/json/struct_convert.h"
#include "common/providers/registry.h"
#include "common/status/status.h"
#include "services/config-api/resource_conversion.h"
#include "services/config-api/resource_kind.h"
#include "services/config-api/validate.h"

namespace parley::config {
namespace {

using parley::v1::ResourceKind;
using Key = std::pair<ResourceKind, std::string>;

const nlohmann::json kEmpty = nlohmann::json::object();

const nlohmann::json& Member(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it == j.end() ? kEmpty : *it;
}

std::string StringMember(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = Member(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

// Credential names a provider section uses: its explicit `credential`, else (for providers that
// need one) the credential named like the provider, if it exists — `implicit` collects those.
void ProviderCredentials(const nlohmann::json& section, providers::ProviderKind kind,
                         std::set<std::string>* explicit_names, std::set<std::string>* implicit) {
  if (!section.is_object()) return;
  std::string credential = StringMember(section, "credential");
  if (!credential.empty()) {
    explicit_names->insert(credential);
  } else {
    std::string provider = StringMember(section, "provider");
    const providers::ProviderInfo* info = providers::FindProvider(kind, provider);
    if (info != nullptr && info->needs_credential) implicit->insert(provider);
  }
  const nlohmann::json& fallbacks = Member(section, "fallbacks");
  if (fallbacks.is_array()) {
    for (const nlohmann::json& f : fallbacks)
      ProviderCredentials(f, kind, explicit_names, implicit);
  }
}

void ToolCredentials(const nlohmann::json& tools, std::set<std::string>* names) {
  if (!tools.is_array()) return;
  for (const nlohmann::json& tool : tools) {
    std::string credential = StringMember(Member(tool, "http"), "credential");
    if (!credential.empty()) names->insert(credential);
  }
}

std::string Sha256Hex16(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::BytesToHexString(
             absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)))
      .substr(0, 16);
}

}  // namespace

absl::StatusOr<parley::v1::RuntimeConfig> RuntimeConfigResolver::Resolve(
    const ResolveRequest& request) const {
  if (request.agent.empty()) return InvalidField("agent", "required");

  // Round trip 1: the agent and the campaign.
  std::vector<Key> first = {{parley::v1::RESOURCE_KIND_AGENT, request.agent}};
  if (!request.campaign.empty())
    first.push_back({parley::v1::RESOURCE_KIND_CAMPAIGN, request.campaign});
  PARLEY_ASSIGN_OR_RETURN(std::vector<StoredResource> loaded, store_->GetMany(first));
  std::map<Key, StoredResource> found;
  for (StoredResource& r : loaded) found[{r.kind, r.name}] = std::move(r);
  auto it = found.find(first[0]);
  if (it == found.end())
    return absl::NotFoundError(absl::StrCat("agent \"", request.agent, "\" not found"));
  const StoredResource agent = it->second;
  StoredResource campaign;
  if (!request.campaign.empty()) {
    auto c = found.find(first[1]);
    if (c == found.end()) {
      return absl::NotFoundError(absl::StrCat("campaign \"", request.campaign, "\" not found"));
    }
    campaign = c->second;
    std::string owner = StringMember(campaign.spec, "agent");
    if (owner != request.agent) {
      return InvalidField(
          "campaign", absl::StrCat("campaign \"", request.campaign, "\" belongs to agent \"", owner,
                                   "\", not \"", request.agent, "\""));
    }
  }

  // Round trip 2: template, graph, trunk.
  std::string template_name = StringMember(agent.spec, "template");
  std::string graph_name = StringMember(agent.spec, "graph");
  std::string trunk_name = StringMember(campaign.spec, "trunk");
  std::string trunk_field = "campaign.trunk";
  if (trunk_name.empty()) {
    trunk_name = StringMember(agent.spec, "trunk");
    trunk_field = "agent.trunk";
  }
  if (trunk_name.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent \"", request.agent, "\" has no trunk and the campaign sets none"));
  }
  std::vector<Key> second = {{parley::v1::RESOURCE_KIND_TEMPLATE, template_name},
                             {parley::v1::RESOURCE_KIND_GRAPH, graph_name},
                             {parley::v1::RESOURCE_KIND_TRUNK, trunk_name}};
  PARLEY_ASSIGN_OR_RETURN(loaded, store_->GetMany(second));
  for (StoredResource& r : loaded) found[{r.kind, r.name}] = std::move(r);
  const char* fields[] = {"agent.template", "agent.graph", trunk_field.c_str()};
  for (size_t i = 0; i < second.size(); ++i) {
    if (!found.contains(second[i])) {
      return absl::NotFoundError(absl::StrCat(AbslView(KindName(second[i].first)), " \"",
                                              second[i].second, "\" (", fields[i], ") not found"));
    }
  }
  const StoredResource& tmpl = found[second[0]];
  const StoredResource& graph = found[second[1]];
  const StoredResource& trunk = found[second[2]];

  // Merge and validate the effective template.
  nlohmann::json merged = tmpl.spec;
  merged = json::MergePatch(std::move(merged), Member(campaign.spec, "overrides"));
  merged = json::MergePatch(std::move(merged), request.call_overrides);
  PARLEY_RETURN_IF_ERROR(ValidateTemplate(merged));
  if (request.validate_only) {
    parley::v1::RuntimeConfig checked;
    PARLEY_ASSIGN_OR_RETURN(*checked.mutable_template_(), json::JsonToStruct(merged));
    checked.set_etag(Sha256Hex16(absl::StrCat(agent.etag, campaign.etag, tmpl.etag, graph.etag,
                                              trunk.etag, request.call_overrides.dump())));
    return checked;
  }

  // Round trip 3: prompts in force and credentials.
  std::set<std::string> prompt_names;
  if (std::string s = StringMember(agent.spec, "system_prompt"); !s.empty()) prompt_names.insert(s);
  const nlohmann::json& nodes = Member(graph.spec, "nodes");
  if (nodes.is_array()) {
    for (const nlohmann::json& node : nodes) {
      if (std::string p = StringMember(node, "prompt"); !p.empty()) prompt_names.insert(p);
    }
  }
  const nlohmann::json& pins = Member(agent.spec, "prompt_versions");
  std::vector<std::pair<std::string, int>> pinned;
  std::vector<Key> latest;
  for (const std::string& name : prompt_names) {
    if (pins.is_object() && pins.contains(name) && pins[name].is_number_integer()) {
      pinned.emplace_back(name, pins[name].get<int>());
    } else {
      latest.push_back({parley::v1::RESOURCE_KIND_PROMPT, name});
    }
  }
  std::set<std::string> credential_names, implicit_credentials;
  ProviderCredentials(Member(merged, "stt"), providers::ProviderKind::kStt, &credential_names,
                      &implicit_credentials);
  ProviderCredentials(Member(merged, "tts"), providers::ProviderKind::kTts, &credential_names,
                      &implicit_credentials);
  ProviderCredentials(Member(merged, "llm"), providers::ProviderKind::kLlm, &credential_names,
                      &implicit_credentials);
  ToolCredentials(Member(graph.spec, "tools"), &credential_names);
  ToolCredentials(Member(agent.spec, "tools"), &credential_names);
  if (std::string c = StringMember(Member(trunk.spec, "sip"), "auth_credential"); !c.empty()) {
    credential_names.insert(c);
  }
  if (std::string c = StringMember(Member(campaign.spec, "webhook"), "secret"); !c.empty()) {
    credential_names.insert(c);
  }
  for (const std::string& name : credential_names)
    latest.push_back({parley::v1::RESOURCE_KIND_CREDENTIAL, name});
  for (const std::string& name : implicit_credentials) {
    if (!credential_names.contains(name))
      latest.push_back({parley::v1::RESOURCE_KIND_CREDENTIAL, name});
  }
  PARLEY_ASSIGN_OR_RETURN(loaded, store_->GetMany(latest));
  PARLEY_ASSIGN_OR_RETURN(std::vector<StoredResource> pinned_prompts,
                          store_->GetPromptVersions(pinned));

  parley::v1::RuntimeConfig config;
  std::string etag_input =
      absl::StrCat(agent.etag, campaign.etag, tmpl.etag, graph.etag, trunk.etag,
                   request.call_overrides.dump(), request.include_secrets);
  std::map<std::string, const StoredResource*> prompts, credentials;
  for (const StoredResource& r : loaded) {
    (r.kind == parley::v1::RESOURCE_KIND_PROMPT ? prompts : credentials)[r.name] = &r;
  }
  for (const StoredResource& r : pinned_prompts) prompts[r.name] = &r;
  for (const std::string& name : prompt_names) {
    if (!prompts.contains(name)) {
      auto pin = std::find_if(pinned.begin(), pinned.end(),
                              [&](const auto& p) { return p.first == name; });
      return absl::NotFoundError(pin == pinned.end()
                                     ? absl::StrCat("prompt \"", name, "\" not found")
                                     : absl::StrCat("prompt \"", name, "\" has no version ",
                                                    pin->second, " (agent.prompt_versions)"));
    }
  }
  for (const std::string& name : credential_names) {
    if (!credentials.contains(name))
      return absl::NotFoundError(absl::StrCat("credential \"", name, "\" not found"));
  }
  for (const auto& [name, prompt] : prompts) {
    PARLEY_ASSIGN_OR_RETURN(*config.add_prompts(), ToProto(*prompt));
    absl::StrAppend(&etag_input, prompt->etag);
  }
  for (const auto& [name, credential] : credentials) {
    absl::StrAppend(&etag_input, credential->etag);
    if (request.include_secrets) {
      if (secrets_ == nullptr) {
        return absl::FailedPreconditionError(
            "PARLEY_MASTER_KEY is not set: credentials cannot be decrypted");
      }
      PARLEY_ASSIGN_OR_RETURN(std::string secret,
                              secrets_->Open(credential->sealed_secret, credential->name));
      (*config.mutable_credentials())[name] = std::move(secret);
    } else {
      (*config.mutable_credentials())[name] = StringMember(credential->spec, "hint");
    }
  }
  config.set_secrets_included(request.include_secrets);

  PARLEY_ASSIGN_OR_RETURN(*config.mutable_template_(), json::JsonToStruct(merged));
  PARLEY_ASSIGN_OR_RETURN(*config.mutable_agent(), json::JsonToStruct(agent.spec));
  if (!request.campaign.empty()) {
    PARLEY_ASSIGN_OR_RETURN(*config.mutable_campaign(), json::JsonToStruct(campaign.spec));
  }
  PARLEY_ASSIGN_OR_RETURN(*config.mutable_graph(), ToProto(graph));
  PARLEY_ASSIGN_OR_RETURN(*config.mutable_trunk(), ToProto(trunk));
  config.set_etag(Sha256Hex16(etag_input));
  return config;
}

}  // namespace parley::config
