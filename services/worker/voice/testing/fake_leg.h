// Test-only: a CallLeg on an injected clock, so voice-pipeline tests run whole calls faster than
// real time. Queued frames are "sent" one per 20 ms of clock time from when they were queued (or
// from when the previous one was sent); nothing leaves the process.
//
//   speech::FakeClock clock(absl::FromUnixSeconds(1000));
//   FakeLeg leg(&clock);
//   FakeHost host(&leg);
//   pipeline.OnAnswered(host);
//   clock.Advance(absl::Milliseconds(20));
//   leg.SentFrames();   // frames whose send time has come, with their times
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/speech/clock.h"
#include "services/worker/pipeline.h"
#include "services/worker/telephony.h"

namespace parley::worker::testing {

class FakeLeg final : public CallLeg {
 public:
  struct Sent {
    absl::Time at;
    double rms = 0;  // of the frame's samples
  };
  explicit FakeLeg(speech::Clock* clock) : clock_(clock) {}

  absl::Status PlayAudio(const audio::PcmFrame& frame) override;
  absl::Status PlayMark(const std::string& name) override { return absl::OkStatus(); }
  void Clear() override;
  absl::Status SendDtmf(const std::string& digit, int duration_ms) override {
    return absl::OkStatus();
  }
  absl::Duration QueuedAudio() const override;
  bool WaitAudioSent(absl::Duration timeout) override { return QueuedAudio() == absl::ZeroDuration(); }
  // Never waits (nothing is held as PCM here); records the audio queued at each call.
  bool WaitPcmBelow(int64_t /*frames*/, absl::Duration /*timeout*/) override {
    absl::Duration queued = QueuedAudio();
    absl::MutexLock lock(&mu_);
    pcm_waits_.push_back(queued);
    return true;
  }
  // QueuedAudio() at each WaitPcmBelow, in order.
  std::vector<absl::Duration> pcm_waits() const {
    absl::MutexLock lock(&mu_);
    return pcm_waits_;
  }
  void Hangup(HangupCause cause, const std::string& detail) override;
  LegStats Stats() const override;

  // Frames sent by now (their send time has come), in order.
  std::vector<Sent> SentFrames() const;
  int clears() const;
  std::vector<absl::Time> clear_times() const;
  bool hung_up() const;

 private:
  struct Queued {
    absl::Time due;
    double rms;
  };
  void Advance() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  speech::Clock* const clock_;
  mutable absl::Mutex mu_;
  mutable std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<Sent> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> clears_ ABSL_GUARDED_BY(mu_);
  bool hung_up_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::Duration> pcm_waits_ ABSL_GUARDED_BY(mu_);
};

// A PipelineHost over a FakeLeg that records what the pipeline asked for.
class FakeHost final : public PipelineHost {
 public:
  explicit FakeHost(FakeLeg* leg) : leg_(leg) {}
  CallLeg& leg() override { return *leg_; }
  void EndCall(parley::v1::CallStatus outcome, std::string ended_reason) override;
  // Records the target and ends as a host that cannot transfer does (completed/"transfer").
  void TransferCall(std::string to) override;
  absl::Status AppendEvent(std::string type, std::map<std::string, std::string> detail) override;

  struct Ended {
    parley::v1::CallStatus outcome;
    std::string reason;
  };
  std::optional<Ended> ended() const;
  std::string transferred_to() const;  // "" until TransferCall
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> events() const;

 private:
  FakeLeg* const leg_;
  mutable absl::Mutex mu_;
  std::optional<Ended> ended_ ABSL_GUARDED_BY(mu_);
  std::string transferred_to_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> events_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::worker::testing
