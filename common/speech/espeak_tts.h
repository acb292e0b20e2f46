// Embedded, offline text-to-speech with espeak-ng (the `espeak` TTS provider): text in,
// 16 kHz mono int16 PCM out.
//
// espeak-ng's C API is process-global (one voice, one callback, one set of parameters), so an
// EspeakTts owns one synthesis thread that makes every espeak call; requests queue for it and
// callers block, get a future, or get a callback. Output is resampled from espeak-ng's native
// 22050 Hz with speexdsp. Results are kept in an LRU cache keyed by text and voice, because the
// same phrases (the greeting, nudges, goodbyes) are spoken on every call. espeak-ng is fast: a
// second of speech takes ~2 ms to synthesise and resample; a cached phrase ~40 µs to copy.
//
//   PARLEY_ASSIGN_OR_RETURN(auto tts, EspeakTts::Create());
//   PARLEY_ASSIGN_OR_RETURN(std::vector<int16_t> pcm,
//                           tts->Synthesize("Hello, this is Parley.", {.name = "en-us"}));
//   tts->SynthesizeAsync("Goodbye.", {}, [](absl::StatusOr<std::vector<int16_t>> pcm) { ... });
//
// All methods are thread-safe. Several EspeakTts objects may exist; their threads take turns on
// the one engine (a process-wide lock), so one per process is the sensible number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace parley::speech {

// What to say things with.
struct TtsVoice {
  // espeak-ng voice name ("en-us", "en-gb", "de", "en-us+f3" for a variant); see `espeak-ng
  // --voices`.
  std::string name = "en-us";
  // Speaking-rate multiplier (TtsConfig.speed), 1 = espeak's default 175 words per minute; the
  // resulting rate is clamped to espeak's 80..450 wpm.
  double speed = 1.0;
  // Pitch, 0..100 (espeak's default 50).
  int pitch = 50;
};

struct EspeakTtsOptions {
  // Output sample rate, Hz.
  int sample_rate = 16000;
  // Size bound of the phrase cache, in bytes of audio; 0 disables caching. The default holds
  // about two minutes of 16 kHz audio.
  size_t cache_max_bytes = 4 << 20;
  // espeak-ng's data directory; empty for the installed default.
  std::string data_path;
};

class EspeakTts final {
 public:
  using Result = absl::StatusOr<std::vector<int16_t>>;
  using Callback = absl::AnyInvocable<void(Result) &&>;

  // Starts the synthesis thread and loads espeak-ng. Fails with FAILED_PRECONDITION when
  // espeak-ng cannot be initialised (data files missing) and INVALID_ARGUMENT for a
  // non-positive sample rate.
  static absl::StatusOr<std::unique_ptr<EspeakTts>> Create(const EspeakTtsOptions& options = {});

  // Fails every request still queued with CANCELLED and joins the synthesis thread.
  ~EspeakTts();
  EspeakTts(const EspeakTts&) = delete;
  EspeakTts& operator=(const EspeakTts&) = delete;

  // Synthesises `text` (UTF-8, plain text) and blocks until done. Returns the PCM at
  // options.sample_rate (empty for text with nothing to say). Fails with INVALID_ARGUMENT for an
  // unknown voice and INTERNAL when espeak-ng fails. A cached phrase returns at once.
  Result Synthesize(std::string_view text, const TtsVoice& voice = {});

  // Queues the synthesis; the future is ready at once for a cached phrase.
  std::future<Result> SynthesizeFuture(std::string_view text, const TtsVoice& voice = {});

  // Queues the synthesis; `done` runs exactly once on the synthesis thread (also for cached
  // phrases and for CANCELLED at destruction). `done` must be quick and must not destroy this
  // object; it may call Synthesize (served inline on that thread).
  void SynthesizeAsync(std::string_view text, const TtsVoice& voice, Callback done);

  struct Stats {
    int64_t cache_hits = 0;
    int64_t syntheses = 0;             // requests that ran espeak-ng
    absl::Duration synthesis_time;     // time spent in espeak-ng and the resampler
    absl::Duration audio_synthesised;  // length of the audio those requests produced
  };
  Stats stats() const;

 private:
  struct Request {
    std::string text;
    TtsVoice voice;
    Callback done;
  };
  using Audio = std::shared_ptr<const std::vector<int16_t>>;

  explicit EspeakTts(const EspeakTtsOptions& options);
  void Run();
  Result SynthesizeOnThread(const std::string& text, const TtsVoice& voice);
  static std::string CacheKey(std::string_view text, const TtsVoice& voice);
  Audio CacheLookup(const std::string& key);
  void CacheInsert(const std::string& key, Audio audio);

  bool ReadyToRun() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }

  const EspeakTtsOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // LRU: most recently used at the front.
  std::list<std::pair<std::string, Audio>> lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::list<std::pair<std::string, Audio>>::iterator> cache_
      ABSL_GUARDED_BY(mu_);
  size_t cache_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;  // last: started after everything above exists
};

}  // namespace parley::speech
