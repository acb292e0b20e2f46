// Fuzzes the YAML loader of `parleyctl apply -f` (resource_docs.h, and yaml_json.h under it):
// the input is a resource file. Parsing must return documents or INVALID_ARGUMENT, never crash,
// hang or throw; a document it returns has a known kind and a spec that is a JSON object, and
// serialises (what apply does next).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/docs/resource_docs.h"
#include "common/docs/yaml_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<parley::docs::ResourceDoc>> docs =
      parley::docs::ParseResourceDocs(text, "fuzz.yaml");
  if (!docs.ok() && !absl::IsInvalidArgument(docs.status())) {
    std::fprintf(stderr, "ParseResourceDocs: %s\n", docs.status().ToString().c_str());
    std::abort();
  }
  if (docs.ok()) {
    for (const parley::docs::ResourceDoc& doc :
         parley::docs::OrderForApply(std::move(docs).value())) {
      if (!parley::docs::IsKnownKind(doc.kind) || !doc.spec.is_object()) std::abort();
      parley::docs::Location(doc);
      parley::docs::Reference(doc);
      doc.spec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  parley::docs::ParseYamlAsJson(text, "fuzz.yaml").IgnoreError();
  return 0;
}
