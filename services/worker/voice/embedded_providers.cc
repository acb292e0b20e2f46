#include "services/worker/voice/embedded_providers.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::worker {
namespace {

class PocketsphinxSession final : public speech::SttSession {
 public:
  PocketsphinxSession(std::shared_ptr<PocketsphinxSpeech> owner,
                      std::unique_ptr<speech::PocketsphinxRecognizer> recognizer)
      : owner_(std::move(owner)), recognizer_(std::move(recognizer)) {}
  ~PocketsphinxSession() override {
    if (recognizer_->in_utterance()) recognizer_->EndUtterance().IgnoreError();
    owner_->Return(std::move(recognizer_));
  }

  absl::Status SetPhrases(const std::vector<std::string>& phrases) override {
    if (phrases.empty()) return recognizer_->UseLanguageModel();
    // Words people wrap their answers in: without them in the grammar, "the earlier one,
    // please" is forced into "the earlier one neither".
    std::vector<std::string> with_fillers = phrases;
    for (const char* filler : {"please", "thanks", "thank you", "okay", "well", "um", "uh", "oh",
                               "so", "sure", "great", "hello", "hi"}) {
      with_fillers.emplace_back(filler);
    }
    absl::StatusOr<std::vector<std::string>> kept = recognizer_->SetPhrases(with_fillers);
    // No phrase the dictionary can spell: listen with the open vocabulary instead.
    if (!kept.ok() || kept->empty()) return recognizer_->UseLanguageModel();
    return absl::OkStatus();
  }
  absl::Status StartUtterance() override { return recognizer_->StartUtterance(); }
  absl::Status Push(std::span<const int16_t> pcm) override { return recognizer_->Process(pcm); }
  std::string Partial() override { return recognizer_->Partial(); }
  absl::StatusOr<std::string> EndUtterance() override { return recognizer_->EndUtterance(); }

 private:
  const std::shared_ptr<PocketsphinxSpeech> owner_;
  std::unique_ptr<speech::PocketsphinxRecognizer> recognizer_;
};

}  // namespace

absl::Status EspeakSpeech::Synthesize(std::string_view text,
                                      absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                                      const speech::CancelFlag* cancel) {
  if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("synthesis canceled");
  PARLEY_ASSIGN_OR_RETURN(std::vector<int16_t> pcm, engine_->Synthesize(text, voice_));
  if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("synthesis canceled");
  on_audio(pcm);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<speech::SttSession>> PocketsphinxSpeech::StartSession(
    const speech::SttSessionOptions& options) {
  std::unique_ptr<speech::PocketsphinxRecognizer> recognizer;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      recognizer = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (recognizer == nullptr) {
    PARLEY_ASSIGN_OR_RETURN(recognizer,
                            speech::PocketsphinxRecognizer::Create({.model = options_.model}));
  }
  auto session = std::make_unique<PocketsphinxSession>(shared_from_this(), std::move(recognizer));
  PARLEY_RETURN_IF_ERROR(session->SetPhrases(options.phrases));
  return std::unique_ptr<speech::SttSession>(std::move(session));
}

void PocketsphinxSpeech::Return(std::unique_ptr<speech::PocketsphinxRecognizer> recognizer) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.recognizers_kept) {
    idle_.push_back(std::move(recognizer));
  }
}

void RegisterEmbeddedProviders(ProviderRegistry& registry, EmbeddedProviderOptions options) {
  struct Shared {
    absl::Mutex mu;
    std::shared_ptr<speech::EspeakTts> espeak ABSL_GUARDED_BY(mu);
    std::shared_ptr<PocketsphinxSpeech> pocketsphinx ABSL_GUARDED_BY(mu);
  };
  auto shared = std::make_shared<Shared>();
  registry.AddTts(
      "espeak",
      [shared](const parley::v1::TtsConfig& config,
               const Credentials&) -> absl::StatusOr<std::shared_ptr<speech::TextToSpeech>> {
        std::shared_ptr<speech::EspeakTts> engine;
        {
          absl::MutexLock lock(&shared->mu);
          if (shared->espeak == nullptr) {
            PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<speech::EspeakTts> created,
                                    speech::EspeakTts::Create());
            shared->espeak = std::move(created);
          }
          engine = shared->espeak;
        }
        speech::TtsVoice voice;
        if (!config.voice().empty()) voice.name = config.voice();
        if (config.has_speed()) voice.speed = config.speed();
        return std::shared_ptr<speech::TextToSpeech>(
            std::make_shared<EspeakSpeech>(std::move(engine), std::move(voice)));
      });
  registry.AddStt("pocketsphinx",
                  [shared, options](const parley::v1::SttConfig&, const Credentials&)
                      -> absl::StatusOr<std::shared_ptr<speech::SpeechToText>> {
                    absl::MutexLock lock(&shared->mu);
                    if (shared->pocketsphinx == nullptr) {
                      shared->pocketsphinx = std::make_shared<PocketsphinxSpeech>(options);
                    }
                    return std::shared_ptr<speech::SpeechToText>(shared->pocketsphinx);
                  });
  registry.AddLlm("scripted",
                  [](const parley::v1::LlmConfig&,
                     const Credentials&) -> absl::StatusOr<std::shared_ptr<speech::LanguageModel>> {
                    return std::shared_ptr<speech::LanguageModel>();
                  });
}

}  // namespace parley::worker
