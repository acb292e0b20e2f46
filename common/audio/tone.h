// Test tones and the measurements that recognise them: what the test-prompt pipeline plays, and
// how a test tells that the audio that arrived is the audio that was sent.
//
//   ToneGenerator tone(440, 16000, /*amplitude=*/8000);
//   std::vector<int16_t> two_seconds = tone.Next(32000);           // phase-continuous chunks
//   double hz = ZeroCrossingFrequency(two_seconds, 16000);          // ≈ 440
//   double p440 = GoertzelPower(two_seconds, 16000, 440);            // ≫ GoertzelPower(…, 1000)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace parley::audio {

// A sine wave, continuous across calls to Next.
class ToneGenerator final {
 public:
  ToneGenerator(double frequency_hz, int sample_rate, double amplitude = 8000);
  // The next `samples` samples of the tone.
  std::vector<int16_t> Next(size_t samples);

 private:
  double step_;  // radians per sample
  double phase_ = 0;
  double amplitude_;
};

// Normalised power of `frequency_hz` in `samples` (Goertzel filter): about amplitude²/4 per
// sample for a pure tone at that frequency, near 0 for other frequencies. 0 for no samples.
double GoertzelPower(std::span<const int16_t> samples, int sample_rate, double frequency_hz);

// Frequency estimated from the zero crossings of `samples` (rising and falling, ignoring a small
// dead band around 0 so silence and noise do not count). 0 when there are none.
double ZeroCrossingFrequency(std::span<const int16_t> samples, int sample_rate);

// Root mean square of `samples`; 0 for none.
double Rms(std::span<const int16_t> samples);

}  // namespace parley::audio
