// Opus, resampling, WAV and tone measurements: audio that goes through them is still the audio.
#include <gtest/gtest.h>

#include <cmath>

#include "common/audio/opus_codec.h"
#include "common/audio/pcm.h"
#include "common/audio/resampler.h"
#include "common/audio/tone.h"
#include "common/audio/wav.h"

namespace parley::audio {
namespace {

std::vector<int16_t> Concat(const std::vector<std::vector<int16_t>>& parts, size_t skip = 0) {
  std::vector<int16_t> out;
  for (size_t i = skip; i < parts.size(); ++i)
    out.insert(out.end(), parts[i].begin(), parts[i].end());
  return out;
}

TEST(ToneTest, MeasuresWhatItGenerates) {
  ToneGenerator tone(440, 16000);
  std::vector<int16_t> a = tone.Next(8000);
  std::vector<int16_t> b = tone.Next(8000);
  std::vector<int16_t> all = Concat({a, b});
  EXPECT_NEAR(ZeroCrossingFrequency(all, 16000), 440, 2);
  EXPECT_GT(GoertzelPower(all, 16000, 440), 100 * GoertzelPower(all, 16000, 1000));
  EXPECT_NEAR(Rms(all), 8000 / std::sqrt(2.0), 50);
  EXPECT_EQ(ZeroCrossingFrequency(std::vector<int16_t>(1000, 0), 16000), 0);
}

TEST(OpusTest, RoundTripKeepsTheTone) {
  auto encoder = OpusFrameEncoder::Create(16000);
  auto decoder = OpusFrameDecoder::Create(16000);
  ASSERT_TRUE(encoder.ok() && decoder.ok());
  ToneGenerator tone(440, 16000);
  std::vector<std::vector<int16_t>> decoded;
  for (int i = 0; i < 100; ++i) {
    std::vector<int16_t> frame = tone.Next(kFrameSamples);
    auto packet = (*encoder)->Encode(frame);
    ASSERT_TRUE(packet.ok()) << packet.status();
    EXPECT_LT(packet->size(), 200u);
    auto pcm = (*decoder)->Decode(*packet);
    ASSERT_TRUE(pcm.ok()) << pcm.status();
    ASSERT_EQ(pcm->size(), static_cast<size_t>(kFrameSamples));
    decoded.push_back(*pcm);
  }
  std::vector<int16_t> all = Concat(decoded, /*skip=*/5);  // the codec's start-up
  EXPECT_NEAR(ZeroCrossingFrequency(all, 16000), 440, 3);
  EXPECT_GT(Rms(all), 3000);
  auto filler = (*decoder)->Conceal(kFrameSamples);
  ASSERT_TRUE(filler.ok());
  EXPECT_EQ(filler->size(), static_cast<size_t>(kFrameSamples));
}

TEST(OpusTest, DecodesAtAnotherRateAndRejectsBadInput) {
  auto encoder = OpusFrameEncoder::Create(48000);
  auto decoder = OpusFrameDecoder::Create(48000);
  ASSERT_TRUE(encoder.ok() && decoder.ok());
  ToneGenerator tone(1000, 48000);
  auto packet = (*encoder)->Encode(tone.Next(960));
  ASSERT_TRUE(packet.ok());
  EXPECT_EQ((*decoder)->Decode(*packet)->size(), 960u);
  EXPECT_EQ((*encoder)->Encode(tone.Next(333)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*decoder)->Decode("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpusFrameEncoder::Create(44100).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResamplerTest, KeepsFrequencyAndLength) {
  auto resampler = Resampler::Create(48000, 16000);
  ASSERT_TRUE(resampler.ok()) << resampler.status();
  ToneGenerator tone(1000, 48000);
  std::vector<std::vector<int16_t>> out;
  size_t total = 0;
  for (int i = 0; i < 50; ++i) {
    out.push_back((*resampler)->Process(tone.Next(960)));
    total += out.back().size();
  }
  EXPECT_NEAR(static_cast<double>(total), 50 * 320, 100);
  std::vector<int16_t> all = Concat(out, 2);
  EXPECT_NEAR(ZeroCrossingFrequency(all, 16000), 1000, 5);
  EXPECT_FALSE(Resampler::Create(10, 16000).ok());
}

TEST(PcmTest, AssemblesWholeFrames) {
  FrameAssembler frames(16000);
  frames.Push(std::vector<int16_t>(500, 1));
  auto first = frames.Pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->samples.size(), 320u);
  EXPECT_FALSE(frames.Pop().has_value());
  frames.Push(std::vector<int16_t>(140, 2));
  auto second = frames.Pop();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->samples[179], 1);
  EXPECT_EQ(second->samples[180], 2);
  EXPECT_EQ(second->duration(), absl::Milliseconds(20));
  EXPECT_EQ(SplitFrames(std::vector<int16_t>(700, 3), 16000).size(), 3u);
}

TEST(WavTest, RoundTrip) {
  ToneGenerator tone(300, 8000);
  std::vector<int16_t> samples = tone.Next(1234);
  std::string path = ::testing::TempDir() + "/tone.wav";
  ASSERT_TRUE(WriteWav(path, samples, 8000).ok());
  auto wav = ReadWav(path);
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(wav->sample_rate, 8000);
  EXPECT_EQ(wav->samples, samples);
  EXPECT_FALSE(DecodeWav("RIFFxxxxWAVE").ok());
  EXPECT_EQ(ReadWav("/nonexistent/x.wav").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace parley::audio
