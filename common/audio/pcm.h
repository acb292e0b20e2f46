// PCM audio as the voice pipeline sees it: 16-bit signed mono samples in 20 ms frames
// (DESIGN.md, "Media and the voice pipeline": 16 kHz mono PCM in 20 ms frames).
//
//   FrameAssembler frames(16000);
//   frames.Push(decoded_samples);                       // any number of samples
//   while (auto frame = frames.Pop()) pipeline.OnAudio(*frame);   // whole 320-sample frames
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "absl/time/time.h"

namespace parley::audio {

// The pipeline's sample rate and frame length.
inline constexpr int kPipelineRate = 16000;
inline constexpr int kFrameMs = 20;
inline constexpr int kFrameSamples = kPipelineRate * kFrameMs / 1000;  // 320

// Samples in one frame of `frame_ms` at `rate` Hz.
constexpr int SamplesPerFrame(int rate, int frame_ms = kFrameMs) { return rate * frame_ms / 1000; }

// True for the rates libopus encodes and decodes natively: 8, 12, 16, 24 and 48 kHz.
bool IsOpusRate(int rate);

// One frame of mono audio.
struct PcmFrame {
  int sample_rate = kPipelineRate;
  std::vector<int16_t> samples;

  absl::Duration duration() const {
    return sample_rate > 0 ? absl::Microseconds(samples.size() * 1000000 / sample_rate)
                           : absl::ZeroDuration();
  }
};

// A frame of `samples` zeros at `rate`.
PcmFrame SilenceFrame(int rate = kPipelineRate, int frame_ms = kFrameMs);

// Cuts a continuous stream of samples into whole frames of `frame_ms`; the remainder waits for
// the next Push. Not thread-safe.
class FrameAssembler final {
 public:
  explicit FrameAssembler(int sample_rate, int frame_ms = kFrameMs)
      : sample_rate_(sample_rate), frame_samples_(SamplesPerFrame(sample_rate, frame_ms)) {}

  void Push(std::span<const int16_t> samples) {
    pending_.insert(pending_.end(), samples.begin(), samples.end());
  }
  // The next whole frame, or nullopt when fewer than one frame's samples are pending.
  std::optional<PcmFrame> Pop();
  // Samples waiting for a whole frame.
  size_t pending() const { return pending_.size(); }

 private:
  int sample_rate_;
  size_t frame_samples_;
  std::deque<int16_t> pending_;
};

// Splits `samples` into whole frames of `frame_ms`, padding the last one with silence.
std::vector<PcmFrame> SplitFrames(std::span<const int16_t> samples, int sample_rate,
                                  int frame_ms = kFrameMs);

}  // namespace parley::audio
