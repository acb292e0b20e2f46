#include "common/speech/sentence_chunker.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace parley::speech {
namespace {

// Words (lower case, without their final '.') after which a '.' does not end a sentence even
// when a capitalised word follows: titles before names and abbreviations used mid-sentence.
constexpr std::array<std::string_view, 22> kAbbreviations = {
    "mr",  "mrs", "ms",     "dr",   "prof", "sr",  "jr",  "st", "mt",  "vs",  "e.g",
    "i.e", "cf",  "approx", "dept", "fig",  "gen", "gov", "lt", "col", "sgt", "rev"};

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsEndMark(char c) { return c == '.' || c == '!' || c == '?'; }

// Length of a closing quote or bracket at t[i] (ASCII or the UTF-8 right quotes ’ ”), or 0.
size_t CloserLength(std::string_view t, size_t i) {
  const char c = t[i];
  if (c == '"' || c == '\'' || c == ')' || c == ']') return 1;
  if (t.substr(i, 3) == "\xE2\x80\x99" || t.substr(i, 3) == "\xE2\x80\x9D") return 3;
  return 0;
}

// True when t[i..] is the start of a UTF-8 right quote whose last bytes have not arrived yet.
bool IsPartialCloser(std::string_view t, size_t i) {
  const std::string_view tail = t.substr(i);
  return tail.size() < 3 && (std::string_view("\xE2\x80\x99").starts_with(tail) ||
                             std::string_view("\xE2\x80\x9D").starts_with(tail));
}

// The word ending just before t[end], lower-cased, without leading quotes or brackets.
std::string WordBefore(std::string_view t, size_t end) {
  size_t start = end;
  while (start > 0 && !IsSpace(t[start - 1]) && t[start - 1] != '(' && t[start - 1] != '"') --start;
  std::string word(t.substr(start, end - start));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

bool IsAbbreviation(std::string_view t, size_t dot) {
  const std::string word = WordBefore(t, dot);
  if (word.size() == 1 && std::isupper(static_cast<unsigned char>(t[dot - 1]))) return true;
  return std::find(kAbbreviations.begin(), kAbbreviations.end(), word) != kAbbreviations.end();
}

// Where the first complete chunk of `t` ends, or nullopt when none is complete yet (either no
// end mark, or the characters deciding whether a mark ends the sentence have not arrived).
std::optional<size_t> FindEnd(std::string_view t) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n') return i;
    if (!IsEndMark(t[i])) continue;
    size_t j = i;
    bool strong = false;  // '!' or '?' in the run
    while (j < t.size() && IsEndMark(t[j])) strong |= t[j++] != '.';
    while (j < t.size()) {
      const size_t n = CloserLength(t, j);
      if (n == 0) break;
      j += n;
    }
    if (j >= t.size() || IsPartialCloser(t, j)) return std::nullopt;
    if (!IsSpace(t[j])) {
      i = j - 1;  // "3.14", "example.com"
      continue;
    }
    if (!strong) {
      size_t k = j;
      while (k < t.size() && IsSpace(t[k]) && t[k] != '\n') ++k;
      if (k >= t.size()) return std::nullopt;
      const bool next_lower = std::islower(static_cast<unsigned char>(t[k])) != 0;
      const bool single_dot = t[i + 1] != '.';  // not an ellipsis
      if (t[k] != '\n' && (next_lower || (single_dot && IsAbbreviation(t, i)))) {
        i = j - 1;
        continue;
      }
    }
    return j;
  }
  return std::nullopt;
}

// Where to split an over-long `t` without an end: after its last clause mark or at its last space
// within the first max_chars bytes; nullopt when there is neither.
std::optional<size_t> FindSplit(std::string_view t, size_t max_chars) {
  const std::string_view head = t.substr(0, max_chars);
  for (size_t i = head.size(); i-- > 1;) {
    if (IsSpace(head[i]) && (head[i - 1] == ',' || head[i - 1] == ';' || head[i - 1] == ':')) {
      return i;
    }
  }
  const size_t space = head.find_last_of(" \t");
  if (space == std::string_view::npos || space == 0) return std::nullopt;
  return space;
}

std::optional<std::string> Speakable(std::string_view chunk) {
  while (!chunk.empty() && IsSpace(chunk.front())) chunk.remove_prefix(1);
  while (!chunk.empty() && IsSpace(chunk.back())) chunk.remove_suffix(1);
  const bool says_something = std::any_of(chunk.begin(), chunk.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
  });
  if (!says_something) return std::nullopt;
  return std::string(chunk);
}

}  // namespace

std::vector<std::string> SentenceChunker::Push(std::string_view text) {
  buffer_.append(text);
  std::vector<std::string> chunks;
  while (!buffer_.empty()) {
    std::optional<size_t> end = FindEnd(buffer_);
    if (!end && options_.max_chars > 0 && buffer_.size() > options_.max_chars) {
      end = FindSplit(buffer_, options_.max_chars);
    }
    if (!end) break;
    if (auto chunk = Speakable(std::string_view(buffer_).substr(0, *end))) {
      chunks.push_back(*std::move(chunk));
    }
    buffer_.erase(0, *end + 1);  // the end is a whitespace character: drop it too
  }
  return chunks;
}

std::optional<std::string> SentenceChunker::Flush() {
  std::optional<std::string> rest = Speakable(buffer_);
  buffer_.clear();
  return rest;
}

}  // namespace parley::speech
