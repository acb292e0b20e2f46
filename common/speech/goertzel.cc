#include "common/speech/goertzel.h"

#include <cmath>
#include <numbers>

#include "common/audio/tone.h"
#include "common/speech/vad.h"

namespace parley::speech {

double ToneEnergyRatio(std::span<const int16_t> samples, double frequency_hz, int sample_rate) {
  if (samples.empty() || sample_rate <= 0) return 0;
  double energy = 0;
  for (int16_t x : samples) energy += static_cast<double>(x) * x;
  if (energy == 0) return 0;
  // GoertzelPower is |X(f)|² / N²; the tone's share of the frame's energy is 2·|X(f)|² / (N·E).
  const double n = static_cast<double>(samples.size());
  return 2.0 * audio::GoertzelPower(samples, sample_rate, frequency_hz) * n / energy;
}

BeepDetector::BeepDetector(const BeepDetectorOptions& options) : options_(options) {}

std::optional<Beep> BeepDetector::Process(std::span<const int16_t> frame) {
  if (frame.empty() || options_.sample_rate <= 0) return std::nullopt;
  const int64_t frame_us = static_cast<int64_t>(frame.size()) * 1000000 / options_.sample_rate;

  last_frequency_hz_ = 0;
  last_ratio_ = 0;
  if (FrameDbfs(frame) >= options_.min_dbfs) {
    const double step = options_.step_hz > 0 ? options_.step_hz : 25;
    for (double f = options_.min_hz; f <= options_.max_hz + 1e-9; f += step) {
      const double ratio = ToneEnergyRatio(frame, f, options_.sample_rate);
      if (ratio > last_ratio_) {
        last_ratio_ = ratio;
        last_frequency_hz_ = f;
      }
    }
  }

  const bool tonal = last_ratio_ >= options_.min_ratio;
  if (!tonal) {
    Reset();
    return std::nullopt;
  }
  if (run_us_ > 0 && std::abs(last_frequency_hz_ - run_frequency_hz_) <= options_.max_drift_hz) {
    run_us_ += frame_us;
  } else {
    // A new tone (or a jump in frequency): start over from this frame.
    run_us_ = frame_us;
    run_frequency_hz_ = last_frequency_hz_;
    reported_ = false;
  }
  if (!reported_ && run_us_ >= int64_t{options_.min_duration_ms} * 1000) {
    reported_ = true;
    return Beep{.frequency_hz = run_frequency_hz_, .duration = absl::Microseconds(run_us_)};
  }
  return std::nullopt;
}

void BeepDetector::Reset() {
  run_us_ = 0;
  run_frequency_hz_ = 0;
  reported_ = false;
}

}  // namespace parley::speech
