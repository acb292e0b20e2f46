// Opus encode/decode of mono 20 ms frames (libopus), as carried by the gRPC media protocol
// (media.proto Audio.payload: one Opus packet per frame).
//
//   PARLEY_ASSIGN_OR_RETURN(auto encoder, OpusFrameEncoder::Create(16000));
//   PARLEY_ASSIGN_OR_RETURN(std::string packet, encoder->Encode(frame.samples));
//   PARLEY_ASSIGN_OR_RETURN(auto decoder, OpusFrameDecoder::Create(16000));
//   PARLEY_ASSIGN_OR_RETURN(std::vector<int16_t> pcm, decoder->Decode(packet));
//   PARLEY_ASSIGN_OR_RETURN(std::vector<int16_t> filler, decoder->Conceal(320));  // a lost frame
//
// Neither class is thread-safe: one encoder per sending direction, one decoder per receiving one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct OpusEncoder;
struct OpusDecoder;

namespace parley::audio {

struct OpusEncoderOptions {
  // Target bitrate in bits/s; 24 kb/s is transparent for speech at 16 kHz.
  int bitrate = 24000;
  // 0–10: CPU against quality. 5 costs ~135 µs per 20 ms frame at 16 kHz here, 1 ~60 µs (speech
  // waveform SNR 0.5 dB lower; docs/benchmarks.md, "Opus complexity").
  int complexity = 5;
};

class OpusFrameEncoder final {
 public:
  // An encoder for mono audio at `sample_rate` (8, 12, 16, 24 or 48 kHz), tuned for voice.
  // INVALID_ARGUMENT for another rate; INTERNAL when libopus refuses the settings.
  static absl::StatusOr<std::unique_ptr<OpusFrameEncoder>> Create(int sample_rate,
                                                                  OpusEncoderOptions options = {});
  ~OpusFrameEncoder();
  OpusFrameEncoder(const OpusFrameEncoder&) = delete;
  OpusFrameEncoder& operator=(const OpusFrameEncoder&) = delete;

  int sample_rate() const { return sample_rate_; }
  // One Opus packet for `samples` (a frame of 2.5, 5, 10, 20, 40 or 60 ms at the encoder's rate).
  // INVALID_ARGUMENT for another length; INTERNAL when libopus fails.
  absl::StatusOr<std::string> Encode(std::span<const int16_t> samples);
  // Forgets the audio encoded so far (as a fresh encoder), so that what is encoded next does not
  // depend on it. Never fails.
  void Reset();

 private:
  OpusFrameEncoder(::OpusEncoder* encoder, int sample_rate)
      : encoder_(encoder), sample_rate_(sample_rate) {}
  ::OpusEncoder* encoder_;
  int sample_rate_;
};

class OpusFrameDecoder final {
 public:
  // A decoder producing mono audio at `sample_rate` (8, 12, 16, 24 or 48 kHz) whatever rate the
  // sender encoded at. INVALID_ARGUMENT for another rate.
  static absl::StatusOr<std::unique_ptr<OpusFrameDecoder>> Create(int sample_rate);
  ~OpusFrameDecoder();
  OpusFrameDecoder(const OpusFrameDecoder&) = delete;
  OpusFrameDecoder& operator=(const OpusFrameDecoder&) = delete;

  int sample_rate() const { return sample_rate_; }
  // The samples of one packet. INVALID_ARGUMENT when the packet is corrupt or empty.
  absl::StatusOr<std::vector<int16_t>> Decode(std::string_view packet);
  // `samples` of packet-loss concealment (a plausible continuation of the previous audio), for a
  // frame that never arrived; a multiple of 2.5 ms, at most 120 ms. INVALID_ARGUMENT otherwise.
  absl::StatusOr<std::vector<int16_t>> Conceal(int samples);

 private:
  OpusFrameDecoder(::OpusDecoder* decoder, int sample_rate)
      : decoder_(decoder), sample_rate_(sample_rate) {}
  ::OpusDecoder* decoder_;
  int sample_rate_;
};

}  // namespace parley::audio
