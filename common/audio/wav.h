// WAV files of mono 16-bit PCM: what a test or the test-prompt pipeline writes to let a human
// listen to a call, and what the simulated phone can play.
//
//   PARLEY_RETURN_IF_ERROR(WriteWav("/tmp/heard.wav", samples, 16000));
//   PARLEY_ASSIGN_OR_RETURN(Wav wav, ReadWav("/tmp/heard.wav"));
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace parley::audio {

struct Wav {
  int sample_rate = 0;
  std::vector<int16_t> samples;  // mono
};

// The bytes of a canonical 44-byte-header WAV file holding `samples`. Never fails.
std::string EncodeWav(std::span<const int16_t> samples, int sample_rate);

// Parses a WAV file's bytes. INVALID_ARGUMENT unless it is RIFF/WAVE, PCM, 16-bit and mono.
absl::StatusOr<Wav> DecodeWav(std::string_view bytes);

// Writes EncodeWav(samples, sample_rate) to `path`. UNAVAILABLE naming the path when the file
// cannot be written.
absl::Status WriteWav(const std::string& path, std::span<const int16_t> samples, int sample_rate);

// Reads and parses `path`. NOT_FOUND when it cannot be opened; otherwise fails like DecodeWav.
absl::StatusOr<Wav> ReadWav(const std::string& path);

}  // namespace parley::audio
