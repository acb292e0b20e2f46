#include "common/speech/vad.h"

#include <algorithm>
#include <cmath>

namespace parley::speech {

double ThresholdDbfs(double threshold) { return -60.0 + 50.0 * std::clamp(threshold, 0.0, 1.0); }

double FrameDbfs(std::span<const int16_t> samples) {
  if (samples.empty()) return -100;
  double sum = 0;
  for (int16_t s : samples) sum += static_cast<double>(s) * s;
  if (sum == 0) return -100;
  const double rms = std::sqrt(sum / samples.size());
  return std::max(-100.0, 20.0 * std::log10(rms / 32768.0));
}

Vad::Vad(const VadOptions& options)
    : options_(options), threshold_dbfs_(ThresholdDbfs(options.threshold)) {}

VadEvent Vad::Process(std::span<const int16_t> frame) {
  if (frame.empty()) return VadEvent::kNone;
  const int rate = options_.sample_rate > 0 ? options_.sample_rate : 16000;
  const int64_t frame_us = static_cast<int64_t>(frame.size()) * 1000000 / rate;
  last_dbfs_ = FrameDbfs(frame);
  const double level = speaking_ ? threshold_dbfs_ - options_.hysteresis_db : threshold_dbfs_;
  const bool voiced = last_dbfs_ >= level;

  if (voiced) {
    voiced_run_us_ += frame_us;
    unvoiced_run_us_ = 0;
  } else {
    unvoiced_run_us_ += frame_us;
    voiced_run_us_ = 0;
  }

  if (!speaking_) {
    if (voiced && voiced_run_us_ >= int64_t{std::max(options_.min_speech_ms, 0)} * 1000) {
      speaking_ = true;
      speech_us_ = voiced_run_us_;
      return VadEvent::kSpeechStart;
    }
    return VadEvent::kNone;
  }
  speech_us_ += frame_us;
  if (!voiced && unvoiced_run_us_ >= int64_t{std::max(options_.min_silence_ms, 0)} * 1000) {
    speaking_ = false;
    speech_us_ = 0;
    return VadEvent::kSpeechEnd;
  }
  return VadEvent::kNone;
}

void Vad::Reset() {
  speaking_ = false;
  voiced_run_us_ = unvoiced_run_us_ = speech_us_ = 0;
  last_dbfs_ = -100;
}

}  // namespace parley::speech
