// Client-side cost of the WebSocket speech providers against the local fake providers on
// loopback (common/speechws/testing): the fakes answer instantly, so the numbers are Parley's
// overhead (Beast, JSON, base64, the I/O thread hand-off) plus loopback, not a provider's model.
//
//   build/bench/ws_speech_bench [--rounds=200]
//
// Measures, in ms: cartesia request → first audio on a warm pooled connection and on a cold one
// (new provider: TCP + upgrade + request); how long a raised CancelFlag takes to make Synthesize
// return (barge-in); deepgram connect (StartSession) and Finalize → final transcript on a warm
// session. Prints one JSON line:
//   {"bench":"ws_speech","rounds":…,"cartesia_warm_first_audio_p50_ms":…,…}
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/speechws/cartesia_tts.h"
#include "common/speechws/deepgram_stt.h"
#include "common/speechws/testing/fake_providers.h"
#include "common/speechws/testing/test_audio.h"

namespace {

using parley::speechws::CartesiaTts;
using parley::speechws::DeepgramStt;
using parley::speechws::testing::FakeCartesia;
using parley::speechws::testing::FakeDeepgram;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Request → first audio of one Synthesize on `tts`.
double FirstAudio(CartesiaTts& tts) {
  absl::Time start = absl::Now();
  absl::Time first = absl::InfiniteFuture();
  absl::Status status = tts.Synthesize(
      "Hello there.",
      [&](std::span<const int16_t>) {
        if (first == absl::InfiniteFuture()) first = absl::Now();
      },
      nullptr);
  if (!status.ok()) {
    std::fprintf(stderr, "synthesize: %s\n", status.ToString().c_str());
    std::exit(1);
  }
  return Ms(first - start);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) rounds = std::atoi(argv[i] + 9);
  }
  std::vector<double> warm, cold, cancel_ms, dg_connect, dg_final;
  {
    FakeCartesia fake({.chunks = 3});
    CartesiaTts tts({.url = fake.url(), .api_key = "cartesia-key", .voice = "v"});
    FirstAudio(tts);  // opens the pooled connection
    for (int i = 0; i < rounds; ++i) warm.push_back(FirstAudio(tts));
    for (int i = 0; i < rounds / 4; ++i) {
      CartesiaTts fresh({.url = fake.url(), .api_key = "cartesia-key", .voice = "v"});
      cold.push_back(FirstAudio(fresh));
    }
  }
  {
    FakeCartesia fake({.chunks = 50, .wait_for_cancel = true});
    CartesiaTts tts({.url = fake.url(), .api_key = "cartesia-key", .voice = "v"});
    for (int i = 0; i < rounds; ++i) {
      parley::speech::CancelFlag cancel;
      absl::Time raised;
      std::thread barge_in;
      // The callee barges in from the listener thread while Synthesize waits for audio.
      absl::Status status = tts.Synthesize(
          "A long answer.",
          [&](std::span<const int16_t>) {
            barge_in = std::thread([&] {
              absl::SleepFor(absl::Milliseconds(2));
              raised = absl::Now();
              cancel.Cancel();
            });
          },
          &cancel);
      barge_in.join();
      if (status.code() != absl::StatusCode::kCancelled) return 1;
      cancel_ms.push_back(Ms(absl::Now() - raised));
    }
  }
  {
    FakeDeepgram fake({.transcript = "yes please"});
    DeepgramStt stt({.url = fake.url(), .api_key = "dg-key"});
    auto frames = parley::speechws::TestFrames(200);
    for (int i = 0; i < rounds / 4; ++i) {
      absl::Time start = absl::Now();
      auto session = stt.StartSession({});
      if (!session.ok()) return 1;
      dg_connect.push_back(Ms(absl::Now() - start));
      for (int u = 0; u < 4; ++u) {
        (*session)->StartUtterance().IgnoreError();
        for (const auto& f : frames) (*session)->Push(f).IgnoreError();
        absl::Time end = absl::Now();
        auto text = (*session)->EndUtterance();
        if (!text.ok() || *text != "yes please") return 1;
        dg_final.push_back(Ms(absl::Now() - end));
      }
    }
  }
  nlohmann::json out = {{"bench", "ws_speech"},
                        {"rounds", rounds},
                        {"cartesia_warm_first_audio_p50_ms", Percentile(warm, 0.5)},
                        {"cartesia_warm_first_audio_p99_ms", Percentile(warm, 0.99)},
                        {"cartesia_cold_first_audio_p50_ms", Percentile(cold, 0.5)},
                        {"cartesia_cancel_p50_ms", Percentile(cancel_ms, 0.5)},
                        {"cartesia_cancel_max_ms", Percentile(cancel_ms, 1.0)},
                        {"deepgram_connect_p50_ms", Percentile(dg_connect, 0.5)},
                        {"deepgram_finalize_p50_ms", Percentile(dg_final, 0.5)},
                        {"deepgram_finalize_p99_ms", Percentile(dg_final, 0.99)}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
