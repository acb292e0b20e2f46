// The audio of one simulated call, both directions on one timeline: what the callee said and what
// it heard from the agent, each placed at the 20 ms tick (counted from Answer) at which it was
// sent or played, so overlaps and pauses stay where they happened. Written as one 16 kHz WAV file:
// mono (both voices mixed) or stereo (callee left, agent right).
//
//   CallRecording rec;
//   rec.Put(CallRecording::kCallee, tick, callee_frame);   // 320 samples
//   rec.Put(CallRecording::kAgent, tick, agent_frame);
//   PARLEY_RETURN_IF_ERROR(rec.Write("/tmp/call.wav", /*stereo=*/true));
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace parley::callee {

class CallRecording final {
 public:
  enum Track { kCallee = 0, kAgent = 1 };
  static constexpr int kRate = 16000;
  static constexpr int kFrameSamples = 320;

  // Places `samples` (at most one frame; more is truncated) at frame `tick` of `track`,
  // replacing what was there. Negative ticks are ignored.
  void Put(Track track, int64_t tick, std::span<const int16_t> samples);

  // Length of the longer track, in samples.
  size_t samples() const;
  // The track, padded with silence to samples().
  std::vector<int16_t> TrackSamples(Track track) const;
  // Both tracks summed (clipped to int16).
  std::vector<int16_t> Mixed() const;

  // Writes a 16-bit PCM WAV at 16 kHz: Mixed() when !stereo, else callee left / agent right.
  // UNAVAILABLE naming the path when it cannot be written.
  absl::Status Write(const std::string& path, bool stereo) const;

 private:
  std::vector<int16_t> tracks_[2];
};

// The bytes of a canonical WAV file with `channels` interleaved 16-bit channels.
std::string EncodeWavInterleaved(std::span<const int16_t> interleaved, int channels,
                                 int sample_rate);

}  // namespace parley::callee
