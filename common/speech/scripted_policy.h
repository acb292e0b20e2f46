// The deterministic pieces of the `scripted` dialogue policy: recognising which intent the
// callee's turn expresses from the graph's example phrases (GraphSpec.intents), and filling the
// `{variables}` of scripted lines, greetings and prompts from the call context and state.
//
//   std::vector<IntentPhrases> intents = {{"opt_out", {"stop calling", "remove me"}},
//                                         {"deny", {"no", "not me"}},
//                                         {"affirm", {"yes", "that's me"}}};
//   MatchIntent("No, please stop calling me.", intents);   // "opt_out": first listed wins
//
//   PARLEY_ASSIGN_OR_RETURN(FilledText line,
//                           FillVariables("Hi {lead_name}, about {invoice.total}? {{ok}}",
//                                         {&call_context, &state, &agent_defaults}));
//   // line.text == "Hi Dana, about 120.5? {ok}"; line.missing lists unknown variables.
//
// Matching is on whole words, case-insensitive, ignoring punctuation (ContainsPhrase, words.h).
// Variable syntax is the one config-api validates (PromptVariables): `{name}` or a dotted path
// `{invoice.total}`, `{items.0}`; `{{` and `}}` are literal braces. Thread-safe (no state).
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace parley::speech {

// An intent and the phrases that express it (GraphSpec.Intent).
struct IntentPhrases {
  std::string name;
  std::vector<std::string> phrases;
};

// The name of the first intent, in list order, one of whose phrases occurs in `utterance`;
// nullopt when none does. List overlapping intents most specific first ("not interested"
// before "interested").
std::optional<std::string> MatchIntent(std::string_view utterance,
                                       std::span<const IntentPhrases> intents);

struct FilledText {
  std::string text;
  // Variables found in no source, in order of first appearance; they were replaced by "".
  std::vector<std::string> missing;
};

// Replaces each `{path}` in `text` with the value at that dotted path in the first of `sources`
// that has one (null values count as absent): strings as they are, numbers and booleans as JSON
// writes them, objects and arrays as compact JSON. A path segment of digits indexes an array.
// Null source pointers are skipped. Fails with INVALID_ARGUMENT ("unmatched '{' at column 3")
// for a brace that forms neither a variable nor a literal brace.
absl::StatusOr<FilledText> FillVariables(std::string_view text,
                                         std::span<const nlohmann::json* const> sources);
absl::StatusOr<FilledText> FillVariables(std::string_view text,
                                         std::initializer_list<const nlohmann::json*> sources);

}  // namespace parley::speech
