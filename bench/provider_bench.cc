// Client-side cost of the HTTP speech and language providers against the local fake server on
// loopback, per provider: time to first token / first audio on a warm (pooled, kept-alive)
// connection and on a cold one (new client, new TCP connection), the whole response, and how
// long a raised CancelFlag takes to stop a stalled response. The server answers instantly, so
// these are our overheads (curl, NDJSON/WAV parsing, resampling, JSON) plus loopback, not a
// provider's latency. Same method as llm_bench (the `openai`-compatible LLM).
//
//   build/bench/provider_bench [--calls=200]
//
// Prints one JSON line per provider:
//   {"bench":"provider","provider":"tts/piper","calls":…,"warm_first_p50_ms":…,
//    "warm_first_p99_ms":…,"cold_first_p50_ms":…,"whole_p50_ms":…,"cancel_p50_ms":…}
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/audio/wav.h"
#include "common/llm/ollama_chat.h"
#include "common/llm/testing/fake_openai_server.h"
#include "common/speech_http/http_tts.h"
#include "common/speech_http/openai_stt.h"

namespace {

using parley::llm::testing::FakeOpenAiServer;
using parley::llm::testing::ScriptedResponse;
namespace speech = parley::speech;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

ScriptedResponse Chunked(const std::string& type, const std::vector<std::string>& writes,
                         ScriptedResponse::Ending ending = ScriptedResponse::Ending::kComplete) {
  ScriptedResponse r;
  r.content_type = type;
  r.streamed = true;
  r.ending = ending;
  for (const std::string& w : writes) r.writes.push_back({absl::ZeroDuration(), w});
  return r;
}

std::vector<std::string> OllamaLines(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(nlohmann::json(
                      {{"message", {{"role", "assistant"}, {"content", "word "}}}, {"done", false}})
                      .dump() +
                  "\n");
  }
  out.push_back(R"({"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"})"
                "\n");
  return out;
}

// One second of audio at `rate` in ten writes (a WAV header first when `wav`).
std::vector<std::string> AudioWrites(int rate, bool wav) {
  std::vector<int16_t> tone(static_cast<size_t>(rate));
  for (size_t i = 0; i < tone.size(); ++i) {
    tone[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * static_cast<double>(i) / rate));
  }
  std::string bytes;
  if (wav) {
    bytes = parley::audio::EncodeWav(tone, rate);
  } else {
    bytes.resize(tone.size() * 2);
    std::memcpy(bytes.data(), tone.data(), bytes.size());
  }
  std::vector<std::string> out;
  size_t step = bytes.size() / 10 + 1;
  for (size_t at = 0; at < bytes.size(); at += step) out.push_back(bytes.substr(at, step));
  return out;
}

// A provider under test: `run` performs one request, calling `first` at its first token/audio.
struct Subject {
  std::string name;
  std::function<ScriptedResponse(bool stall)> response;
  // Builds a fresh client for `server`, then returns the call.
  std::function<std::function<bool(const std::function<void()>& first,
                                   const speech::CancelFlag* cancel)>(FakeOpenAiServer& server)>
      make;
};

void Measure(const Subject& subject, int calls) {
  FakeOpenAiServer server;
  auto run = subject.make(server);
  std::vector<double> warm_first, whole, cold_first, cancel_ms;
  auto once =
      [&](const std::function<bool(const std::function<void()>&, const speech::CancelFlag*)>& call,
          std::vector<double>* first_out, std::vector<double>* whole_out) {
        server.Enqueue(subject.response(false));
        absl::Time start = absl::Now();
        absl::Time first_at = absl::InfiniteFuture();
        bool ok = call(
            [&] {
              if (first_at == absl::InfiniteFuture()) first_at = absl::Now();
            },
            nullptr);
        absl::Time end = absl::Now();
        if (!ok) std::fprintf(stderr, "%s: call failed\n", subject.name.c_str());
        if (first_out) first_out->push_back(Ms(first_at - start));
        if (whole_out) whole_out->push_back(Ms(end - start));
      };
  once(run, nullptr, nullptr);  // warm up the connection
  for (int i = 0; i < calls; ++i) once(run, &warm_first, &whole);
  for (int i = 0; i < std::min(calls, 100); ++i) {
    auto cold = subject.make(server);
    once(cold, &cold_first, nullptr);
  }
  for (int i = 0; i < 20; ++i) {
    server.Enqueue(subject.response(true));
    speech::CancelFlag cancel;
    absl::Time raised;
    int before = static_cast<int>(server.requests().size());
    std::thread canceller([&] {
      server.WaitForRequests(before + 1, absl::Seconds(10));
      absl::SleepFor(absl::Milliseconds(20));
      raised = absl::Now();
      cancel.Cancel();
    });
    run([] {}, &cancel);
    absl::Time returned = absl::Now();
    canceller.join();
    cancel_ms.push_back(Ms(returned - raised));
  }
  std::printf("%s\n", nlohmann::json({{"bench", "provider"},
                                      {"provider", subject.name},
                                      {"calls", calls},
                                      {"warm_first_p50_ms", Percentile(warm_first, 0.5)},
                                      {"warm_first_p99_ms", Percentile(warm_first, 0.99)},
                                      {"cold_first_p50_ms", Percentile(cold_first, 0.5)},
                                      {"whole_p50_ms", Percentile(whole, 0.5)},
                                      {"cancel_p50_ms", Percentile(cancel_ms, 0.5)},
                                      {"cancel_max_ms", Percentile(cancel_ms, 1.0)}})
                          .dump()
                          .c_str());
  std::fflush(stdout);
}

Subject Tts(const std::string& provider, const std::string& path, int rate, bool wav) {
  return Subject{absl::StrCat("tts/", provider),
                 [=](bool stall) {
                   std::vector<std::string> writes = AudioWrites(rate, wav);
                   if (stall) writes.resize(2);
                   return Chunked(wav ? "audio/wav" : "audio/pcm", writes,
                                  stall ? ScriptedResponse::Ending::kStall
                                        : ScriptedResponse::Ending::kComplete);
                 },
                 [=](FakeOpenAiServer& server) {
                   std::shared_ptr<speech::TextToSpeech> tts(*parley::speech_http::CreateHttpTts(
                       {.provider = provider,
                        .base_url = absl::StrCat("http://127.0.0.1:", server.port(), path),
                        .api_key = "k",
                        .voice = "v"}));
                   return
                       [tts](const std::function<void()>& first, const speech::CancelFlag* cancel) {
                         return tts
                             ->Synthesize(
                                 "Hello there, how are you today?",
                                 [&](std::span<const int16_t>) { first(); }, cancel)
                             .ok();
                       };
                 }};
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--calls=", 8) == 0) calls = std::atoi(argv[i] + 8);
  }
  std::vector<Subject> subjects;
  subjects.push_back(Subject{
      "llm/ollama",
      [](bool stall) {
        std::vector<std::string> lines = OllamaLines(40);
        if (stall) lines.resize(2);
        return Chunked(
            "application/x-ndjson", lines,
            stall ? ScriptedResponse::Ending::kStall : ScriptedResponse::Ending::kComplete);
      },
      [](FakeOpenAiServer& server) {
        std::shared_ptr<parley::llm::OllamaChat> chat(*parley::llm::OllamaChat::Create(
            {.base_url = absl::StrCat("http://127.0.0.1:", server.port()), .model = "m"}));
        return [chat](const std::function<void()>& first, const speech::CancelFlag* cancel) {
          return chat
              ->Chat(
                  {.messages = {{.role = "user", .content = "Hi"}}},
                  [&](std::string_view) { first(); }, cancel)
              .ok();
        };
      }});
  subjects.push_back(Tts("piper", "", 22050, true));
  subjects.push_back(Tts("openai", "/v1", 24000, false));
  subjects.push_back(Tts("elevenlabs", "/v1", 16000, false));
  subjects.push_back(Tts("deepgram", "/v1/speak", 16000, false));
  subjects.push_back(Subject{
      "stt/openai",
      [](bool stall) {
        if (stall) return Chunked("application/json", {"{"}, ScriptedResponse::Ending::kStall);
        return ScriptedResponse::Json(200, R"({"text":"yes it arrived yesterday"})");
      },
      [](FakeOpenAiServer& server) {
        std::shared_ptr<parley::speech_http::OpenAiStt> stt(*parley::speech_http::OpenAiStt::Create(
            {.base_url = server.base_url(), .api_key = "k"}));
        return [stt](const std::function<void()>& first, const speech::CancelFlag* cancel) {
          std::vector<int16_t> utterance(16000, 500);  // 1 s
          bool ok = stt->Transcribe(utterance, "en", "", cancel).ok();
          first();  // not streaming: the text arrives whole
          return ok;
        };
      }});
  for (const Subject& subject : subjects) Measure(subject, calls);
  return 0;
}
