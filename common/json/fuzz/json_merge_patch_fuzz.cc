// Fuzzes RFC 7386 merge patches, Parley's deep merge (merge_patch.h): the input is
// "<target JSON>\0<patch JSON>" (no NUL: the whole input is both). Besides not crashing, checks
// that ParseJsonObject only returns objects and that applying a patch twice changes nothing more
// than applying it once (RFC 7386 patches are idempotent).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/json/merge_patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view target_text = input;
  std::string_view patch_text = input;
  if (size_t nul = input.find('\0'); nul != std::string_view::npos) {
    target_text = input.substr(0, nul);
    patch_text = input.substr(nul + 1);
  }
  absl::StatusOr<nlohmann::json> object = parley::json::ParseJsonObject(patch_text, "patch");
  if (object.ok() && !object->is_object()) std::abort();

  nlohmann::json target = nlohmann::json::parse(target_text, nullptr, /*allow_exceptions=*/false);
  nlohmann::json patch = nlohmann::json::parse(patch_text, nullptr, /*allow_exceptions=*/false);
  if (target.is_discarded() || patch.is_discarded()) return 0;
  nlohmann::json once = parley::json::MergePatch(target, patch);
  nlohmann::json twice = parley::json::MergePatch(once, patch);
  if (once != twice) {
    std::fprintf(stderr, "merge patch not idempotent:\n%s\n%s\n", once.dump().c_str(),
                 twice.dump().c_str());
    std::abort();
  }
  return 0;
}
