#include "services/worker/voice/testing/instant_providers.h"

#include <cmath>
#include <functional>

#include "common/speech/words.h"

namespace parley::worker::testing {

class ListSession final : public speech::SttSession {
 public:
  explicit ListSession(ListSpeechToText* owner) : owner_(owner) {}
  absl::Status SetPhrases(const std::vector<std::string>& phrases) override {
    absl::MutexLock lock(&owner_->mu_);
    owner_->phrases_.push_back(phrases);
    return absl::OkStatus();
  }
  absl::Status StartUtterance() override { return absl::OkStatus(); }
  absl::Status Push(std::span<const int16_t>) override { return absl::OkStatus(); }
  std::string Partial() override { return Current(); }
  absl::StatusOr<std::string> EndUtterance() override {
    std::string text = Current();
    ++next_;
    return text;
  }

 private:
  std::string Current() const {
    const auto& texts = owner_->texts_;
    if (texts.empty()) return "";
    if (next_ < texts.size()) return texts[next_];
    return owner_->cycle_ ? texts[next_ % texts.size()] : "";
  }
  ListSpeechToText* const owner_;
  size_t next_ = 0;
};

absl::StatusOr<std::unique_ptr<speech::SttSession>> ListSpeechToText::StartSession(
    const speech::SttSessionOptions& options) {
  {
    absl::MutexLock lock(&mu_);
    phrases_.push_back(options.phrases);
  }
  return std::unique_ptr<speech::SttSession>(std::make_unique<ListSession>(this));
}

std::vector<std::vector<std::string>> ListSpeechToText::phrase_history() const {
  absl::MutexLock lock(&mu_);
  return phrases_;
}

absl::Status ToneSpeech::Synthesize(std::string_view text,
                                    absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                                    const speech::CancelFlag* cancel) {
  calls_.fetch_add(1);
  if (options_.fail) return absl::UnavailableError("tone speech: failing on purpose");
  if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("canceled");
  std::vector<std::string> word_list = speech::PhraseWords(text);
  if (word_list.empty()) word_list.emplace_back();  // at least one word's audio
  const size_t per_word = static_cast<size_t>(options_.ms_per_word) * 16;
  // A word at a time, as a streaming synthesiser hands over its audio: never the whole sentence
  // in one buffer (the worker's memory per call is measured with this stand-in).
  std::vector<int16_t> pcm(per_word);
  size_t at = 0;  // samples produced so far: one continuous tone when not pitched per word
  for (const std::string& word : word_list) {
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("canceled");
    if (!options_.pitch_per_word || word.empty()) {
      for (size_t i = 0; i < per_word; ++i, ++at) {
        pcm[i] = static_cast<int16_t>(
            options_.amplitude * std::sin(2 * M_PI * options_.hz * static_cast<double>(at) / 16000));
      }
    } else {
      // A tone per word by rotation (two multiplications a sample, not a sin): the benchmark
      // counts this stand-in's CPU as the worker's, and a real synthesiser is not what it
      // measures.
      const double hz = 200 + static_cast<double>(std::hash<std::string>()(word) % 600);
      const double step = 2 * M_PI * hz / 16000;
      const double k = 2 * std::cos(step);
      double previous = 0, current = std::sin(step);
      for (size_t i = 0; i < per_word; ++i) {
        pcm[i] = static_cast<int16_t>(options_.amplitude * previous);
        const double next = k * current - previous;
        previous = current;
        current = next;
      }
    }
    on_audio(pcm);
  }
  return absl::OkStatus();
}

}  // namespace parley::worker::testing
