#include "common/audio/wav.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace parley::audio {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
uint32_t GetU32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}
uint16_t GetU16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) |
                               (static_cast<uint8_t>(b[at + 1]) << 8));
}

}  // namespace

std::string EncodeWav(std::span<const int16_t> samples, int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(samples.size() * 2);
  std::string out;
  out.reserve(44 + data_bytes);
  out += "RIFF";
  PutU32(out, 36 + data_bytes);
  out += "WAVEfmt ";
  PutU32(out, 16);  // fmt chunk size
  PutU16(out, 1);   // PCM
  PutU16(out, 1);   // mono
  PutU32(out, static_cast<uint32_t>(sample_rate));
  PutU32(out, static_cast<uint32_t>(sample_rate * 2));  // byte rate
  PutU16(out, 2);                                       // block align
  PutU16(out, 16);                                      // bits per sample
  out += "data";
  PutU32(out, data_bytes);
  for (int16_t s : samples) PutU16(out, static_cast<uint16_t>(s));
  return out;
}

absl::StatusOr<Wav> DecodeWav(std::string_view b) {
  if (b.size() < 12 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WAVE") {
    return absl::InvalidArgumentError("wav: not a RIFF/WAVE file");
  }
  Wav wav;
  bool have_fmt = false;
  for (size_t at = 12; at + 8 <= b.size();) {
    std::string_view id = b.substr(at, 4);
    uint32_t size = GetU32(b, at + 4);
    size_t body = at + 8;
    if (body + size > b.size()) size = static_cast<uint32_t>(b.size() - body);  // truncated file
    if (id == "fmt ") {
      if (size < 16) return absl::InvalidArgumentError("wav: short fmt chunk");
      if (GetU16(b, body) != 1 || GetU16(b, body + 2) != 1 || GetU16(b, body + 14) != 16) {
        return absl::InvalidArgumentError("wav: only 16-bit mono PCM is supported");
      }
      wav.sample_rate = static_cast<int>(GetU32(b, body + 4));
      have_fmt = true;
    } else if (id == "data") {
      if (!have_fmt) return absl::InvalidArgumentError("wav: data before fmt");
      wav.samples.resize(size / 2);
      for (size_t i = 0; i < wav.samples.size(); ++i) {
        wav.samples[i] = static_cast<int16_t>(GetU16(b, body + 2 * i));
      }
      return wav;
    }
    at = body + size + (size & 1);
  }
  return absl::InvalidArgumentError("wav: no data chunk");
}

absl::Status WriteWav(const std::string& path, std::span<const int16_t> samples, int sample_rate) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  std::string bytes = EncodeWav(samples, sample_rate);
  if (!file || !file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<Wav> ReadWav(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return DecodeWav(buffer.str());
}

}  // namespace parley::audio
