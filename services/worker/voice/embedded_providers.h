// The embedded, offline providers — the defaults that make a call work with no network at all:
// `espeak` TTS (espeak-ng), `pocketsphinx` STT (a grammar of the phrases the conversation expects,
// the en-us language model otherwise) and the `scripted` policy (no language model: the graph
// speaks its own lines).
//
//   ProviderRegistry registry;
//   RegisterEmbeddedProviders(registry, {.recognizers_kept = 8});
//
// One espeak-ng engine serves the whole process (its C API is process-global; EspeakTts owns a
// thread and a phrase cache). Pocketsphinx decoders are expensive to create (0.1-0.2 s, ~28 MB,
// see common/speech/pocketsphinx_stt.h), so finished calls return theirs to a pool and new calls
// take one from it; a recycled decoder also keeps its adapted cepstral mean, which recognises
// a call's first words better than a fresh one.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/speech/espeak_tts.h"
#include "common/speech/pocketsphinx_stt.h"
#include "common/speech/providers.h"
#include "services/worker/voice/provider_registry.h"

namespace parley::worker {

struct EmbeddedProviderOptions {
  // Idle pocketsphinx decoders kept for later calls.
  int recognizers_kept = 4;
  speech::PocketsphinxModel model;
};

// Registers `espeak` (tts), `pocketsphinx` (stt) and `scripted` (llm, no model) on `registry`.
// espeak-ng and the decoder pool are created on first use and shared by every call afterwards.
void RegisterEmbeddedProviders(ProviderRegistry& registry, EmbeddedProviderOptions options);

// espeak-ng as a TextToSpeech with a fixed voice.
class EspeakSpeech final : public speech::TextToSpeech {
 public:
  EspeakSpeech(std::shared_ptr<speech::EspeakTts> engine, speech::TtsVoice voice)
      : engine_(std::move(engine)), voice_(std::move(voice)) {}
  absl::Status Synthesize(std::string_view text,
                          absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                          const speech::CancelFlag* cancel) override;

 private:
  const std::shared_ptr<speech::EspeakTts> engine_;
  const speech::TtsVoice voice_;
};

// Pocketsphinx as a SpeechToText, with a pool of idle decoders.
class PocketsphinxSpeech final : public speech::SpeechToText,
                                 public std::enable_shared_from_this<PocketsphinxSpeech> {
 public:
  explicit PocketsphinxSpeech(EmbeddedProviderOptions options) : options_(std::move(options)) {}
  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override;

  // A session hands its decoder back when it ends.
  void Return(std::unique_ptr<speech::PocketsphinxRecognizer> recognizer);

 private:
  const EmbeddedProviderOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<speech::PocketsphinxRecognizer>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::worker
