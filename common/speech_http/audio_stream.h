// Turns the audio bytes of a TTS response, as they arrive in arbitrary pieces, into 16 kHz mono
// samples: raw little-endian 16-bit PCM at a known rate, or a WAV stream (a "RIFF" start) whose
// header gives the rate — its data size may be a placeholder, as streaming servers send it, so
// everything after the "data" chunk header is audio. Other rates are resampled (speexdsp).
//
//   AudioStreamDecoder decoder(/*raw_rate=*/24000);
//   PARLEY_RETURN_IF_ERROR(decoder.Feed(bytes, [&](std::span<const int16_t> pcm) { ... }));
//   PARLEY_RETURN_IF_ERROR(decoder.Finish(emit));
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/audio/resampler.h"

namespace parley::speech_http {

class AudioStreamDecoder final {
 public:
  using Emit = absl::FunctionRef<void(std::span<const int16_t>)>;
  // `raw_rate`: the rate of a body that is not WAV.
  explicit AudioStreamDecoder(int raw_rate) : raw_rate_(raw_rate) {}

  // Decodes `bytes`, emitting whatever whole samples they complete. UNAVAILABLE for a WAV header
  // that is not mono 16-bit PCM or a rate the resampler refuses.
  absl::Status Feed(std::string_view bytes, Emit emit);
  // Ends the stream: UNAVAILABLE when a WAV header never completed. Emits nothing more today
  // (a resampler's last few filter samples are dropped: under 1 ms).
  absl::Status Finish(Emit emit);

  // Samples emitted so far (at 16 kHz).
  int64_t emitted() const { return emitted_; }

 private:
  absl::Status Start(int rate);
  void EmitPcm(std::string_view bytes, Emit emit);

  const int raw_rate_;
  bool started_ = false;  // header parsed (or raw)
  std::string pending_;   // header bytes, or an odd byte
  std::unique_ptr<audio::Resampler> resampler_;
  int64_t emitted_ = 0;
};

}  // namespace parley::speech_http
