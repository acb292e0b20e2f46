// Which other resources a configuration spec names, for referential integrity: config-api checks
// that each exists when the spec is written and refuses to delete a resource while another one
// references it ("agent/payment-reminder references template/default").
//
//   for (const Reference& ref : ReferencesOf(RESOURCE_KIND_AGENT, agent_spec)) {
//     // {RESOURCE_KIND_TEMPLATE, "default", "agent.template"}, {RESOURCE_KIND_GRAPH, ...}, ...
//   }
//
// References by kind:
//   agent          template, graph, system_prompt (prompt), trunk, prompt_versions keys (prompt),
//                  tools[].http.credential
//   template       stt/tts/llm credential and their fallbacks' credentials
//   graph          nodes[].prompt (prompt), tools[].http.credential
//   campaign       agent, trunk, webhook.secret (credential), and the credentials its template
//                  overrides name (overrides.stt.credential, ...)
//   trunk          sip.auth_credential
//   inbound_route  agent, campaign
//   prompt, credential: none
// Implicit defaults (a template provider without `credential` uses the credential named like the
// provider, if any) are not references.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "parley/v1/config.pb.h"

namespace parley::config {

// One resource named by a spec.
struct Reference {
  // Kind of the referenced resource.
  parley::v1::ResourceKind kind;
  // Its name.
  std::string name;
  // Path of the field that names it, as in validation errors: "agent.template",
  // "graph.nodes[2].prompt", "agent.prompt_versions.billing-intro".
  std::string field;

  friend bool operator==(const Reference&, const Reference&) = default;
};

// Every resource `spec` (of kind `kind`) names, in document order, deduplicated by (kind, name)
// keeping the first field. Empty and non-string names are skipped, so it is safe on a spec that
// has not been validated. Never fails.
std::vector<Reference> ReferencesOf(parley::v1::ResourceKind kind, const nlohmann::json& spec);

}  // namespace parley::config
