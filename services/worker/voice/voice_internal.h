// Small pieces shared by the voice pipeline's files (voice_pipeline.cc, voice_listener.cc):
// frame arithmetic, the words the callee heard of a cut-off turn, mailbox phrases.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/audio/pcm.h"

namespace parley::worker::voice_internal {

// What answering machines say; heard in the first callee utterance they mean voicemail.
const std::vector<std::string>& VoicemailPhrases();
bool HasVoicemailPhrase(std::string_view text);

inline double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }
inline int64_t FramesIn(absl::Duration d) { return d / absl::Milliseconds(audio::kFrameMs); }

// Cuts `pcm` into 20 ms frames (the last one padded with silence).
std::vector<audio::PcmFrame> ToFrames(std::span<const int16_t> pcm);

// The words of `sentences` (text, frames) the callee heard when `frames_sent` of their audio had
// been sent: whole sentences, then the share of the cut one's words proportional to its audio
// played.
std::string HeardText(const std::vector<std::pair<std::string, int64_t>>& sentences,
                      int64_t frames_sent);

// p50/p95/max of `values` as <name>_p50_ms… in `metrics`; nothing for no values.
void AddStats(std::map<std::string, double>& metrics, const std::string& name,
              std::vector<double> values);

}  // namespace parley::worker::voice_internal
