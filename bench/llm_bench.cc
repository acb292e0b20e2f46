// Client-side cost of the `openai` LLM provider against the local fake server on loopback: time
// to first token on a warm (pooled, kept-alive) connection and on a cold one (new provider, new
// TCP connection), the whole-reply time for a 40-chunk stream, and how long a raised CancelFlag
// takes to stop a stalled stream. The server answers instantly, so these are our overheads
// (curl, SSE parsing, JSON) plus loopback, not a model's latency.
//
//   build/bench/llm_bench [--calls=200]
//
// Prints one JSON line:
//   {"bench":"llm","calls":…,"warm_first_token_p50_ms":…,"warm_first_token_p99_ms":…,
//    "cold_first_token_p50_ms":…,"reply_40_chunks_p50_ms":…,"cancel_p50_ms":…,"cancel_max_ms":…}
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/llm/openai_chat.h"
#include "common/llm/testing/fake_openai_server.h"

namespace {

using parley::llm::OpenAiChat;
using parley::llm::testing::FakeOpenAiServer;
using parley::llm::testing::ScriptedResponse;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

ScriptedResponse Reply(int chunks) {
  std::vector<std::string> events;
  for (int i = 0; i < chunks; ++i) {
    events.push_back(
        nlohmann::json({{"object", "chat.completion.chunk"},
                        {"choices", {{{"index", 0}, {"delta", {{"content", "word "}}}}}}})
            .dump());
  }
  events.push_back(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})");
  return ScriptedResponse::Stream(events);
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--calls=", 8) == 0) calls = std::atoi(argv[i] + 8);
  }
  FakeOpenAiServer server;
  parley::speech::ChatRequest request{.messages = {{.role = "user", .content = "Hi"}}};
  auto ignore = [](std::string_view) {};
  auto make = [&] {
    return std::move(*OpenAiChat::Create({.base_url = server.base_url(), .model = "m"}));
  };

  std::vector<double> warm, cold, whole, cancel_ms;
  auto warm_chat = make();
  for (int i = 0; i < calls; ++i) {
    server.Enqueue(Reply(1));
    auto result = warm_chat->Chat(request, ignore, nullptr);
    if (!result.ok()) return std::fprintf(stderr, "%s\n", result.status().ToString().c_str()), 1;
    if (i > 0) warm.push_back(absl::ToDoubleMilliseconds(result->first_token));
  }
  for (int i = 0; i < calls; ++i) {
    server.Enqueue(Reply(1));
    auto result = make()->Chat(request, ignore, nullptr);
    if (!result.ok()) return 1;
    cold.push_back(absl::ToDoubleMilliseconds(result->first_token));
  }
  for (int i = 0; i < calls; ++i) {
    server.Enqueue(Reply(40));
    absl::Time start = absl::Now();
    if (!warm_chat->Chat(request, ignore, nullptr).ok()) return 1;
    whole.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  const int cancels = std::min(calls, 40);
  for (int i = 0; i < cancels; ++i) {
    ScriptedResponse stall = Reply(1);
    stall.writes.pop_back();  // no [DONE]
    stall.writes.pop_back();  // no finish
    stall.ending = ScriptedResponse::Ending::kStall;
    server.Enqueue(stall);
    parley::speech::CancelFlag cancel;
    absl::Time raised;
    std::thread canceller([&, i] {
      // Spread the cancel over the 50 ms poll period.
      absl::SleepFor(absl::Milliseconds(20 + (i * 7) % 50));
      raised = absl::Now();
      cancel.Cancel();
    });
    auto result = warm_chat->Chat(request, ignore, &cancel);
    absl::Time returned = absl::Now();
    canceller.join();
    if (result.status().code() != absl::StatusCode::kCancelled) return 1;
    cancel_ms.push_back(absl::ToDoubleMilliseconds(returned - raised));
  }
  std::printf(
      "{\"bench\":\"llm\",\"calls\":%d,\"warm_first_token_p50_ms\":%.3f,"
      "\"warm_first_token_p99_ms\":%.3f,\"cold_first_token_p50_ms\":%.3f,"
      "\"reply_40_chunks_p50_ms\":%.3f,\"cancel_p50_ms\":%.1f,\"cancel_max_ms\":%.1f,"
      "\"connections\":%d}\n",
      calls, Percentile(warm, 0.5), Percentile(warm, 0.99), Percentile(cold, 0.5),
      Percentile(whole, 0.5), Percentile(cancel_ms, 0.5), Percentile(cancel_ms, 1.0),
      server.accepted_connections());
  return 0;
}
