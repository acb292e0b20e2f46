// Test-only: a ConversationRecorder that keeps what the pipeline wrote (state patches, transcript
// turns, DNC additions) in memory, for tests of the audio path that need no state service.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/worker/voice/conversation_recorder.h"

namespace parley::worker::testing {

class MemoryRecorder final : public ConversationRecorder {
 public:
  absl::Status UpdateState(const std::string&, int, const nlohmann::json& patch) override {
    absl::MutexLock lock(&mu_);
    patches.push_back(patch);
    return absl::OkStatus();
  }
  absl::Status AppendTurns(const std::string&, int, std::vector<parley::v1::Turn> t) override {
    absl::MutexLock lock(&mu_);
    for (const auto& turn : t) {
      if (!refuse_text.empty() && turn.text() == refuse_text) {
        ++refused;
        return absl::InvalidArgumentError("turns[0].text: refused by the test");
      }
    }
    for (auto& turn : t) turns.push_back(std::move(turn));
    return absl::OkStatus();
  }
  absl::Status AddDnc(const std::string& number, const std::string& campaign,
                      const std::string& reason, const std::string& call_id) override {
    absl::MutexLock lock(&mu_);
    dnc.push_back({number, campaign, reason, call_id});
    return absl::OkStatus();
  }
  // Turns in seq order.
  std::vector<parley::v1::Turn> Sorted() {
    absl::MutexLock lock(&mu_);
    std::vector<parley::v1::Turn> sorted = turns;
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.seq() < b.seq(); });
    return sorted;
  }

  // Set before the call: a batch with a turn of this text is refused as INVALID_ARGUMENT (as the
  // state service refuses a malformed turn), whole, every time it is sent.
  std::string refuse_text;
  int refused = 0;

  // Read by tests once the pipeline has stopped.
  std::vector<nlohmann::json> patches;
  std::vector<parley::v1::Turn> turns;
  std::vector<std::vector<std::string>> dnc;  // number, campaign, reason, call id

 private:
  absl::Mutex mu_;
};

}  // namespace parley::worker::testing
