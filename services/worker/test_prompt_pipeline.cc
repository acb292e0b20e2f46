#include "services/worker/test_prompt_pipeline.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/audio/tone.h"
#include "common/audio/wav.h"
#include "common/log/log.h"

namespace parley::worker {
namespace {

constexpr char kPromptEnd[] = "test-prompt:end";
constexpr char kGoodbyeEnd[] = "test-prompt:goodbye";

}  // namespace

class TestPromptPipeline final : public CallPipeline {
 public:
  TestPromptPipeline(TestPromptFactory* factory, TestPromptOptions options, std::string call_id,
                     int attempt)
      : factory_(factory),
        options_(std::move(options)),
        call_id_(std::move(call_id)),
        attempt_(attempt) {}

  void OnAnswered(PipelineHost& host) override {
    host_ = &host;
    audio::ToneGenerator tone(options_.prompt_hz, audio::kPipelineRate, options_.amplitude);
    for (int ms = 0; ms < options_.prompt_ms; ms += audio::kFrameMs) {
      if (!host.leg().PlayAudio({audio::kPipelineRate, tone.Next(audio::kFrameSamples)}).ok()) {
        return;  // the call ended meanwhile
      }
    }
    for (int ms = 0; ms < options_.listen_ms; ms += audio::kFrameMs) {
      if (!host.leg().PlayAudio(audio::SilenceFrame()).ok()) return;
    }
    (void)host.leg().PlayMark(kPromptEnd);
  }

  void OnAudio(const audio::PcmFrame& frame) override {
    absl::MutexLock lock(&mu_);
    heard_.insert(heard_.end(), frame.samples.begin(), frame.samples.end());
  }

  void OnMark(const std::string& name, bool cleared) override {
    if (host_ == nullptr) return;
    if (name == kPromptEnd && !cleared && !options_.transfer_to.empty()) {
      host_->TransferCall(options_.transfer_to);
    } else if (name == kPromptEnd && !cleared) {
      host_->EndCall(parley::v1::CALL_STATUS_COMPLETED, "agent_hangup");
    } else if (name == kGoodbyeEnd) {
      host_->EndCall(parley::v1::CALL_STATUS_COMPLETED, "worker_draining");
    }
  }

  void OnDrain() override {
    if (host_ == nullptr) return;
    // A short falling two-tone "goodbye" instead of the rest of the prompt.
    host_->leg().Clear();
    audio::ToneGenerator tone(660, audio::kPipelineRate, options_.amplitude);
    for (int i = 0; i < 10; ++i) {
      (void)host_->leg().PlayAudio({audio::kPipelineRate, tone.Next(audio::kFrameSamples)});
    }
    (void)host_->leg().PlayMark(kGoodbyeEnd);
  }

  PipelineReport Stop(std::string_view ended_reason) override {
    std::vector<int16_t> heard;
    {
      absl::MutexLock lock(&mu_);
      heard.swap(heard_);
    }
    PipelineReport report;
    report.metrics["prompt_ms"] = options_.prompt_ms;
    report.metrics["heard_ms"] = static_cast<double>(heard.size()) * 1000 / audio::kPipelineRate;
    report.metrics["heard_rms"] = audio::Rms(heard);
    report.metrics["heard_hz"] = audio::ZeroCrossingFrequency(heard, audio::kPipelineRate);
    report.summary =
        absl::StrCat("test prompt: ", options_.prompt_ms, " ms of ", options_.prompt_hz,
                     " Hz; heard ", static_cast<int>(report.metrics["heard_ms"]), " ms");
    if (!options_.record_dir.empty() && !heard.empty()) {
      std::string path = absl::StrCat(options_.record_dir, "/", call_id_, "-", attempt_, ".wav");
      if (absl::Status s = audio::WriteWav(path, heard, audio::kPipelineRate); !s.ok()) {
        log::Warn("cannot write recording", {{"error", s.ToString()}});
      }
    }
    if (options_.keep_heard) factory_->Store(call_id_, std::move(heard));
    host_ = nullptr;
    return report;
  }

 private:
  TestPromptFactory* factory_;
  const TestPromptOptions options_;
  const std::string call_id_;
  const int attempt_;
  PipelineHost* host_ = nullptr;  // session thread only
  absl::Mutex mu_;
  std::vector<int16_t> heard_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<CallPipeline>> TestPromptFactory::Create(
    const PipelineContext& context) {
  TestPromptOptions options = options_;
  nlohmann::json ctx = nlohmann::json::parse(context.call->context_json, nullptr, false);
  auto number = [&](const char* key, auto fallback) -> decltype(fallback) {
    if (!ctx.is_object() || !ctx.contains(key)) return fallback;
    const nlohmann::json& v = ctx[key];
    if (v.is_number()) return v.get<decltype(fallback)>();
    if (v.is_string()) {
      try {
        return static_cast<decltype(fallback)>(std::stod(v.get<std::string>()));
      } catch (...) {
      }
    }
    return fallback;
  };
  options.prompt_ms = std::clamp(number("test_prompt_ms", options.prompt_ms), 0, kMaxTestPromptMs);
  options.prompt_hz = number("test_prompt_hz", options.prompt_hz);
  options.listen_ms = std::clamp(number("test_listen_ms", options.listen_ms), 0, kMaxTestPromptMs);
  if (ctx.is_object() && ctx.contains("test_transfer_to") && ctx["test_transfer_to"].is_string()) {
    options.transfer_to = ctx["test_transfer_to"].get<std::string>();
  }
  return std::make_unique<TestPromptPipeline>(this, std::move(options), context.call->call_id,
                                              context.call->attempt);
}

std::vector<int16_t> TestPromptFactory::Heard(const std::string& call_id) const {
  absl::MutexLock lock(&mu_);
  auto it = heard_.find(call_id);
  return it != heard_.end() ? it->second : std::vector<int16_t>{};
}

void TestPromptFactory::Store(const std::string& call_id, std::vector<int16_t> heard) {
  absl::MutexLock lock(&mu_);
  if (heard_.find(call_id) == heard_.end()) order_.push_back(call_id);
  heard_[call_id] = std::move(heard);
  while (order_.size() > kKeepRecordings) {
    heard_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace parley::worker
