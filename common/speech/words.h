// Words of spoken text, as speech recognisers and phrase matching see them: lower case, without
// punctuation. Shared by the recogniser's grammar (pocketsphinx_stt.h) and intent matching
// (scripted_policy.h), so a phrase is normalised the same way on both sides.
//
//   PhraseWords("Yes, that's ME!")                      → {"yes", "that's", "me"}
//   ContainsPhrase("Well, no thanks.", "No thanks")     → true
//   ContainsPhrase("I know", "no")                      → false (whole words only)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::speech {

// The words of `text`: runs of letters, digits, apostrophes and non-ASCII bytes, ASCII letters
// lower-cased; everything else separates words.
std::vector<std::string> PhraseWords(std::string_view text);

// True when the words of `phrase` occur consecutively among the words of `text` (so
// case-insensitive, on word boundaries, ignoring punctuation). A phrase without words matches
// nothing.
bool ContainsPhrase(std::string_view text, std::string_view phrase);

}  // namespace parley::speech
