// Fuzzes spec validation (validate.h) — templates, graphs (structure and transition conditions),
// and every other kind — and prompt-variable parsing. The input is one byte choosing the kind
// (its value modulo 9, ResourceKind 0-8) followed by the spec as JSON; the JSON text is also
// parsed as a prompt, and a JSON object is also validated as an effective template. Validation
// must answer OK or INVALID_ARGUMENT, never anything else, whatever the spec.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "services/config-api/validate.h"

namespace {

void ExpectOkOrInvalid(const absl::Status& status, const char* what) {
  if (status.ok() || absl::IsInvalidArgument(status)) return;
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto kind = static_cast<parley::v1::ResourceKind>(data[0] % 9);
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ExpectOkOrInvalid(parley::config::PromptVariables(text).status(), "PromptVariables");
  nlohmann::json spec = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return 0;
  ExpectOkOrInvalid(parley::config::ValidateSpec(kind, "fuzz", spec), "ValidateSpec");
  if (spec.is_object()) {
    ExpectOkOrInvalid(parley::config::ValidateTemplate(spec), "ValidateTemplate");
    ExpectOkOrInvalid(parley::config::ValidateCredential("fuzz", spec, /*creating=*/true),
                      "ValidateCredential");
  }
  return 0;
}
