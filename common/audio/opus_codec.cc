#include "common/audio/opus_codec.h"

#include <opus/opus.h>

#include "absl/strings/str_cat.h"
#include "common/audio/pcm.h"
#include "common/status/status.h"

namespace parley::audio {
namespace {

// The largest packet libopus produces for one frame is far below this (1275 bytes per 20 ms).
constexpr int kMaxPacketBytes = 4000;
// 120 ms at 48 kHz: the longest frame Opus knows.
constexpr int kMaxFrameSamples = 5760;

absl::Status OpusError(std::string_view what, int code) {
  return absl::InternalError(absl::StrCat("opus ", AbslView(what), ": ", opus_strerror(code)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpusFrameEncoder>> OpusFrameEncoder::Create(
    int sample_rate, OpusEncoderOptions options) {
  if (!IsOpusRate(sample_rate)) {
    return absl::InvalidArgumentError(absl::StrCat("opus: unsupported sample rate ", sample_rate));
  }
  int error = OPUS_OK;
  ::OpusEncoder* encoder = opus_encoder_create(sample_rate, 1, OPUS_APPLICATION_VOIP, &error);
  if (error != OPUS_OK || encoder == nullptr) return OpusError("encoder_create", error);
  std::unique_ptr<OpusFrameEncoder> result(new OpusFrameEncoder(encoder, sample_rate));
  if (int e = opus_encoder_ctl(encoder, OPUS_SET_BITRATE(options.bitrate)); e != OPUS_OK) {
    return OpusError("set bitrate", e);
  }
  if (int e = opus_encoder_ctl(encoder, OPUS_SET_COMPLEXITY(options.complexity)); e != OPUS_OK) {
    return OpusError("set complexity", e);
  }
  if (int e = opus_encoder_ctl(encoder, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)); e != OPUS_OK) {
    return OpusError("set signal", e);
  }
  return result;
}

OpusFrameEncoder::~OpusFrameEncoder() { opus_encoder_destroy(encoder_); }

absl::StatusOr<std::string> OpusFrameEncoder::Encode(std::span<const int16_t> samples) {
  // Valid Opus frame sizes are 2.5, 5, 10, 20, 40 and 60 ms.
  const int n = static_cast<int>(samples.size());
  const int per_2_5_ms = sample_rate_ / 400;
  bool valid = false;
  for (int k : {1, 2, 4, 8, 16, 24}) valid = valid || n == per_2_5_ms * k;
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("opus: ", n, " samples is not a frame size at ", sample_rate_, " Hz"));
  }
  // Encoded on the stack: a 20 ms voice packet is ~100 bytes, so the string is sized to fit
  // instead of zero-filling kMaxPacketBytes on every frame.
  unsigned char buffer[kMaxPacketBytes];
  int bytes = opus_encode(encoder_, samples.data(), n, buffer, kMaxPacketBytes);
  if (bytes < 0) return OpusError("encode", bytes);
  return std::string(reinterpret_cast<const char*>(buffer), bytes);
}

void OpusFrameEncoder::Reset() { opus_encoder_ctl(encoder_, OPUS_RESET_STATE); }

absl::StatusOr<std::unique_ptr<OpusFrameDecoder>> OpusFrameDecoder::Create(int sample_rate) {
  if (!IsOpusRate(sample_rate)) {
    return absl::InvalidArgumentError(absl::StrCat("opus: unsupported sample rate ", sample_rate));
  }
  int error = OPUS_OK;
  ::OpusDecoder* decoder = opus_decoder_create(sample_rate, 1, &error);
  if (error != OPUS_OK || decoder == nullptr) return OpusError("decoder_create", error);
  return std::unique_ptr<OpusFrameDecoder>(new OpusFrameDecoder(decoder, sample_rate));
}

OpusFrameDecoder::~OpusFrameDecoder() { opus_decoder_destroy(decoder_); }

absl::StatusOr<std::vector<int16_t>> OpusFrameDecoder::Decode(std::string_view packet) {
  if (packet.empty()) return absl::InvalidArgumentError("opus: empty packet");
  const auto* data = reinterpret_cast<const unsigned char*>(packet.data());
  const auto size = static_cast<opus_int32>(packet.size());
  // Sized from the packet's own duration, not the 120 ms worst case.
  const int frame = opus_packet_get_nb_samples(data, size, sample_rate_);
  if (frame <= 0 || frame > kMaxFrameSamples * sample_rate_ / 48000) {
    return absl::InvalidArgumentError("opus decode: not a valid packet");
  }
  std::vector<int16_t> pcm(frame);
  int n = opus_decode(decoder_, data, size, pcm.data(), frame, 0);
  if (n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("opus decode: ", opus_strerror(n)));
  }
  pcm.resize(n);
  return pcm;
}

absl::StatusOr<std::vector<int16_t>> OpusFrameDecoder::Conceal(int samples) {
  const int per_2_5_ms = sample_rate_ / 400;
  if (samples <= 0 || samples % per_2_5_ms != 0 ||
      samples > kMaxFrameSamples * sample_rate_ / 48000) {
    return absl::InvalidArgumentError(absl::StrCat("opus: cannot conceal ", samples, " samples"));
  }
  std::vector<int16_t> pcm(samples);
  int n = opus_decode(decoder_, nullptr, 0, pcm.data(), samples, 0);
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("opus plc: ", opus_strerror(n)));
  pcm.resize(n);
  return pcm;
}

}  // namespace parley::audio
