#include "common/speech/espeak_tts.h"

#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/audio/resampler.h"
#include "common/status/status.h"

namespace parley::speech {
namespace {

// espeak-ng's global state. Every espeak call, from any EspeakTts, happens under `mu`.
struct Engine {
  absl::Mutex mu;
  bool initialized ABSL_GUARDED_BY(mu) = false;
  int native_rate ABSL_GUARDED_BY(mu) = 0;
  std::string voice ABSL_GUARDED_BY(mu);  // the voice espeak is set to
  // Where the synth callback appends samples during espeak_Synth.
  std::vector<int16_t>* sink ABSL_GUARDED_BY(mu) = nullptr;
};

Engine& GlobalEngine() {
  static Engine* const engine = new Engine();
  return *engine;
}

// Runs inside espeak_Synth, on the thread that holds the engine lock.
int OnSynth(short* wav, int samples, espeak_EVENT* /*events*/) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<int16_t>* sink = GlobalEngine().sink;
  if (sink != nullptr && wav != nullptr && samples > 0) {
    sink->insert(sink->end(), wav, wav + samples);
  }
  return 0;
}

// Loads espeak-ng once per process (it stays loaded: re-initialising after espeak_Terminate is
// not something its API promises to support). The first caller's data path wins.
absl::Status InitEngine(const std::string& data_path) {
  Engine& engine = GlobalEngine();
  absl::MutexLock lock(&engine.mu);
  if (engine.initialized) return absl::OkStatus();
  // DONT_EXIT: report a missing data directory instead of calling exit().
  const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, /*buflength=*/0,
                                     data_path.empty() ? nullptr : data_path.c_str(),
                                     espeakINITIALIZE_DONT_EXIT);
  if (rate <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("espeak-ng: initialisation failed (", rate, "); is espeak-ng-data installed",
                     data_path.empty() ? "" : " at ", data_path, "?"));
  }
  espeak_SetSynthCallback(&OnSynth);
  engine.native_rate = rate;
  engine.initialized = true;
  return absl::OkStatus();
}

// espeak's words per minute for `voice`.
int WordsPerMinute(const TtsVoice& voice) {
  return std::clamp(static_cast<int>(std::lround(175 * voice.speed)), 80, 450);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EspeakTts>> EspeakTts::Create(const EspeakTtsOptions& options) {
  if (options.sample_rate <= 0) {
    return absl::InvalidArgumentError("sample_rate: must be positive");
  }
  absl::Status init = InitEngine(options.data_path);
  if (!init.ok()) return init;
  return std::unique_ptr<EspeakTts>(new EspeakTts(options));
}

EspeakTts::EspeakTts(const EspeakTtsOptions& options)
    : options_(options), thread_([this] { Run(); }) {}

EspeakTts::~EspeakTts() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

std::string EspeakTts::CacheKey(std::string_view text, const TtsVoice& voice) {
  return absl::StrCat(voice.name, "\x1f", WordsPerMinute(voice), "\x1f", voice.pitch, "\x1f",
                      AbslView(text));
}

EspeakTts::Audio EspeakTts::CacheLookup(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.cache_hits;
  return it->second->second;
}

void EspeakTts::CacheInsert(const std::string& key, Audio audio) {
  const size_t bytes = audio->size() * sizeof(int16_t);
  absl::MutexLock lock(&mu_);
  if (bytes > options_.cache_max_bytes || cache_.contains(key)) return;
  lru_.emplace_front(key, std::move(audio));
  cache_[key] = lru_.begin();
  cache_bytes_ += bytes;
  while (cache_bytes_ > options_.cache_max_bytes) {
    cache_bytes_ -= lru_.back().second->size() * sizeof(int16_t);
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

EspeakTts::Result EspeakTts::Synthesize(std::string_view text, const TtsVoice& voice) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return SynthesizeOnThread(std::string(text), voice);  // from a callback: we own the engine
  }
  if (Audio cached = CacheLookup(CacheKey(text, voice))) return *cached;
  return SynthesizeFuture(text, voice).get();
}

std::future<EspeakTts::Result> EspeakTts::SynthesizeFuture(std::string_view text,
                                                           const TtsVoice& voice) {
  std::promise<Result> promise;
  std::future<Result> future = promise.get_future();
  if (Audio cached = CacheLookup(CacheKey(text, voice))) {
    promise.set_value(*cached);
    return future;
  }
  SynthesizeAsync(text, voice, [promise = std::move(promise)](Result r) mutable {
    promise.set_value(std::move(r));
  });
  return future;
}

void EspeakTts::SynthesizeAsync(std::string_view text, const TtsVoice& voice, Callback done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(Request{std::string(text), voice, std::move(done)});
      return;
    }
  }
  std::move(done)(absl::CancelledError("espeak: shutting down"));
}

void EspeakTts::Run() {
  for (;;) {
    Request request;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &EspeakTts::ReadyToRun));
      if (stopping_) break;
      request = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(request.done)(SynthesizeOnThread(request.text, request.voice));
  }
  std::deque<Request> cancelled;
  {
    absl::MutexLock lock(&mu_);
    cancelled.swap(queue_);
  }
  for (Request& r : cancelled) std::move(r.done)(absl::CancelledError("espeak: shutting down"));
}

EspeakTts::Result EspeakTts::SynthesizeOnThread(const std::string& text, const TtsVoice& voice) {
  const std::string key = CacheKey(text, voice);
  if (Audio cached = CacheLookup(key)) return *cached;

  const absl::Time start = absl::Now();
  std::vector<int16_t> native;
  int native_rate = 0;
  {
    Engine& engine = GlobalEngine();
    absl::MutexLock lock(&engine.mu);
    if (engine.voice != voice.name) {
      if (espeak_SetVoiceByName(voice.name.c_str()) != EE_OK) {
        engine.voice.clear();
        return absl::InvalidArgumentError(
            absl::StrCat("voice: unknown espeak-ng voice \"", voice.name, "\""));
      }
      engine.voice = voice.name;
    }
    espeak_SetParameter(espeakRATE, WordsPerMinute(voice), 0);
    espeak_SetParameter(espeakPITCH, std::clamp(voice.pitch, 0, 100), 0);
    engine.sink = &native;
    const espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                          espeakCHARS_UTF8, nullptr, nullptr);
    engine.sink = nullptr;
    if (err != EE_OK) {
      return absl::InternalError(absl::StrCat("espeak-ng: synthesis failed (", err, ")"));
    }
    native_rate = engine.native_rate;
  }
  absl::StatusOr<std::vector<int16_t>> pcm =
      audio::Resampler::ConvertClip(native, native_rate, options_.sample_rate);
  if (!pcm.ok()) return pcm.status();
  const absl::Duration took = absl::Now() - start;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.syntheses;
    stats_.synthesis_time += took;
    stats_.audio_synthesised +=
        absl::Microseconds(static_cast<int64_t>(pcm->size()) * 1000000 / options_.sample_rate);
  }
  if (options_.cache_max_bytes > 0) {
    CacheInsert(key, std::make_shared<const std::vector<int16_t>>(*pcm));
  }
  return pcm;
}

EspeakTts::Stats EspeakTts::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace parley::speech
