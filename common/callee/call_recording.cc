#include "common/callee/call_recording.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace parley::callee {
namespace {

void PutLe(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

}  // namespace

void CallRecording::Put(Track track, int64_t tick, std::span<const int16_t> samples) {
  if (tick < 0) return;
  std::vector<int16_t>& t = tracks_[track];
  const size_t at = static_cast<size_t>(tick) * kFrameSamples;
  const size_t n = std::min<size_t>(samples.size(), kFrameSamples);
  if (t.size() < at + n) t.resize(at + n, 0);
  std::copy(samples.begin(), samples.begin() + n, t.begin() + at);
}

size_t CallRecording::samples() const {
  return std::max(tracks_[kCallee].size(), tracks_[kAgent].size());
}

std::vector<int16_t> CallRecording::TrackSamples(Track track) const {
  std::vector<int16_t> out = tracks_[track];
  out.resize(samples(), 0);
  return out;
}

std::vector<int16_t> CallRecording::Mixed() const {
  std::vector<int16_t> out(samples(), 0);
  for (const auto& track : tracks_) {
    for (size_t i = 0; i < track.size(); ++i) {
      out[i] = static_cast<int16_t>(std::clamp(out[i] + track[i], -32768, 32767));
    }
  }
  return out;
}

absl::Status CallRecording::Write(const std::string& path, bool stereo) const {
  std::string bytes;
  if (stereo) {
    const std::vector<int16_t> left = TrackSamples(kCallee);
    const std::vector<int16_t> right = TrackSamples(kAgent);
    std::vector<int16_t> interleaved;
    interleaved.reserve(left.size() * 2);
    for (size_t i = 0; i < left.size(); ++i) {
      interleaved.push_back(left[i]);
      interleaved.push_back(right[i]);
    }
    bytes = EncodeWavInterleaved(interleaved, 2, kRate);
  } else {
    bytes = EncodeWavInterleaved(Mixed(), 1, kRate);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat(path, ": cannot write the recording"));
  return absl::OkStatus();
}

std::string EncodeWavInterleaved(std::span<const int16_t> interleaved, int channels,
                                 int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(interleaved.size() * 2);
  std::string out;
  out.reserve(44 + data_bytes);
  out += "RIFF";
  PutLe(out, 36 + data_bytes, 4);
  out += "WAVEfmt ";
  PutLe(out, 16, 4);  // fmt chunk size
  PutLe(out, 1, 2);   // PCM
  PutLe(out, channels, 2);
  PutLe(out, sample_rate, 4);
  PutLe(out, sample_rate * channels * 2, 4);  // byte rate
  PutLe(out, channels * 2, 2);                // block align
  PutLe(out, 16, 2);                          // bits per sample
  out += "data";
  PutLe(out, data_bytes, 4);
  for (int16_t s : interleaved) PutLe(out, static_cast<uint16_t>(s), 2);
  return out;
}

}  // namespace parley::callee
