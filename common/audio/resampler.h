// Sample-rate conversion of mono 16-bit audio (speexdsp), for audio whose rate differs from the
// pipeline's 16 kHz: an endpoint that answers at 48 kHz, a TTS engine that speaks at 22.05 kHz.
//
//   PARLEY_ASSIGN_OR_RETURN(auto resampler, Resampler::Create(48000, 16000));
//   std::vector<int16_t> out = resampler->Process(in);   // ~in.size() / 3 samples
//
// Stateful: feed consecutive chunks of one stream to one resampler (it carries the filter state
// across calls, so chunk borders are inaudible). Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

struct SpeexResamplerState_;

namespace parley::audio {

class Resampler final {
 public:
  // A converter from `in_rate` to `out_rate` Hz (both in [1000, 192000]); `quality` 0–10
  // (speexdsp's scale; 5 is its VoIP default). INVALID_ARGUMENT for rates or quality out of range;
  // INTERNAL when speexdsp fails.
  static absl::StatusOr<std::unique_ptr<Resampler>> Create(int in_rate, int out_rate,
                                                           int quality = 5);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // A whole clip converted at once (a synthesised phrase): the filter is flushed, so the output is
  // in.size() * out_rate / in_rate samples, aligned with the input. Fails like Create().
  static absl::StatusOr<std::vector<int16_t>> ConvertClip(std::span<const int16_t> in, int in_rate,
                                                          int out_rate, int quality = 5);

  int in_rate() const { return in_rate_; }
  int out_rate() const { return out_rate_; }
  // The converted samples of `in`; about in.size() * out_rate / in_rate of them (the filter delays
  // its output by a few samples, which later calls deliver). Never fails.
  std::vector<int16_t> Process(std::span<const int16_t> in);

 private:
  Resampler(SpeexResamplerState_* state, int in_rate, int out_rate)
      : state_(state), in_rate_(in_rate), out_rate_(out_rate) {}
  SpeexResamplerState_* state_;
  int in_rate_;
  int out_rate_;
};

}  // namespace parley::audio
