// What `parleyctl phone` and `parleyctl test` share to play simulated callees: loading a directory
// of personas, and (when pocketsphinx is built in) a recogniser of the agent's speech for personas
// with keyed replies.
//
//   PARLEY_ASSIGN_OR_RETURN(std::vector<callee::Persona> all,
//                           LoadPersonaDir("deploy/examples/personas"));
//   if (NeedsRecognizer(all)) { PARLEY_ASSIGN_OR_RETURN(options.recognizer, MakeRecognizer()); }
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/callee/persona.h"
#include "common/callee/persona_endpoint.h"

namespace parley::cli {

// Every persona in the *.yaml / *.yml files of `dir` (not its subdirectories; other documents are
// skipped), files in name order. Fails with NOT_FOUND when `dir` cannot be listed, and as
// callee::ParsePersonas does for a malformed persona.
absl::StatusOr<std::vector<callee::Persona>> LoadPersonaDir(const std::string& dir);

// Whether any of `personas` has a reply keyed on what the agent said (`when:`).
bool NeedsRecognizer(const std::vector<callee::Persona>& personas);

// Open-vocabulary recognition of the agent's turns, one decoder shared by all calls. Fails with
// UNIMPLEMENTED in a build without pocketsphinx, else as the recogniser's setup fails.
absl::StatusOr<callee::Recognizer> MakeRecognizer();

}  // namespace parley::cli
