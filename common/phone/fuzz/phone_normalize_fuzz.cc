// Fuzzes phone-number normalisation (phone.h): the input is "<region>\n<number>" (no newline: the
// whole input is the number, region "US"). Besides not crashing, checks what NormalizeE164
// promises: its result is E.164 and normalising it again gives the same number.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/phone/phone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view region = "US";
  if (size_t nl = input.find('\n'); nl != std::string_view::npos && nl <= 8) {
    region = input.substr(0, nl);
    input.remove_prefix(nl + 1);
  }
  absl::StatusOr<std::string> e164 = parley::phone::NormalizeE164(input, region);
  parley::phone::IsE164(input);
  parley::phone::RegionOf(input);
  parley::phone::TimeZonesOf(input);
  if (!e164.ok()) return 0;
  if (!parley::phone::IsE164(*e164)) {
    std::fprintf(stderr, "NormalizeE164 returned %s, which IsE164 rejects\n", e164->c_str());
    std::abort();
  }
  absl::StatusOr<std::string> again = parley::phone::NormalizeE164(*e164, "");
  if (!again.ok() || *again != *e164) {
    std::fprintf(stderr, "NormalizeE164 not idempotent on %s: %s\n", e164->c_str(),
                 again.ok() ? again->c_str() : again.status().ToString().c_str());
    std::abort();
  }
  parley::phone::RegionOf(*e164);
  parley::phone::TimeZonesOf(*e164);
  return 0;
}
