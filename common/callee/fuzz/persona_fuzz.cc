// Fuzzes persona files (persona.h): the input is a persona YAML file. ParsePersonas must return
// personas or INVALID_ARGUMENT, never crash, hang or throw; a persona it returns keeps the rules
// the header states (a name, no empty reply unless it is a silence entry).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/callee/persona.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<parley::callee::Persona>> personas =
      parley::callee::ParsePersonas(text, "fuzz.yaml");
  if (!personas.ok()) {
    if (absl::IsInvalidArgument(personas.status())) return 0;
    std::fprintf(stderr, "ParsePersonas: %s\n", personas.status().ToString().c_str());
    std::abort();
  }
  for (const parley::callee::Persona& p : *personas) {
    if (p.name.empty()) std::abort();
    parley::callee::AnswerModeName(p.answer);
    for (const parley::callee::Reply& r : p.replies) {
      if (r.say.empty() && !r.silence) std::abort();
      p.PauseFor(r);
    }
  }
  return 0;
}
