// Names of configuration resource kinds, as stored in Postgres, written in YAML documents and
// typed on the command line: "template", "prompt", …, "inbound_route".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "parley/v1/config.pb.h"

namespace parley::config {

// "template" for RESOURCE_KIND_TEMPLATE, …; "" for UNSPECIFIED.
std::string_view KindName(parley::v1::ResourceKind kind);

// The kind named `name` (as KindName spells it), or nullopt.
std::optional<parley::v1::ResourceKind> ParseKind(std::string_view name);

// "template, prompt, graph, agent, campaign, trunk, credential, inbound_route".
std::string KnownKindNames();

}  // namespace parley::config
