// Energy-based voice activity detection for the callee's audio (16 kHz mono int16, 20 ms frames):
// a speech/silence state machine with the template's `vad` settings (VadConfig).
//
//   Vad vad({.threshold = 0.5, .min_speech_ms = 150, .min_silence_ms = 300});
//   for (const auto& frame : frames) {
//     switch (vad.Process(frame)) {
//       case VadEvent::kSpeechStart: ...; break;   // speech began min_speech_ms ago
//       case VadEvent::kSpeechEnd: ...; break;     // silence for min_silence_ms
//       case VadEvent::kNone: break;
//     }
//   }
//
// A frame is voiced when its RMS level reaches the threshold level (see ThresholdDbfs); while
// speaking, a frame stays voiced down to `hysteresis_db` below it, so soft syllables do not end
// speech. Speech starts after min_speech_ms of consecutive voiced frames and ends after
// min_silence_ms of consecutive unvoiced ones. Not thread-safe: one detector per audio stream.
#pragma once

#include <cstdint>
#include <span>

#include "absl/time/time.h"

namespace parley::speech {

struct VadOptions {
  // Sensitivity in [0, 1]; higher is less sensitive. Mapped linearly onto a level in dBFS:
  // 0 → -60 dBFS (anything above a quiet line's hiss), 0.5 → -35 dBFS (the templates' default;
  // conversational speech on a phone line is around -20..-30 dBFS), 1 → -10 dBFS (only shouting).
  // Values outside [0, 1] are clamped.
  double threshold = 0.5;
  // Consecutive voiced audio, in ms, before speech counts as started (negative: 0).
  int min_speech_ms = 150;
  // Consecutive unvoiced audio, in ms, before speech counts as ended (negative: 0).
  int min_silence_ms = 300;
  // While speaking, frames down to this many dB below the threshold level still count as voiced.
  double hysteresis_db = 3;
  // Sample rate of the frames, in Hz; frame durations are derived from it.
  int sample_rate = 16000;
};

enum class VadEvent { kNone, kSpeechStart, kSpeechEnd };

// The level, in dBFS, that a `threshold` in [0, 1] stands for: -60 + 50 * threshold (clamped).
double ThresholdDbfs(double threshold);

// RMS level of `samples` in dBFS (a full-scale square wave is 0 dBFS, a full-scale sine -3 dBFS);
// -100 for empty or all-zero input.
double FrameDbfs(std::span<const int16_t> samples);

class Vad final {
 public:
  explicit Vad(const VadOptions& options = {});

  // Feeds one frame (any length; 20 ms in the pipeline; empty frames are ignored) and returns the
  // transition it caused: kSpeechStart when voiced audio has now lasted min_speech_ms, kSpeechEnd
  // when unvoiced audio has now lasted min_silence_ms while speaking, otherwise kNone.
  VadEvent Process(std::span<const int16_t> frame);

  // True between kSpeechStart and kSpeechEnd.
  bool speaking() const { return speaking_; }
  // Length of the current speech, counted from its first voiced frame (so it includes the
  // min_speech_ms lead-in and any trailing silence not yet long enough to end it); zero when not
  // speaking. Barge-in compares it with `interruptions.min_duration_ms`.
  absl::Duration speech_duration() const {
    return speaking_ ? absl::Microseconds(speech_us_) : absl::ZeroDuration();
  }
  // Level of the last frame, in dBFS.
  double last_dbfs() const { return last_dbfs_; }
  // The voiced level in use, in dBFS.
  double threshold_dbfs() const { return threshold_dbfs_; }

  // Back to silence, forgetting any partial run.
  void Reset();

 private:
  const VadOptions options_;
  const double threshold_dbfs_;
  bool speaking_ = false;
  int64_t voiced_run_us_ = 0;    // consecutive voiced audio
  int64_t unvoiced_run_us_ = 0;  // consecutive unvoiced audio
  int64_t speech_us_ = 0;        // length of the current speech
  double last_dbfs_ = -100;
};

}  // namespace parley::speech
