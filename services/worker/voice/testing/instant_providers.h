// Zero-latency stand-ins for speech providers: the pipeline tests and the worker benchmark use
// them where what is measured or checked is the pipeline itself, not a speech engine.
//
//   auto stt = std::make_shared<ListSpeechToText>(std::vector<std::string>{"yes", "no"});
//   auto tts = std::make_shared<ToneSpeech>(ToneSpeechOptions{.ms_per_word = 200});
//   registry.AddStt("list", [stt](auto&, auto&) { return stt; });
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/speech/providers.h"

namespace parley::worker::testing {

// Recognises each utterance as the next text of a list, whatever the audio (an empty string is
// "no words"). Every session starts at the beginning of the list; past its end, `cycle` starts
// over, else utterances come out empty.
class ListSpeechToText final : public speech::SpeechToText {
 public:
  explicit ListSpeechToText(std::vector<std::string> texts, bool cycle = false)
      : texts_(std::move(texts)), cycle_(cycle) {}
  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override;
  // Phrase lists the sessions were given (SetPhrases and StartSession), most recent last.
  std::vector<std::vector<std::string>> phrase_history() const;

 private:
  friend class ListSession;
  const std::vector<std::string> texts_;
  const bool cycle_;
  mutable absl::Mutex mu_;
  std::vector<std::vector<std::string>> phrases_ ABSL_GUARDED_BY(mu_);
};

struct ToneSpeechOptions {
  int ms_per_word = 200;  // audio length per word of text (at least one frame per call)
  double hz = 440;
  int amplitude = 4000;
  // Each word its own tone (200–800 Hz, from the word): the same text gives the same audio and
  // different texts different audio, as a real synthesiser's would — what the worker's Opus
  // packet cache sees (bench/worker_bench). Off: one `hz` tone for everything.
  bool pitch_per_word = false;
  // Fail every call with UNAVAILABLE (fallback tests).
  bool fail = false;
};

// "Synthesises" a tone as long as the text's words would take to say; counts its calls.
class ToneSpeech final : public speech::TextToSpeech {
 public:
  explicit ToneSpeech(ToneSpeechOptions options = {}) : options_(options) {}
  absl::Status Synthesize(std::string_view text,
                          absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                          const speech::CancelFlag* cancel) override;
  int calls() const { return calls_.load(); }

 private:
  const ToneSpeechOptions options_;
  std::atomic<int> calls_{0};
};

}  // namespace parley::worker::testing
