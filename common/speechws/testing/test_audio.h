// Test-only helpers for the provider tests: frames of recognisable 16 kHz audio.
#pragma once

#include <cstdint>
#include <vector>

namespace parley::speechws {

// `ms` milliseconds of a 16-bit sawtooth, in 20 ms frames.
inline std::vector<std::vector<int16_t>> TestFrames(int ms) {
  std::vector<std::vector<int16_t>> frames;
  for (int f = 0; f < ms / 20; ++f) {
    std::vector<int16_t> frame(320);
    for (int i = 0; i < 320; ++i)
      frame[i] = static_cast<int16_t>(((f * 320 + i) % 200) * 100 - 10000);
    frames.push_back(std::move(frame));
  }
  return frames;
}

}  // namespace parley::speechws
