#include "common/audio/tone.h"

#include <cmath>
#include <numbers>

namespace parley::audio {

ToneGenerator::ToneGenerator(double frequency_hz, int sample_rate, double amplitude)
    : step_(2 * std::numbers::pi * frequency_hz / sample_rate), amplitude_(amplitude) {}

std::vector<int16_t> ToneGenerator::Next(size_t samples) {
  std::vector<int16_t> out(samples);
  for (int16_t& s : out) {
    s = static_cast<int16_t>(std::lround(amplitude_ * std::sin(phase_)));
    phase_ = std::fmod(phase_ + step_, 2 * std::numbers::pi);
  }
  return out;
}

double GoertzelPower(std::span<const int16_t> samples, int sample_rate, double frequency_hz) {
  if (samples.empty()) return 0;
  const double coeff = 2 * std::cos(2 * std::numbers::pi * frequency_hz / sample_rate);
  double s1 = 0;
  double s2 = 0;
  for (int16_t x : samples) {
    double s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  const double n = static_cast<double>(samples.size());
  return power / (n * n);
}

double ZeroCrossingFrequency(std::span<const int16_t> samples, int sample_rate) {
  constexpr int kDeadBand = 200;
  int sign = 0;
  long crossings = 0;
  size_t first = 0;
  size_t last = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    int s = samples[i] > kDeadBand ? 1 : samples[i] < -kDeadBand ? -1 : 0;
    if (s == 0) continue;
    if (sign != 0 && s != sign) {
      if (crossings == 0) first = i;
      last = i;
      ++crossings;
    }
    sign = s;
  }
  if (crossings < 2 || last == first) return 0;
  // Two crossings per period, measured between the first and the last crossing.
  return (crossings - 1) / 2.0 * sample_rate / static_cast<double>(last - first);
}

double Rms(std::span<const int16_t> samples) {
  if (samples.empty()) return 0;
  double sum = 0;
  for (int16_t s : samples) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / samples.size());
}

}  // namespace parley::audio
