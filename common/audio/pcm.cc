#include "common/audio/pcm.h"

#include <algorithm>

namespace parley::audio {

bool IsOpusRate(int rate) {
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

PcmFrame SilenceFrame(int rate, int frame_ms) {
  return PcmFrame{rate, std::vector<int16_t>(SamplesPerFrame(rate, frame_ms), 0)};
}

std::optional<PcmFrame> FrameAssembler::Pop() {
  if (frame_samples_ == 0 || pending_.size() < frame_samples_) return std::nullopt;
  PcmFrame frame{sample_rate_, {}};
  frame.samples.assign(pending_.begin(), pending_.begin() + frame_samples_);
  pending_.erase(pending_.begin(), pending_.begin() + frame_samples_);
  return frame;
}

std::vector<PcmFrame> SplitFrames(std::span<const int16_t> samples, int sample_rate, int frame_ms) {
  std::vector<PcmFrame> frames;
  const size_t n = SamplesPerFrame(sample_rate, frame_ms);
  if (n == 0) return frames;
  for (size_t at = 0; at < samples.size(); at += n) {
    PcmFrame frame{sample_rate, std::vector<int16_t>(n, 0)};
    size_t take = std::min(n, samples.size() - at);
    std::copy_n(samples.begin() + at, take, frame.samples.begin());
    frames.push_back(std::move(frame));
  }
  return frames;
}

}  // namespace parley::audio
