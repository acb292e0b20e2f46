// Splits a language model's streamed reply into speakable chunks — whole sentences — so TTS can
// start on the first sentence while the rest is still being generated.
//
//   SentenceChunker chunker;
//   for (std::string_view token : stream) {
//     for (std::string& sentence : chunker.Push(token)) tts.Speak(sentence);
//   }
//   if (auto rest = chunker.Flush()) tts.Speak(*rest);
//
// A chunk ends at a newline, or at '.', '!' or '?' (with any run of them and closing quotes or
// brackets) followed by whitespace. A '.' is not an end when the next word starts in lower case
// ("e.g. this", "approx. five"), after a title or common abbreviation ("Dr.", "Mr.", "e.g.",
// "vs."), after a single capital letter (an initial, "J. Smith"), or when no whitespace follows
// ("3.14", "$1.50", "example.com"). Because of that look-ahead a sentence is returned once the
// first character of the next word arrives (or on Flush). Chunks are trimmed; chunks with nothing
// to say (no letter or digit, e.g. "---") are dropped. A chunk longer than `max_chars` without an
// end is split at its last clause mark (, ; :) or space. Not thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::speech {

struct SentenceChunkerOptions {
  // Split unfinished text longer than this many bytes at a clause mark or space; 0: never.
  size_t max_chars = 300;
};

class SentenceChunker final {
 public:
  explicit SentenceChunker(const SentenceChunkerOptions& options = {}) : options_(options) {}

  // Appends the next piece of streamed text (any length, UTF-8) and returns the chunks it
  // completed, in order — usually none or one.
  std::vector<std::string> Push(std::string_view text);

  // Ends the stream: returns whatever is left as the last chunk, or nullopt when nothing
  // speakable is left. The chunker is then empty and may be reused for the next reply.
  std::optional<std::string> Flush();

  // Text received but not yet returned.
  std::string_view pending() const { return buffer_; }

 private:
  const SentenceChunkerOptions options_;
  std::string buffer_;
};

}  // namespace parley::speech
