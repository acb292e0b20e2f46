#include "common/speech/words.h"

#include <algorithm>
#include <cctype>

namespace parley::speech {

std::vector<std::string> PhraseWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '\'' || u >= 0x80) {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

bool ContainsPhrase(std::string_view text, std::string_view phrase) {
  const std::vector<std::string> needle = PhraseWords(phrase);
  if (needle.empty()) return false;
  const std::vector<std::string> haystack = PhraseWords(text);
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

}  // namespace parley::speech
