// Tone detection with the Goertzel algorithm: the power of single frequencies in a frame, and a
// beep detector for voicemail (an answering machine's "record after the tone" beep — a steady
// tone somewhere in 400–2000 Hz lasting a few hundred ms).
//
//   BeepDetector beeps;                           // 400–2000 Hz, sustained >= 200 ms
//   for (const auto& frame : frames) {
//     if (auto beep = beeps.Process(frame)) StartVoicemailMessage(beep->frequency_hz);
//   }
//
// A frame is tonal when one frequency of a bank (min_hz..max_hz every step_hz) holds at least
// `min_ratio` of the frame's energy: ~1 for a clean tone, ~0.006 for white noise, well under 0.5
// for speech (whose energy is spread over many harmonics). A beep is a run of tonal frames whose
// frequency stays within max_drift_hz of the first. Not thread-safe: one detector per stream.
// Cost: (max_hz - min_hz) / step_hz + 1 Goertzel filters per frame (65 by default, about 21k
// multiply-adds per 20 ms frame), so run it only while detection matters (the first seconds).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "absl/time/time.h"

namespace parley::speech {

// The fraction of the energy of `samples` that lies at `frequency_hz` (sample rate
// `sample_rate`), measured with one Goertzel filter: 2|X(f)|² / (N · Σx²). 1 for a pure tone on
// the filter's frequency, falling off over about ±sample_rate/N Hz; 0 for silence or empty input.
double ToneEnergyRatio(std::span<const int16_t> samples, double frequency_hz, int sample_rate);

struct BeepDetectorOptions {
  int sample_rate = 16000;
  // The band searched for a tone, and the spacing of the filter bank, in Hz. With 20 ms frames
  // at 16 kHz a filter is 50 Hz wide, so 25 Hz steps lose at most ~1 dB between filters.
  double min_hz = 400;
  double max_hz = 2000;
  double step_hz = 25;
  // How long the tone must last, in ms.
  int min_duration_ms = 200;
  // Fraction of a frame's energy the strongest frequency must hold for the frame to be tonal.
  double min_ratio = 0.5;
  // Frames quieter than this (dBFS) are never tonal.
  double min_dbfs = -45;
  // How far, in Hz, the tone may wander from its first frame's frequency and still be one beep.
  double max_drift_hz = 50;
};

struct Beep {
  // The tone's frequency (the bank's filter nearest it), in Hz.
  double frequency_hz = 0;
  // How long the tone had lasted when it was reported.
  absl::Duration duration;
};

class BeepDetector final {
 public:
  explicit BeepDetector(const BeepDetectorOptions& options = {});

  // Feeds one frame. Returns the beep on the frame where a steady tone has lasted
  // min_duration_ms — once per tone; a new tone is reported after a non-tonal frame.
  std::optional<Beep> Process(std::span<const int16_t> frame);

  // True while the current frames are tonal (a beep candidate or a reported beep).
  bool in_tone() const { return run_us_ > 0; }
  // Frequency (Hz) and energy ratio of the strongest filter in the last frame examined
  // (0 when the frame was too quiet).
  double last_frequency_hz() const { return last_frequency_hz_; }
  double last_ratio() const { return last_ratio_; }

  void Reset();

 private:
  const BeepDetectorOptions options_;
  int64_t run_us_ = 0;
  double run_frequency_hz_ = 0;
  bool reported_ = false;
  double last_frequency_hz_ = 0;
  double last_ratio_ = 0;
};

}  // namespace parley::speech
