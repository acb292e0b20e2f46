#include "services/worker/voice/testing/fake_leg.h"

#include <cmath>

#include "common/audio/pcm.h"

namespace parley::worker::testing {
namespace {

constexpr absl::Duration kFrame = absl::Milliseconds(audio::kFrameMs);

double Rms(const std::vector<int16_t>& samples) {
  if (samples.empty()) return 0;
  double sum = 0;
  for (int16_t s : samples) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / samples.size());
}

}  // namespace

void FakeLeg::Advance() const {
  absl::Time now = clock_->Now();
  while (!queue_.empty() && queue_.front().due <= now) {
    sent_.push_back({queue_.front().due, queue_.front().rms});
    queue_.pop_front();
  }
}

absl::Status FakeLeg::PlayAudio(const audio::PcmFrame& frame) {
  absl::MutexLock lock(&mu_);
  if (hung_up_) return absl::FailedPreconditionError("call ended");
  if (frame.samples.size() != static_cast<size_t>(audio::kFrameSamples)) {
    return absl::InvalidArgumentError("frame: not 20 ms at 16 kHz");
  }
  Advance();
  absl::Time now = clock_->Now();
  absl::Time due = now;
  if (!queue_.empty()) {
    due = queue_.back().due + kFrame;
  } else if (!sent_.empty() && sent_.back().at + kFrame > now) {
    due = sent_.back().at + kFrame;
  }
  queue_.push_back({due, Rms(frame.samples)});
  return absl::OkStatus();
}

void FakeLeg::Clear() {
  absl::MutexLock lock(&mu_);
  Advance();
  queue_.clear();
  clears_.push_back(clock_->Now());
}

absl::Duration FakeLeg::QueuedAudio() const {
  absl::MutexLock lock(&mu_);
  Advance();
  return kFrame * static_cast<int64_t>(queue_.size());
}

void FakeLeg::Hangup(HangupCause, const std::string&) {
  absl::MutexLock lock(&mu_);
  Advance();
  queue_.clear();
  hung_up_ = true;
}

LegStats FakeLeg::Stats() const {
  absl::MutexLock lock(&mu_);
  Advance();
  return {.frames_sent = static_cast<int64_t>(sent_.size())};
}

std::vector<FakeLeg::Sent> FakeLeg::SentFrames() const {
  absl::MutexLock lock(&mu_);
  Advance();
  return sent_;
}

int FakeLeg::clears() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(clears_.size());
}

std::vector<absl::Time> FakeLeg::clear_times() const {
  absl::MutexLock lock(&mu_);
  return clears_;
}

bool FakeLeg::hung_up() const {
  absl::MutexLock lock(&mu_);
  return hung_up_;
}

void FakeHost::EndCall(parley::v1::CallStatus outcome, std::string ended_reason) {
  absl::MutexLock lock(&mu_);
  if (!ended_) ended_ = Ended{outcome, std::move(ended_reason)};
}

void FakeHost::TransferCall(std::string to) {
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  transferred_to_ = std::move(to);
  ended_ = Ended{parley::v1::CALL_STATUS_COMPLETED, "transfer"};
}

std::string FakeHost::transferred_to() const {
  absl::MutexLock lock(&mu_);
  return transferred_to_;
}

absl::Status FakeHost::AppendEvent(std::string type, std::map<std::string, std::string> detail) {
  absl::MutexLock lock(&mu_);
  events_.emplace_back(std::move(type), std::move(detail));
  return absl::OkStatus();
}

std::optional<FakeHost::Ended> FakeHost::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

std::vector<std::pair<std::string, std::map<std::string, std::string>>> FakeHost::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

}  // namespace parley::worker::testing
