#include "services/worker/voice/provider_registry.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status.h"

namespace parley::worker {
namespace {

template <typename T>
struct Link {
  std::string name;
  std::shared_ptr<T> provider;
  CircuitBreaker* breaker = nullptr;  // the worker-wide breaker of this provider's endpoint
};

constexpr char kReasonError[] = "error";
constexpr char kReasonCircuitOpen[] = "circuit_open";

// The index of the provider in use, shared by a chain's wrappers: once a provider failed the call
// stays on its successor (a per-call circuit breaker — a provider that just failed mid-call is
// unlikely to be healthy a sentence later).
class ChainCursor {
 public:
  ChainCursor(std::string kind, std::vector<std::string> names, FallbackObserver observer)
      : kind_(std::move(kind)), names_(std::move(names)), observer_(std::move(observer)) {}

  size_t current() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  // Moves past `failed` (if it is still current); false when there is nothing after it.
  // `reason` is kReasonError or kReasonCircuitOpen.
  bool Advance(size_t failed, const absl::Status& error, const char* reason = kReasonError) {
    Fallback fallback;
    {
      absl::MutexLock lock(&mu_);
      if (failed + 1 >= names_.size()) return false;
      if (current_ != failed) return true;  // another thread already moved on
      current_ = failed + 1;
      fallback = {kind_, names_[failed], names_[failed + 1], std::string(error.message()), reason};
    }
    if (observer_) observer_(fallback);
    return true;
  }

 private:
  const std::string kind_;
  const std::vector<std::string> names_;
  const FallbackObserver observer_;
  mutable absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
};

bool Retryable(const absl::Status& status) {
  return !status.ok() && status.code() != absl::StatusCode::kCancelled;
}

// Whether link `i` of the chain may be used now. When its circuit is open and a successor
// exists, the cursor moves on (the fallback event names the open circuit) and false is returned:
// the caller loops to the new current link. The last link is always tried: a call that might
// fail beats one that certainly does.
template <typename T>
bool Usable(const std::vector<Link<T>>& chain, ChainCursor& cursor, size_t i) {
  std::string why;
  if (chain[i].breaker == nullptr || chain[i].breaker->Allow(&why)) return true;
  return !cursor.Advance(i, absl::UnavailableError(why), kReasonCircuitOpen);
}

void RecordOutcome(CircuitBreaker* breaker, const absl::Status& status) {
  if (breaker != nullptr) breaker->Record(status);
}

class FallbackTts final : public speech::TextToSpeech {
 public:
  FallbackTts(std::vector<Link<speech::TextToSpeech>> chain, std::shared_ptr<ChainCursor> cursor)
      : chain_(std::move(chain)), cursor_(std::move(cursor)) {}

  absl::Status Synthesize(std::string_view text,
                          absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                          const speech::CancelFlag* cancel) override {
    for (size_t i = cursor_->current();; i = cursor_->current()) {
      if (!Usable(chain_, *cursor_, i)) continue;
      bool delivered = false;
      absl::Status status = chain_[i].provider->Synthesize(
          text,
          [&](std::span<const int16_t> pcm) {
            delivered = true;
            on_audio(pcm);
          },
          cancel);
      RecordOutcome(chain_[i].breaker, status);
      // Audio already played cannot be taken back: only a failure before any audio hands over.
      if (!Retryable(status) || delivered || !cursor_->Advance(i, status)) return status;
    }
  }

 private:
  const std::vector<Link<speech::TextToSpeech>> chain_;
  const std::shared_ptr<ChainCursor> cursor_;
};

class FallbackLlm final : public speech::LanguageModel {
 public:
  FallbackLlm(std::vector<Link<speech::LanguageModel>> chain, std::shared_ptr<ChainCursor> cursor)
      : chain_(std::move(chain)), cursor_(std::move(cursor)) {}

  absl::StatusOr<speech::ChatResult> Chat(const speech::ChatRequest& request,
                                          absl::FunctionRef<void(std::string_view)> on_text,
                                          const speech::CancelFlag* cancel) override {
    for (size_t i = cursor_->current();; i = cursor_->current()) {
      if (!Usable(chain_, *cursor_, i)) continue;
      bool delivered = false;
      absl::StatusOr<speech::ChatResult> result = chain_[i].provider->Chat(
          request,
          [&](std::string_view text) {
            delivered = true;
            on_text(text);
          },
          cancel);
      RecordOutcome(chain_[i].breaker, result.status());
      if (!Retryable(result.status()) || delivered || !cursor_->Advance(i, result.status())) {
        return result;
      }
    }
  }

 private:
  const std::vector<Link<speech::LanguageModel>> chain_;
  const std::shared_ptr<ChainCursor> cursor_;
};

// A recogniser session that moves to the next provider's session when the current one fails; the
// utterance in progress restarts there (its earlier audio is lost, the rest is recognised).
class FallbackSttSession final : public speech::SttSession {
 public:
  FallbackSttSession(std::vector<Link<speech::SpeechToText>> chain,
                     std::shared_ptr<ChainCursor> cursor, speech::SttSessionOptions options,
                     size_t index, std::unique_ptr<speech::SttSession> session)
      : chain_(std::move(chain)),
        cursor_(std::move(cursor)),
        options_(std::move(options)),
        index_(index),
        session_(std::move(session)) {}

  absl::Status SetPhrases(const std::vector<std::string>& phrases) override {
    options_.phrases = phrases;
    return Guard([&] { return session_->SetPhrases(phrases); });
  }
  absl::Status StartUtterance() override {
    in_utterance_ = true;
    return Guard([&] { return session_->StartUtterance(); });
  }
  absl::Status Push(std::span<const int16_t> pcm) override {
    return Guard([&] { return session_->Push(pcm); });
  }
  std::string Partial() override { return session_->Partial(); }
  absl::StatusOr<std::string> EndUtterance() override {
    in_utterance_ = false;
    absl::StatusOr<std::string> text = session_->EndUtterance();
    RecordOutcome(chain_[index_].breaker, text.status());
    if (text.ok()) return text;
    PARLEY_RETURN_IF_ERROR(Switch(text.status()));
    return std::string();  // what was said went with the failed provider
  }

 private:
  absl::Status Guard(const std::function<absl::Status()>& op) {
    absl::Status status = op();
    if (status.ok()) return status;
    RecordOutcome(chain_[index_].breaker, status);
    PARLEY_RETURN_IF_ERROR(Switch(status));
    return op();
  }
  // Replaces the failed session with the next provider's; the failure when there is none.
  absl::Status Switch(const absl::Status& failure) {
    for (;;) {
      if (!cursor_->Advance(index_, failure)) return failure;
      index_ = cursor_->current();
      while (!Usable(chain_, *cursor_, index_)) index_ = cursor_->current();
      absl::StatusOr<std::unique_ptr<speech::SttSession>> next =
          chain_[index_].provider->StartSession(options_);
      RecordOutcome(chain_[index_].breaker, next.status());
      if (!next.ok()) continue;
      session_ = std::move(*next);
      if (in_utterance_) PARLEY_RETURN_IF_ERROR(session_->StartUtterance());
      return absl::OkStatus();
    }
  }

  const std::vector<Link<speech::SpeechToText>> chain_;
  const std::shared_ptr<ChainCursor> cursor_;
  speech::SttSessionOptions options_;
  size_t index_;
  std::unique_ptr<speech::SttSession> session_;
  bool in_utterance_ = false;
};

class FallbackStt final : public speech::SpeechToText {
 public:
  FallbackStt(std::vector<Link<speech::SpeechToText>> chain, std::shared_ptr<ChainCursor> cursor)
      : chain_(std::move(chain)), cursor_(std::move(cursor)) {}

  absl::StatusOr<std::unique_ptr<speech::SttSession>> StartSession(
      const speech::SttSessionOptions& options) override {
    for (size_t i = cursor_->current();; i = cursor_->current()) {
      if (!Usable(chain_, *cursor_, i)) continue;
      absl::StatusOr<std::unique_ptr<speech::SttSession>> session =
          chain_[i].provider->StartSession(options);
      RecordOutcome(chain_[i].breaker, session.status());
      if (session.ok()) {
        return std::unique_ptr<speech::SttSession>(
            std::make_unique<FallbackSttSession>(chain_, cursor_, options, i, std::move(*session)));
      }
      if (!Retryable(session.status()) || !cursor_->Advance(i, session.status())) {
        return session.status();
      }
    }
  }

 private:
  const std::vector<Link<speech::SpeechToText>> chain_;
  const std::shared_ptr<ChainCursor> cursor_;
};

// Builds the chain of one template section: `primary`, then primary.fallbacks().
template <typename T, typename Config, typename Maker>
absl::StatusOr<std::pair<std::vector<Link<T>>, std::vector<std::string>>> BuildChain(
    std::string_view kind, const Config& primary, const std::map<std::string, Maker>& makers,
    const Credentials& credentials, const FallbackObserver& on_fallback,
    CircuitBreakers& breakers) {
  std::vector<const Config*> configs = {&primary};
  for (const Config& fallback : primary.fallbacks()) configs.push_back(&fallback);
  std::vector<Link<T>> chain;
  std::vector<std::string> names;
  absl::Status last = absl::OkStatus();
  std::string last_name;
  for (const Config* config : configs) {
    absl::StatusOr<std::shared_ptr<T>> built;
    auto maker = makers.find(config->provider());
    if (maker == makers.end()) {
      built = absl::UnimplementedError(absl::StrCat(std::string(kind), " provider \"",
                                                    config->provider(),
                                                    "\" is not available in this worker"));
    } else {
      built = maker->second(*config, credentials);
    }
    if (!built.ok()) {
      // A provider that cannot even be built is a fallback taken before the first use.
      if (!last_name.empty() || chain.empty()) {
        last = built.status();
        last_name = config->provider();
      }
      continue;
    }
    if (!last_name.empty() && on_fallback) {
      on_fallback({std::string(kind), last_name, config->provider(), std::string(last.message()),
                   kReasonError});
      last_name.clear();
    }
    chain.push_back({config->provider(), std::move(*built),
                     breakers.For(absl::StrCat(AbslView(kind), "/", config->provider(), "/",
                                               config->base_url()))});
    names.push_back(config->provider());
  }
  if (chain.empty()) return last;
  return std::make_pair(std::move(chain), std::move(names));
}

}  // namespace

absl::StatusOr<CallProviders> ProviderRegistry::Build(const parley::v1::TemplateSpec& spec,
                                                      const Credentials& credentials,
                                                      FallbackObserver on_fallback) const {
  CallProviders providers;
  {
    PARLEY_ASSIGN_OR_RETURN(auto chain,
                            BuildChain<speech::SpeechToText>("stt", spec.stt(), stt_, credentials,
                                                             on_fallback, *breakers_));
    auto cursor = std::make_shared<ChainCursor>("stt", chain.second, on_fallback);
    providers.stt = std::make_shared<FallbackStt>(std::move(chain.first), std::move(cursor));
  }
  {
    PARLEY_ASSIGN_OR_RETURN(auto chain,
                            BuildChain<speech::TextToSpeech>("tts", spec.tts(), tts_, credentials,
                                                             on_fallback, *breakers_));
    auto cursor = std::make_shared<ChainCursor>("tts", chain.second, on_fallback);
    providers.tts = std::make_shared<FallbackTts>(std::move(chain.first), std::move(cursor));
  }
  {
    PARLEY_ASSIGN_OR_RETURN(auto chain,
                            BuildChain<speech::LanguageModel>("llm", spec.llm(), llm_, credentials,
                                                              on_fallback, *breakers_));
    // A null head (`scripted`) means no language model at all.
    if (chain.first.front().provider != nullptr) {
      std::vector<Link<speech::LanguageModel>> usable;
      std::vector<std::string> names;
      for (auto& link : chain.first) {
        if (link.provider == nullptr) break;  // scripted as a fallback: the chain ends there
        names.push_back(link.name);
        usable.push_back(std::move(link));
      }
      auto cursor = std::make_shared<ChainCursor>("llm", names, on_fallback);
      providers.llm = std::make_shared<FallbackLlm>(std::move(usable), std::move(cursor));
    }
  }
  return providers;
}

}  // namespace parley::worker
