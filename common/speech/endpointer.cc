#include "common/speech/endpointer.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace parley::speech {
namespace {

// Last words after which people rarely stop: conjunctions, fillers, articles and prepositions.
constexpr std::array<std::string_view, 27> kUnfinishedEndings = {
    "and", "but", "or",  "so",   "because", "cause", "um",   "umm", "uh",
    "er",  "erm", "hmm", "mm",   "like",    "then",  "if",   "the", "a",
    "an",  "to",  "of",  "with", "for",     "my",    "your", "our", "than"};

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

bool LooksUnfinished(std::string_view transcript, bool punctuated) {
  while (!transcript.empty() && IsSpace(transcript.back())) transcript.remove_suffix(1);
  if (transcript.empty()) return false;
  if (transcript.back() == ',' || transcript.ends_with("...") ||
      transcript.ends_with("\xE2\x80\xA6")) {
    return true;
  }
  const char last = transcript.back();
  const bool final_mark = last == '.' || last == '!' || last == '?';
  if (punctuated && !final_mark) return true;

  // The last word, without trailing punctuation, lower-cased.
  size_t end = transcript.size();
  while (end > 0 && std::ispunct(static_cast<unsigned char>(transcript[end - 1]))) --end;
  size_t start = end;
  while (start > 0 && !IsSpace(transcript[start - 1])) --start;
  std::string word(transcript.substr(start, end - start));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(kUnfinishedEndings.begin(), kUnfinishedEndings.end(), word) !=
         kUnfinishedEndings.end();
}

Endpointer::Endpointer(const EndpointerOptions& options, Clock* clock)
    : options_(options), clock_(clock) {}

void Endpointer::OnSpeechStart() {
  waiting_ = false;
  stopped_at_ = absl::InfinitePast();
}

void Endpointer::OnSpeechEnd() { OnSpeechEnd(clock_->Now()); }

void Endpointer::OnSpeechEnd(absl::Time stopped_at) {
  waiting_ = true;
  stopped_at_ = stopped_at;
}

void Endpointer::OnTranscript(std::string_view transcript) { transcript_.assign(transcript); }

absl::Time Endpointer::deadline() const {
  if (!waiting_) return absl::InfiniteFuture();
  const absl::Duration wait = LooksUnfinished(transcript_, options_.stt_punctuates)
                                  ? std::max(options_.max_delay, options_.min_delay)
                                  : options_.min_delay;
  return stopped_at_ + wait;
}

bool Endpointer::Poll() {
  if (!waiting_ || clock_->Now() < deadline()) return false;
  Reset();
  return true;
}

void Endpointer::Reset() {
  waiting_ = false;
  stopped_at_ = absl::InfinitePast();
  transcript_.clear();
}

}  // namespace parley::speech
