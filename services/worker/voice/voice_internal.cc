#include "services/worker/voice/voice_internal.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/speech/words.h"

namespace parley::worker::voice_internal {

const std::vector<std::string>& VoicemailPhrases() {
  static const auto* phrases = new std::vector<std::string>{
      "leave a message", "leave your message", "after the tone", "after the beep",
      "not available",   "voicemail",          "voice mail",     "record your message",
      "mailbox",         "can't come to the phone"};
  return *phrases;
}

bool HasVoicemailPhrase(std::string_view text) {
  for (const std::string& phrase : VoicemailPhrases()) {
    if (speech::ContainsPhrase(text, phrase)) return true;
  }
  return false;
}


std::vector<audio::PcmFrame> ToFrames(std::span<const int16_t> pcm) {
  std::vector<audio::PcmFrame> frames;
  for (size_t at = 0; at < pcm.size(); at += audio::kFrameSamples) {
    audio::PcmFrame frame;
    size_t n = std::min<size_t>(audio::kFrameSamples, pcm.size() - at);
    frame.samples.assign(pcm.begin() + at, pcm.begin() + at + n);
    frame.samples.resize(audio::kFrameSamples, 0);
    frames.push_back(std::move(frame));
  }
  return frames;
}

// The words of `sentences` the callee heard when `frames_sent` of their audio had been sent: whole
// sentences, then the share of the cut one's words proportional to its audio played.
std::string HeardText(const std::vector<std::pair<std::string, int64_t>>& sentences,
                      int64_t frames_sent) {
  std::vector<std::string> heard;
  for (const auto& [text, frames] : sentences) {
    if (frames_sent <= 0) break;
    if (frames_sent >= frames) {
      heard.push_back(text);
      frames_sent -= frames;
      continue;
    }
    std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
    size_t keep = words.size() * frames_sent / std::max<int64_t>(frames, 1);
    if (keep > 0) {
      words.resize(keep);
      heard.push_back(absl::StrJoin(words, " "));
    }
    break;
  }
  return absl::StrJoin(heard, " ");
}

void AddStats(std::map<std::string, double>& metrics, const std::string& name,
              std::vector<double> values) {
  if (values.empty()) return;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
  };
  metrics[name + "_p50_ms"] = at(0.5);
  metrics[name + "_p95_ms"] = at(0.95);
  metrics[name + "_max_ms"] = values.back();
}

}  // namespace parley::worker::voice_internal
