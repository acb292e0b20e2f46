// The stand-in pipeline until the voice pipeline exists: on answer it plays a fixed prompt (a
// tone, Opus-encoded and paced like speech would be), optionally keeps the line open for a while,
// then hangs up — outcome completed/agent_hangup — and records everything it heard. Tests use
// it to check the media path end to end; an operator can use it to check a trunk.
//
// The prompt comes from the factory's options, overridden per call by these call context keys:
//   test_prompt_ms   length of the tone, ms (default 2000)
//   test_prompt_hz   its frequency, Hz (default 440)
//   test_listen_ms   silence played after the tone before hanging up, ms (default 0)
//   test_transfer_to transfer the call there (PipelineHost::TransferCall) instead of hanging up
// The end-of-call metrics report what was heard: heard_ms, heard_rms, heard_hz (frequency by
// zero crossings), prompt_ms. With a record directory it also writes <call_id>-<attempt>.wav.
//
//   TestPromptFactory factory({.record_dir = "/tmp/calls"});
//   WorkerDeps deps{…, .pipelines = &factory};
//   …
//   std::vector<int16_t> heard = factory.Heard(call_id);   // 16 kHz
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/worker/pipeline.h"

namespace parley::worker {

struct TestPromptOptions {
  int prompt_ms = 2000;
  double prompt_hz = 440;
  int listen_ms = 0;
  double amplitude = 8000;
  std::string record_dir;   // "" = do not write WAV files
  std::string transfer_to;  // "" = hang up after the prompt
  // Keep what each call heard for Heard() (tests); a serving worker must not hold every call's
  // audio in memory.
  bool keep_heard = false;
};

// Upper bound of test_prompt_ms / test_listen_ms from a call's context: the prompt is encoded up
// front on the session thread, so a caller must not be able to ask for hours of it.
inline constexpr int kMaxTestPromptMs = 60000;

class TestPromptFactory final : public PipelineFactory {
 public:
  explicit TestPromptFactory(TestPromptOptions options = {}) : options_(std::move(options)) {}

  // Never fails; a malformed context value is ignored.
  absl::StatusOr<std::unique_ptr<CallPipeline>> Create(const PipelineContext& context) override;

  // What the pipeline of `call_id` heard (16 kHz), once its call ended; empty before and when
  // the options do not keep_heard. The last kKeepRecordings calls are kept.
  static constexpr size_t kKeepRecordings = 256;
  std::vector<int16_t> Heard(const std::string& call_id) const;

 private:
  friend class TestPromptPipeline;
  void Store(const std::string& call_id, std::vector<int16_t> heard);

  const TestPromptOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<int16_t>> heard_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // oldest first
};

}  // namespace parley::worker
