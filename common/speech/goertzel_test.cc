#include "common/speech/goertzel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <optional>
#include <random>
#include <vector>

namespace parley::speech {
namespace {

constexpr int kRate = 16000;
constexpr int kFrame = 320;

// Audio built sample by sample, cut into 20 ms frames.
class Signal {
 public:
  // A sine of `hz` at `dbfs` RMS for `ms`, plus white noise at `noise_dbfs` (none below -100).
  Signal& Tone(double hz, int ms, double dbfs = -20, double noise_dbfs = -200) {
    const double amplitude = 32768.0 * std::pow(10.0, dbfs / 20.0) * std::sqrt(2.0);
    std::normal_distribution<double> noise(0, 32768.0 * std::pow(10.0, noise_dbfs / 20.0));
    for (int i = 0; i < ms * kRate / 1000; ++i, ++n_) {
      const double v = amplitude * std::sin(2 * std::numbers::pi * hz * n_ / kRate) + noise(rng_);
      samples_.push_back(static_cast<int16_t>(std::clamp(v, -32768.0, 32767.0)));
    }
    return *this;
  }
  Signal& Noise(int ms, double dbfs) { return Tone(0, ms, -300, dbfs); }
  // A vowel-like sound: 150 Hz fundamental with 15 harmonics of falling amplitude.
  Signal& Vowel(int ms) {
    for (int i = 0; i < ms * kRate / 1000; ++i, ++n_) {
      double v = 0;
      for (int h = 1; h <= 15; ++h)
        v += 3000.0 / h * std::sin(2 * std::numbers::pi * 150 * h * n_ / kRate);
      samples_.push_back(static_cast<int16_t>(std::clamp(v, -32768.0, 32767.0)));
    }
    return *this;
  }
  std::vector<std::vector<int16_t>> Frames() const {
    std::vector<std::vector<int16_t>> frames;
    for (size_t i = 0; i + kFrame <= samples_.size(); i += kFrame) {
      frames.emplace_back(samples_.begin() + i, samples_.begin() + i + kFrame);
    }
    return frames;
  }

 private:
  std::vector<int16_t> samples_;
  std::mt19937 rng_{42};
  int64_t n_ = 0;
};

struct Found {
  int frame;
  Beep beep;
};

std::vector<Found> Detect(BeepDetector& detector, const Signal& signal) {
  std::vector<Found> found;
  const auto frames = signal.Frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    if (auto beep = detector.Process(frames[i])) found.push_back({static_cast<int>(i), *beep});
  }
  return found;
}

TEST(ToneEnergyRatioTest, PureToneOnItsFrequencyHoldsAllEnergy) {
  const auto frame = Signal().Tone(1000, 20).Frames()[0];
  EXPECT_NEAR(ToneEnergyRatio(frame, 1000, kRate), 1.0, 0.01);
  EXPECT_LT(ToneEnergyRatio(frame, 1200, kRate), 0.01);
  EXPECT_LT(ToneEnergyRatio(frame, 500, kRate), 0.01);
}

TEST(ToneEnergyRatioTest, NoiseAndSilenceHoldAlmostNone) {
  const auto noise = Signal().Noise(20, -20).Frames()[0];
  EXPECT_LT(ToneEnergyRatio(noise, 1000, kRate), 0.05);
  EXPECT_EQ(ToneEnergyRatio(std::vector<int16_t>(kFrame, 0), 1000, kRate), 0);
  EXPECT_EQ(ToneEnergyRatio({}, 1000, kRate), 0);
}

TEST(BeepDetectorTest, Detects1000HzBeepAfter200Ms) {
  BeepDetector detector;
  const auto found = Detect(detector, Signal().Noise(500, -50).Tone(1000, 400).Noise(300, -50));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].beep.frequency_hz, 1000);
  EXPECT_EQ(found[0].beep.duration, absl::Milliseconds(200));
  EXPECT_EQ(found[0].frame, 25 + 9);  // tone from frame 25; its 10th frame completes 200 ms
}

TEST(BeepDetectorTest, DetectsTonesAcrossTheBandInNoise) {
  for (double hz : {400.0, 440.0, 850.0, 1333.0, 1987.0}) {
    BeepDetector detector;
    // Tone at -20 dBFS over noise at -32 dBFS (12 dB SNR).
    const auto found = Detect(detector, Signal().Noise(200, -32).Tone(hz, 300, -20, -32));
    ASSERT_EQ(found.size(), 1u) << hz;
    EXPECT_NEAR(found[0].beep.frequency_hz, hz, 12.5) << hz;
  }
}

TEST(BeepDetectorTest, IgnoresShortTonesOutOfBandTonesNoiseAndSpeech) {
  BeepDetector detector;
  EXPECT_TRUE(Detect(detector, Signal().Tone(1000, 160)).empty());  // under 200 ms
  detector.Reset();
  EXPECT_TRUE(Detect(detector, Signal().Tone(3000, 600)).empty());  // above the band
  EXPECT_TRUE(Detect(detector, Signal().Tone(200, 600)).empty());   // below the band
  EXPECT_TRUE(Detect(detector, Signal().Noise(2000, -15)).empty());
  EXPECT_TRUE(Detect(detector, Signal().Vowel(2000)).empty());
  EXPECT_TRUE(Detect(detector, Signal().Tone(1000, 600, -60)).empty());  // too quiet
}

TEST(BeepDetectorTest, FrequencyJumpsAreNotOneBeep) {
  BeepDetector detector;
  // Six 120 ms notes of a melody: tonal throughout, but no note lasts 200 ms.
  Signal melody;
  for (double hz : {500.0, 800.0, 600.0, 1200.0, 700.0, 1500.0}) melody.Tone(hz, 120);
  EXPECT_TRUE(Detect(detector, melody).empty());
}

TEST(BeepDetectorTest, ReportsEachBeepOnce) {
  BeepDetector detector;
  const auto found =
      Detect(detector, Signal().Tone(1000, 1000).Noise(200, -60).Tone(800, 300).Noise(100, -60));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].beep.frequency_hz, 1000);
  EXPECT_EQ(found[1].beep.frequency_hz, 800);
}

TEST(BeepDetectorTest, MinDurationIsConfigurable) {
  BeepDetector detector({.min_duration_ms = 500});
  EXPECT_TRUE(Detect(detector, Signal().Tone(1000, 400)).empty());
  detector.Reset();
  EXPECT_EQ(Detect(detector, Signal().Tone(1000, 600)).size(), 1u);
}

}  // namespace
}  // namespace parley::speech
