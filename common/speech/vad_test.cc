#include "common/speech/vad.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace parley::speech {
namespace {

constexpr int kRate = 16000;
constexpr int kFrame = 320;  // 20 ms

// `ms` of a sine at `dbfs` (RMS level), as consecutive 20 ms frames.
std::vector<std::vector<int16_t>> Tone(int ms, double dbfs, double hz = 440) {
  const double amplitude = 32768.0 * std::pow(10.0, dbfs / 20.0) * std::sqrt(2.0);
  std::vector<std::vector<int16_t>> frames(ms / 20, std::vector<int16_t>(kFrame));
  int n = 0;
  for (auto& frame : frames) {
    for (int16_t& s : frame) {
      s = static_cast<int16_t>(amplitude * std::sin(2 * std::numbers::pi * hz * n++ / kRate));
    }
  }
  return frames;
}

// `ms` of white noise at roughly `dbfs`.
std::vector<std::vector<int16_t>> Noise(int ms, double dbfs, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0, 32768.0 * std::pow(10.0, dbfs / 20.0));
  std::vector<std::vector<int16_t>> frames(ms / 20, std::vector<int16_t>(kFrame));
  for (auto& frame : frames) {
    for (int16_t& s : frame) s = static_cast<int16_t>(std::clamp(dist(rng), -32768.0, 32767.0));
  }
  return frames;
}

struct Event {
  int frame;
  VadEvent event;
};

// Runs `frames` through `vad`, returning the non-kNone events with their frame index.
std::vector<Event> Feed(Vad& vad, const std::vector<std::vector<int16_t>>& frames) {
  std::vector<Event> events;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (VadEvent e = vad.Process(frames[i]); e != VadEvent::kNone) {
      events.push_back({static_cast<int>(i), e});
    }
  }
  return events;
}

template <typename... Parts>
std::vector<std::vector<int16_t>> Concat(const Parts&... parts) {
  std::vector<std::vector<int16_t>> all;
  (all.insert(all.end(), parts.begin(), parts.end()), ...);
  return all;
}

TEST(VadTest, ThresholdMapsOntoDbfs) {
  EXPECT_DOUBLE_EQ(ThresholdDbfs(0), -60);
  EXPECT_DOUBLE_EQ(ThresholdDbfs(0.5), -35);
  EXPECT_DOUBLE_EQ(ThresholdDbfs(1), -10);
  EXPECT_DOUBLE_EQ(ThresholdDbfs(7), -10);  // clamped
  EXPECT_DOUBLE_EQ(ThresholdDbfs(-1), -60);
}

TEST(VadTest, FrameDbfsMeasuresRmsLevel) {
  EXPECT_EQ(FrameDbfs(std::vector<int16_t>(kFrame, 0)), -100);
  EXPECT_EQ(FrameDbfs({}), -100);
  EXPECT_NEAR(FrameDbfs(Tone(20, -20)[0]), -20, 0.2);
  EXPECT_NEAR(FrameDbfs(std::vector<int16_t>(kFrame, 16384)), -6.02, 0.05);
}

TEST(VadTest, SilenceAndQuietNoiseGiveNothing) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 100, .min_silence_ms = 200});
  const auto silence = std::vector<std::vector<int16_t>>(100, std::vector<int16_t>(kFrame, 0));
  EXPECT_TRUE(Feed(vad, silence).empty());
  EXPECT_TRUE(Feed(vad, Noise(2000, -50)).empty());  // a line's hiss, well under -35 dBFS
  EXPECT_FALSE(vad.speaking());
}

TEST(VadTest, BurstStartsAfterMinSpeechAndEndsAfterMinSilence) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 100, .min_silence_ms = 200});
  // 200 ms silence, 300 ms tone at -20 dBFS, 600 ms silence.
  const auto frames = Concat(Noise(200, -60), Tone(300, -20), Noise(600, -60, 2));
  const std::vector<Event> events = Feed(vad, frames);
  ASSERT_EQ(events.size(), 2u);
  // Tone frames are 10..24; the 5th voiced frame (index 14) completes 100 ms.
  EXPECT_EQ(events[0].event, VadEvent::kSpeechStart);
  EXPECT_EQ(events[0].frame, 14);
  // Silence from frame 25; the 10th unvoiced frame (index 34) completes 200 ms.
  EXPECT_EQ(events[1].event, VadEvent::kSpeechEnd);
  EXPECT_EQ(events[1].frame, 34);
  EXPECT_FALSE(vad.speaking());
}

TEST(VadTest, NoiseBurstCountsAsSpeechAndReportsDuration) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 150, .min_silence_ms = 300});
  const auto burst = Noise(300, -25);
  int starts = 0;
  for (const auto& f : burst) starts += vad.Process(f) == VadEvent::kSpeechStart;
  EXPECT_EQ(starts, 1);
  EXPECT_TRUE(vad.speaking());
  EXPECT_EQ(vad.speech_duration(), absl::Milliseconds(300));
  const auto events = Feed(vad, Noise(400, -70, 3));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, VadEvent::kSpeechEnd);
  EXPECT_EQ(events[0].frame, 14);  // 300 ms = 15 frames
  EXPECT_EQ(vad.speech_duration(), absl::ZeroDuration());
}

TEST(VadTest, ClicksShorterThanMinSpeechAreIgnored) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 150, .min_silence_ms = 300});
  // Five 60 ms clicks separated by 100 ms of silence.
  std::vector<std::vector<int16_t>> frames;
  for (int i = 0; i < 5; ++i) frames = Concat(frames, Tone(60, -10), Noise(100, -70, i + 10));
  EXPECT_TRUE(Feed(vad, frames).empty());
  EXPECT_FALSE(vad.speaking());
}

TEST(VadTest, ShortPausesInsideSpeechDoNotEndIt) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 100, .min_silence_ms = 300});
  const auto frames = Concat(Tone(400, -20), Noise(200, -70), Tone(400, -20), Noise(400, -70));
  const auto events = Feed(vad, frames);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, VadEvent::kSpeechStart);
  EXPECT_EQ(events[1].event, VadEvent::kSpeechEnd);
  EXPECT_EQ(events[1].frame, 64);  // silence from frame 50: 15th unvoiced frame
}

TEST(VadTest, ThresholdControlsSensitivity) {
  const auto quiet_speech = Tone(400, -40);  // between -60 (threshold 0) and -35 (0.5)
  Vad sensitive({.threshold = 0.1, .min_speech_ms = 100});
  Vad deaf({.threshold = 0.5, .min_speech_ms = 100});
  EXPECT_EQ(Feed(sensitive, quiet_speech).size(), 1u);
  EXPECT_TRUE(Feed(deaf, quiet_speech).empty());
}

TEST(VadTest, HysteresisKeepsSoftSpeechGoing) {
  // Starts loud, then continues 2 dB under the threshold: still speech with 3 dB hysteresis,
  // silence without.
  const auto frames = Concat(Tone(200, -20), Tone(600, -37));
  Vad with({.threshold = 0.5, .min_speech_ms = 100, .min_silence_ms = 300});
  Vad without({.threshold = 0.5, .min_speech_ms = 100, .min_silence_ms = 300, .hysteresis_db = 0});
  EXPECT_EQ(Feed(with, frames).size(), 1u);
  EXPECT_TRUE(with.speaking());
  EXPECT_EQ(Feed(without, frames).size(), 2u);
  EXPECT_FALSE(without.speaking());
}

TEST(VadTest, ZeroMinimumsReactOnTheFirstFrame) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 0, .min_silence_ms = 0});
  EXPECT_EQ(vad.Process(Tone(20, -20)[0]), VadEvent::kSpeechStart);
  EXPECT_EQ(vad.Process(std::vector<int16_t>(kFrame, 0)), VadEvent::kSpeechEnd);
  EXPECT_EQ(vad.Process({}), VadEvent::kNone);
}

TEST(VadTest, ResetForgetsPartialRuns) {
  Vad vad({.threshold = 0.5, .min_speech_ms = 100, .min_silence_ms = 100});
  const auto tone = Tone(80, -20);
  for (const auto& f : tone) EXPECT_EQ(vad.Process(f), VadEvent::kNone);
  vad.Reset();
  // Without the reset the first of these frames would complete 100 ms and start speech.
  for (const auto& f : tone) EXPECT_EQ(vad.Process(f), VadEvent::kNone);
  EXPECT_EQ(vad.Process(tone[0]), VadEvent::kSpeechStart);
}

}  // namespace
}  // namespace parley::speech
