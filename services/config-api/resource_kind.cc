#include "services/config-api/resource_kind.h"

#include <array>
#include <utility>

namespace parley::config {
namespace {

using parley::v1::ResourceKind;

constexpr std::array<std::pair<ResourceKind, std::string_view>, 8> kKinds = {{
    {parley::v1::RESOURCE_KIND_TEMPLATE, "template"},
    {parley::v1::RESOURCE_KIND_PROMPT, "prompt"},
    {parley::v1::RESOURCE_KIND_GRAPH, "graph"},
    {parley::v1::RESOURCE_KIND_AGENT, "agent"},
    {parley::v1::RESOURCE_KIND_CAMPAIGN, "campaign"},
    {parley::v1::RESOURCE_KIND_TRUNK, "trunk"},
    {parley::v1::RESOURCE_KIND_CREDENTIAL, "credential"},
    {parley::v1::RESOURCE_KIND_INBOUND_ROUTE, "inbound_route"},
}};

}  // namespace

std::string_view KindName(ResourceKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "";
}

std::optional<ResourceKind> ParseKind(std::string_view name) {
  for (const auto& [k, n] : kKinds) {
    if (n == name) return k;
  }
  return std::nullopt;
}

std::string KnownKindNames() {
  std::string out;
  for (const auto& [k, name] : kKinds) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace parley::config
