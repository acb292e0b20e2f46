#include "common/audio/resampler.h"

#include <speex/speex_resampler.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace parley::audio {

absl::StatusOr<std::unique_ptr<Resampler>> Resampler::Create(int in_rate, int out_rate,
                                                             int quality) {
  auto in_range = [](int rate) { return rate >= 1000 && rate <= 192000; };
  if (!in_range(in_rate) || !in_range(out_rate)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resampler: rates must be in [1000, 192000] Hz, got ", in_rate, " → ", out_rate));
  }
  if (quality < 0 || quality > 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("resampler: quality ", quality, " not in [0, 10]"));
  }
  int error = RESAMPLER_ERR_SUCCESS;
  SpeexResamplerState* state = speex_resampler_init(1, in_rate, out_rate, quality, &error);
  if (state == nullptr || error != RESAMPLER_ERR_SUCCESS) {
    return absl::InternalError(absl::StrCat("resampler: ", speex_resampler_strerror(error)));
  }
  // Without this the first output samples are the filter's zero-filled history.
  speex_resampler_skip_zeros(state);
  return std::unique_ptr<Resampler>(new Resampler(state, in_rate, out_rate));
}

Resampler::~Resampler() { speex_resampler_destroy(state_); }

absl::StatusOr<std::vector<int16_t>> Resampler::ConvertClip(std::span<const int16_t> in,
                                                            int in_rate, int out_rate,
                                                            int quality) {
  if (in_rate == out_rate || in.empty()) return std::vector<int16_t>(in.begin(), in.end());
  absl::StatusOr<std::unique_ptr<Resampler>> resampler = Create(in_rate, out_rate, quality);
  if (!resampler.ok()) return resampler.status();
  const size_t expected = static_cast<size_t>(
      std::llround(static_cast<double>(in.size()) * out_rate / static_cast<double>(in_rate)));
  // Zeros after the clip push its last samples out of the filter.
  std::vector<int16_t> padded(in.begin(), in.end());
  padded.resize(in.size() + speex_resampler_get_input_latency((*resampler)->state_), 0);
  std::vector<int16_t> out = (*resampler)->Process(padded);
  out.resize(std::min(out.size(), expected));
  return out;
}

std::vector<int16_t> Resampler::Process(std::span<const int16_t> in) {
  std::vector<int16_t> out;
  if (in.empty()) return out;
  // Room for the rounded-up ratio plus the filter's carried-over samples.
  out.resize(static_cast<size_t>(in.size()) * out_rate_ / in_rate_ + 64);
  size_t produced = 0;
  size_t consumed = 0;
  while (consumed < in.size()) {
    spx_uint32_t in_len = static_cast<spx_uint32_t>(in.size() - consumed);
    spx_uint32_t out_len = static_cast<spx_uint32_t>(out.size() - produced);
    speex_resampler_process_int(state_, 0, in.data() + consumed, &in_len, out.data() + produced,
                                &out_len);
    consumed += in_len;
    produced += out_len;
    if (in_len == 0 && out_len == 0) break;  // cannot happen with room left; never spin
    if (produced == out.size()) out.resize(out.size() * 2);
  }
  out.resize(produced);
  return out;
}

}  // namespace parley::audio
