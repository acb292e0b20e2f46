#include "common/speech_http/audio_stream.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/audio/pcm.h"

namespace parley::speech_http {
namespace {

uint32_t Le32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(b[at])) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3])) << 24;
}
uint16_t Le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8);
}

constexpr size_t kMaxHeaderBytes = 64 << 10;

}  // namespace

absl::Status AudioStreamDecoder::Start(int rate) {
  started_ = true;
  if (rate == audio::kPipelineRate) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<audio::Resampler>> resampler =
      audio::Resampler::Create(rate, audio::kPipelineRate);
  if (!resampler.ok()) {
    return absl::UnavailableError(
        absl::StrCat("audio at ", rate, " Hz: ", resampler.status().message()));
  }
  resampler_ = std::move(*resampler);
  return absl::OkStatus();
}

void AudioStreamDecoder::EmitPcm(std::string_view bytes, Emit emit) {
  std::string joined;
  if (!pending_.empty()) {
    joined = pending_ + std::string(bytes);
    pending_.clear();
    bytes = joined;
  }
  size_t whole = bytes.size() & ~size_t{1};
  if (whole < bytes.size()) pending_.assign(bytes.substr(whole));
  if (whole == 0) return;
  std::vector<int16_t> samples(whole / 2);
  // Little-endian on the wire and on every machine we build for.
  std::memcpy(samples.data(), bytes.data(), whole);
  if (resampler_ != nullptr) samples = resampler_->Process(samples);
  if (samples.empty()) return;
  emitted_ += static_cast<int64_t>(samples.size());
  emit(samples);
}

absl::Status AudioStreamDecoder::Feed(std::string_view bytes, Emit emit) {
  if (started_) {
    EmitPcm(bytes, emit);
    return absl::OkStatus();
  }
  pending_.append(bytes);
  if (pending_.size() < 4) return absl::OkStatus();
  if (pending_.compare(0, 4, "RIFF") != 0) {
    std::string all = std::move(pending_);
    pending_.clear();
    if (absl::Status s = Start(raw_rate_); !s.ok()) return s;
    EmitPcm(all, emit);
    return absl::OkStatus();
  }
  // RIFF <size> WAVE, then chunks: "fmt " gives the format, "data" starts the audio.
  if (pending_.size() < 12) return absl::OkStatus();
  size_t at = 12;
  int rate = 0;
  for (;;) {
    if (pending_.size() < at + 8) break;
    std::string_view id(pending_.data() + at, 4);
    uint32_t size = Le32(pending_, at + 4);
    if (id == "data") {
      if (rate == 0) return absl::UnavailableError("WAV data before its fmt chunk");
      std::string rest = pending_.substr(at + 8);
      pending_.clear();
      if (absl::Status s = Start(rate); !s.ok()) return s;
      EmitPcm(rest, emit);
      return absl::OkStatus();
    }
    if (pending_.size() < at + 8 + size) break;
    if (id == "fmt ") {
      if (size < 16) return absl::UnavailableError("WAV fmt chunk too short");
      uint16_t format = Le16(pending_, at + 8);
      uint16_t channels = Le16(pending_, at + 10);
      uint16_t bits = Le16(pending_, at + 22);
      if ((format != 1 && format != 0xFFFE) || channels != 1 || bits != 16) {
        return absl::UnavailableError(absl::StrCat("WAV is not mono 16-bit PCM (format ", format,
                                                   ", ", channels, " channels, ", bits, " bits)"));
      }
      rate = static_cast<int>(Le32(pending_, at + 12));
    }
    at += 8 + size + (size & 1);
  }
  if (pending_.size() > kMaxHeaderBytes) return absl::UnavailableError("WAV header too long");
  return absl::OkStatus();
}

absl::Status AudioStreamDecoder::Finish(Emit) {
  if (!started_ && !pending_.empty()) {
    return absl::UnavailableError("audio ended inside its WAV header");
  }
  return absl::OkStatus();
}

}  // namespace parley::speech_http
