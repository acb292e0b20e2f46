#include "common/speech/espeak_tts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/speech/vad.h"

namespace parley::speech {
namespace {

std::unique_ptr<EspeakTts> MakeTts(EspeakTtsOptions options = {}) {
  absl::StatusOr<std::unique_ptr<EspeakTts>> tts = EspeakTts::Create(options);
  if (!tts.ok()) {
    ADD_FAILURE() << tts.status();
    std::abort();
  }
  return *std::move(tts);
}

double Seconds(const std::vector<int16_t>& pcm, int rate = 16000) {
  return static_cast<double>(pcm.size()) / rate;
}

TEST(EspeakTtsTest, HelloWorldIsAudibleSpeechOfPlausibleLength) {
  auto tts = MakeTts();
  absl::StatusOr<std::vector<int16_t>> pcm = tts->Synthesize("hello world");
  ASSERT_TRUE(pcm.ok()) << pcm.status();
  EXPECT_GE(Seconds(*pcm), 0.5);
  EXPECT_LE(Seconds(*pcm), 3.0);
  EXPECT_GT(FrameDbfs(*pcm), -35);  // speech level, not silence
  EXPECT_GT(*std::max_element(pcm->begin(), pcm->end()), 3000);
  // Voiced for a good part of it: at least 300 ms of 20 ms frames above -35 dBFS.
  int voiced = 0;
  for (size_t i = 0; i + 320 <= pcm->size(); i += 320) {
    voiced += FrameDbfs(std::span<const int16_t>(*pcm).subspan(i, 320)) > -35;
  }
  EXPECT_GE(voiced, 15);
}

TEST(EspeakTtsTest, ResamplesTo16kHz) {
  auto tts16 = MakeTts();
  auto tts22 = MakeTts({.sample_rate = 22050, .cache_max_bytes = 0});  // espeak's native rate
  auto pcm16 = tts16->Synthesize("one two three four five");
  auto pcm22 = tts22->Synthesize("one two three four five");
  ASSERT_TRUE(pcm16.ok() && pcm22.ok());
  // (espeak's output length varies by a few samples from call to call, hence the tolerance.)
  EXPECT_NEAR(static_cast<double>(pcm16->size()) / pcm22->size(), 16000.0 / 22050.0, 1e-3);
  // Same loudness after resampling (within 1 dB).
  EXPECT_NEAR(FrameDbfs(*pcm16), FrameDbfs(*pcm22), 1.0);
}

TEST(EspeakTtsTest, SecondCallIsServedFromTheCacheAndIdentical) {
  auto tts = MakeTts();
  const std::string text = "Hello, this is Parley calling about your appointment on Tuesday.";
  const absl::Time t0 = absl::Now();
  auto first = tts->Synthesize(text);
  const absl::Duration first_took = absl::Now() - t0;
  const absl::Time t1 = absl::Now();
  auto second = tts->Synthesize(text);
  const absl::Duration second_took = absl::Now() - t1;
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  // The cache is proved by the counters, not by timing (speed belongs in benchmarks).
  const EspeakTts::Stats stats = tts->stats();
  EXPECT_EQ(stats.syntheses, 1);
  EXPECT_EQ(stats.cache_hits, 1);
  std::cout << "espeak: " << Seconds(*first) << " s of audio synthesised in " << first_took
            << ", cached in " << second_took << "; "
            << absl::ToDoubleMilliseconds(stats.synthesis_time) /
                   absl::ToDoubleSeconds(stats.audio_synthesised)
            << " ms per second of audio\n";
}

TEST(EspeakTtsTest, VoiceSpeedAndPitchChangeTheAudio) {
  auto tts = MakeTts();
  const std::string text = "The quick brown fox jumps over the lazy dog.";
  auto normal = tts->Synthesize(text);
  auto fast = tts->Synthesize(text, {.speed = 2.0});
  auto high = tts->Synthesize(text, {.pitch = 90});
  auto german = tts->Synthesize(text, {.name = "de"});
  ASSERT_TRUE(normal.ok() && fast.ok() && high.ok() && german.ok());
  EXPECT_LT(Seconds(*fast), 0.7 * Seconds(*normal));
  EXPECT_NE(*high, *normal);
  EXPECT_NE(*german, *normal);
  EXPECT_EQ(tts->stats().syntheses, 4);  // all distinct cache keys
}

TEST(EspeakTtsTest, UnknownVoiceIsInvalidArgumentAndTheEngineRecovers) {
  auto tts = MakeTts();
  auto bad = tts->Synthesize("hello", {.name = "no-such-voice"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto good = tts->Synthesize("hello");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_GT(good->size(), 4000u);
}

TEST(EspeakTtsTest, EmptyTextGivesNoSpeech) {
  auto tts = MakeTts();
  auto pcm = tts->Synthesize("");
  ASSERT_TRUE(pcm.ok()) << pcm.status();
  EXPECT_LT(FrameDbfs(*pcm), -60);
}

TEST(EspeakTtsTest, ConcurrentCallsFromEightThreadsAllSucceed) {
  auto tts = MakeTts();
  const auto reference = tts->Synthesize("shared greeting");
  ASSERT_TRUE(reference.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto own =
            tts->Synthesize("thread " + std::to_string(t) + " says number " + std::to_string(i));
        auto shared = tts->Synthesize("shared greeting");
        if (!own.ok() || Seconds(*own) < 0.5 || !shared.ok() || *shared != *reference) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(tts->stats().syntheses, 1 + 80);
}

TEST(EspeakTtsTest, AsyncCallbackAndFuture) {
  auto tts = MakeTts();
  absl::Notification done;
  std::thread::id callback_thread;
  size_t samples = 0;
  tts->SynthesizeAsync("asynchronous hello", {}, [&](EspeakTts::Result pcm) {
    callback_thread = std::this_thread::get_id();
    samples = pcm.ok() ? pcm->size() : 0;
    // Blocking synthesis from the synthesis thread is served inline, not deadlocked.
    auto nested = tts->Synthesize("nested");
    samples = nested.ok() ? samples : 0;
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_NE(callback_thread, std::this_thread::get_id());
  EXPECT_GT(samples, 8000u);

  std::future<EspeakTts::Result> future = tts->SynthesizeFuture("future hello");
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto pcm = future.get();
  ASSERT_TRUE(pcm.ok());
  EXPECT_EQ(*pcm, *tts->Synthesize("future hello"));
}

TEST(EspeakTtsTest, DestructionCancelsQueuedRequestsAndCallsEachCallbackOnce) {
  std::atomic<int> ok{0}, cancelled{0}, other{0};
  {
    auto tts = MakeTts({.cache_max_bytes = 0});
    for (int i = 0; i < 200; ++i) {
      tts->SynthesizeAsync(
          "a fairly long sentence to keep the engine busy for a while " + std::to_string(i), {},
          [&](EspeakTts::Result r) {
            if (r.ok()) {
              ++ok;
            } else if (r.status().code() == absl::StatusCode::kCancelled) {
              ++cancelled;
            } else {
              ++other;
            }
          });
    }
  }  // joins the thread
  EXPECT_EQ(ok + cancelled, 200);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(cancelled.load(), 0);
}

TEST(EspeakTtsTest, CacheEvictsLeastRecentlyUsedBeyondItsSize) {
  // Room for about 2.5 s of audio: two of these phrases, not three.
  auto tts = MakeTts({.cache_max_bytes = 80000});
  ASSERT_TRUE(tts->Synthesize("first phrase here").ok());
  ASSERT_TRUE(tts->Synthesize("second phrase here").ok());
  ASSERT_TRUE(tts->Synthesize("first phrase here").ok());  // hit; now most recent
  ASSERT_TRUE(tts->Synthesize("third phrase here").ok());  // evicts "second"
  EXPECT_EQ(tts->stats().cache_hits, 1);
  ASSERT_TRUE(tts->Synthesize("first phrase here").ok());
  EXPECT_EQ(tts->stats().cache_hits, 2);
  ASSERT_TRUE(tts->Synthesize("second phrase here").ok());
  EXPECT_EQ(tts->stats().cache_hits, 2);
  EXPECT_EQ(tts->stats().syntheses, 4);
}

TEST(EspeakTtsTest, RejectsBadSampleRate) {
  EXPECT_EQ(EspeakTts::Create({.sample_rate = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::speech
