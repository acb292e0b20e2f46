// The HTTP TTS providers against a local server speaking each one's documented wire format:
//   piper       https://github.com/OHF-Voice/piper1-gpl/blob/main/docs/API_HTTP.md
//               (POST / with JSON text/voice/speaker_id/length_scale; a WAV file back)
//   openai      https://platform.openai.com/docs/api-reference/audio/createSpeech
//               (POST /v1/audio/speech, Bearer key, model/input/voice/response_format "pcm":
//               raw 24 kHz 16-bit little-endian samples, streamed chunked)
//   elevenlabs  https://elevenlabs.io/docs/api-reference/text-to-speech/stream
//               (POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_16000, xi-api-key,
//               JSON text/model_id/voice_settings; raw 16 kHz PCM streamed)
//   deepgram    https://developers.deepgram.com/reference/text-to-speech/speak-request
//               (POST /v1/speak?model=…&encoding=linear16&sample_rate=16000,
//               "Authorization: Token <key>", JSON {"text"}; audio streamed; errors
//               {"err_code","err_msg"})
// For each: the request shape, the auth header, the streamed audio arriving in pieces, an error
// response, a mid-stream disconnect, and a cancel that closes the upstream connection.
#include "common/speech_http/http_tts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/audio/wav.h"
#include "common/llm/testing/fake_openai_server.h"

namespace parley::speech_http {
namespace {

using llm::testing::FakeOpenAiServer;
using llm::testing::ScriptedResponse;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<int16_t> Tone(int rate, int ms) {
  std::vector<int16_t> out(static_cast<size_t>(rate) * ms / 1000);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * static_cast<double>(i) / rate));
  }
  return out;
}

std::string Bytes(const std::vector<int16_t>& samples) {
  std::string out(samples.size() * 2, '\0');
  std::memcpy(out.data(), samples.data(), out.size());
  return out;
}

// A 200 streamed body cut into `pieces` writes (odd sizes, so samples straddle writes).
ScriptedResponse Audio(const std::string& content_type, const std::string& bytes, int pieces,
                       ScriptedResponse::Ending ending = ScriptedResponse::Ending::kComplete) {
  ScriptedResponse response;
  response.content_type = content_type;
  response.streamed = true;
  response.ending = ending;
  size_t step = bytes.size() / pieces + 1;
  if (step % 2 == 0) ++step;
  for (size_t at = 0; at < bytes.size(); at += step) {
    response.writes.push_back({absl::Milliseconds(2), bytes.substr(at, step)});
  }
  return response;
}

struct Case {
  std::string provider;
  std::string path_prefix;   // expected request path start
  std::string auth_header;   // header name, lower case ("" for none)
  std::string auth_value;    // expected value
  std::string content_type;  // of the audio answer
  int rate;                  // of the audio answer
  bool wav;
  std::string error_body;  // the provider's error shape
  int error_status = 401;
  absl::StatusCode error_code = absl::StatusCode::kUnauthenticated;
  std::string error_text = "nvalid";
};

std::string PrintCase(const ::testing::TestParamInfo<Case>& info) { return info.param.provider; }

class HttpTtsTest : public ::testing::TestWithParam<Case> {
 protected:
  std::unique_ptr<speech::TextToSpeech> Make() {
    const Case& c = GetParam();
    HttpTtsOptions options{.provider = c.provider, .api_key = c.provider == "piper" ? "" : "k-1"};
    std::string root = absl::StrCat("http://127.0.0.1:", server_.port());
    if (c.provider == "piper") options.base_url = root;
    if (c.provider == "openai") options.base_url = root + "/v1";
    if (c.provider == "elevenlabs") {
      options.base_url = root + "/v1";
      options.voice = "JBFqnCBsd6RMkjVDRZzb";
    }
    if (c.provider == "deepgram") options.base_url = root + "/v1/speak";
    auto tts = CreateHttpTts(std::move(options));
    EXPECT_TRUE(tts.ok()) << tts.status();
    return tts.ok() ? std::move(*tts) : nullptr;
  }

  std::string Answer(int ms) {
    const Case& c = GetParam();
    std::vector<int16_t> tone = Tone(c.rate, ms);
    return c.wav ? audio::EncodeWav(tone, c.rate) : Bytes(tone);
  }

  absl::Status Speak(speech::TextToSpeech& tts, const speech::CancelFlag* cancel = nullptr) {
    return tts.Synthesize(
        "Hello there.",
        [this](std::span<const int16_t> pcm) {
          ++pieces_;
          samples_.insert(samples_.end(), pcm.begin(), pcm.end());
        },
        cancel);
  }

  FakeOpenAiServer server_;
  std::vector<int16_t> samples_;
  int pieces_ = 0;
};

TEST_P(HttpTtsTest, StreamsAudioInPiecesAndSendsTheDocumentedRequest) {
  const Case& c = GetParam();
  server_.Enqueue(Audio(c.content_type, Answer(500), 7));
  auto tts = Make();
  ASSERT_TRUE(Speak(*tts).ok());
  // 500 ms at 16 kHz (resampled where the provider speaks at another rate: a few filter samples
  // stay behind).
  EXPECT_NEAR(static_cast<double>(samples_.size()), 8000, 40);
  EXPECT_GT(pieces_, 1) << "audio must reach the pipeline as it streams, not at the end";

  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_THAT(requests[0].path, StartsWith(c.path_prefix));
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  if (!c.auth_header.empty()) {
    EXPECT_EQ(requests[0].Header(c.auth_header), c.auth_value);
  }
  EXPECT_EQ(requests[0].Header("authorization").empty(),
            c.provider == "piper" || c.provider == "elevenlabs");
  const json& body = requests[0].json;
  if (c.provider == "piper") {
    EXPECT_EQ(body, json({{"text", "Hello there."}}));
  } else if (c.provider == "openai") {
    EXPECT_EQ(body["input"], "Hello there.");
    EXPECT_EQ(body["model"], "gpt-4o-mini-tts");
    EXPECT_EQ(body["voice"], "alloy");
    EXPECT_EQ(body["response_format"], "pcm");
  } else if (c.provider == "elevenlabs") {
    EXPECT_EQ(requests[0].path,
              "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream?output_format=pcm_16000");
    EXPECT_EQ(body["text"], "Hello there.");
    EXPECT_EQ(body["model_id"], "eleven_flash_v2_5");
  } else if (c.provider == "deepgram") {
    EXPECT_EQ(
        requests[0].path,
        "/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=16000&container=none");
    EXPECT_EQ(body, json({{"text", "Hello there."}}));
  }
}

TEST_P(HttpTtsTest, ErrorResponseKeepsTheProvidersMessage) {
  const Case& c = GetParam();
  server_.Enqueue(ScriptedResponse::Json(c.error_status, c.error_body));
  auto tts = Make();
  absl::Status status = Speak(*tts);
  EXPECT_EQ(status.code(), c.error_code) << status;
  EXPECT_THAT(status.message(), HasSubstr(c.error_text));
  EXPECT_THAT(status.message(), HasSubstr(c.provider));
  EXPECT_TRUE(samples_.empty());
}

TEST_P(HttpTtsTest, MidStreamDisconnectIsUnavailableAfterPartialAudio) {
  const Case& c = GetParam();
  std::string bytes = Answer(500);
  server_.Enqueue(Audio(c.content_type, bytes.substr(0, bytes.size() / 2), 3,
                        ScriptedResponse::Ending::kDisconnect));
  auto tts = Make();
  absl::Status status = Speak(*tts);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_GT(samples_.size(), 0u);
}

TEST_P(HttpTtsTest, CancelClosesTheUpstreamConnectionAndTheClientRecovers) {
  const Case& c = GetParam();
  std::string bytes = Answer(300);
  server_.Enqueue(Audio(c.content_type, bytes.substr(0, bytes.size() / 2), 2,
                        ScriptedResponse::Ending::kStall));
  server_.Enqueue(Audio(c.content_type, Answer(100), 2));
  auto tts = Make();
  speech::CancelFlag cancel;
  std::thread canceller([&] {
    ASSERT_TRUE(server_.WaitForRequests(1, absl::Seconds(30)));
    absl::SleepFor(absl::Milliseconds(100));
    cancel.Cancel();
  });
  absl::Status status = Speak(*tts, &cancel);
  canceller.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_TRUE(server_.WaitForClientCloses(1, absl::Seconds(30)));
  samples_.clear();
  ASSERT_TRUE(Speak(*tts).ok());
  EXPECT_NEAR(static_cast<double>(samples_.size()), 1600, 40);
}

TEST_P(HttpTtsTest, KeepsTheConnectionWarmBetweenSentences) {
  const Case& c = GetParam();
  server_.Enqueue(Audio(c.content_type, Answer(100), 2));
  server_.Enqueue(Audio(c.content_type, Answer(100), 2));
  auto tts = Make();
  ASSERT_TRUE(Speak(*tts).ok());
  ASSERT_TRUE(Speak(*tts).ok());
  EXPECT_EQ(server_.accepted_connections(), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Providers, HttpTtsTest,
    ::testing::Values(
        // Piper has no authentication; a failed synthesis is Flask's 500 page.
        Case{"piper", "/", "", "", "audio/wav", 22050, true,
             "<h1>Internal Server Error</h1><p>voice not found</p>", 500,
             absl::StatusCode::kUnavailable, "voice not found"},
        Case{
            "openai", "/v1/audio/speech", "authorization", "Bearer k-1", "audio/pcm", 24000, false,
            R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})"},
        Case{"elevenlabs", "/v1/text-to-speech/", "xi-api-key", "k-1", "audio/pcm", 16000, false,
             R"({"detail":{"status":"invalid_api_key","message":"Invalid API key"}})"},
        Case{"deepgram", "/v1/speak?", "authorization", "Token k-1", "audio/l16", 16000, false,
             R"({"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"r"})"}),
    PrintCase);

TEST(HttpTtsRequestTest, TemplateSettingsReachEachProvider) {
  auto piper = BuildTtsRequest({.provider = "piper",
                                .base_url = "http://piper:5000",
                                .voice = "en_US-lessac-medium",
                                .speed = 1.25,
                                .extra_body = {{"speaker_id", 3}}},
                               "Hi");
  ASSERT_TRUE(piper.ok());
  json body = json::parse(piper->body);
  EXPECT_EQ(body["voice"], "en_US-lessac-medium");
  EXPECT_DOUBLE_EQ(body["length_scale"].get<double>(), 0.8);
  EXPECT_EQ(body["speaker_id"], 3);

  auto eleven = BuildTtsRequest({.provider = "elevenlabs",
                                 .base_url = "https://api.elevenlabs.io/v1",
                                 .voice = "v 1",
                                 .model = "eleven_turbo_v2_5",
                                 .stability = 0.4},
                                "Hi");
  ASSERT_TRUE(eleven.ok());
  EXPECT_EQ(eleven->url,
            "https://api.elevenlabs.io/v1/text-to-speech/v%201/stream?output_format=pcm_16000");
  EXPECT_EQ(json::parse(eleven->body)["voice_settings"]["stability"], 0.4);

  auto deepgram = BuildTtsRequest({.provider = "deepgram",
                                   .base_url = "https://api.deepgram.com/v1/speak",
                                   .voice = "aura-2-luna-en"},
                                  "Hi");
  ASSERT_TRUE(deepgram.ok());
  EXPECT_THAT(deepgram->url, HasSubstr("model=aura-2-luna-en&"));

  EXPECT_EQ(
      BuildTtsRequest({.provider = "elevenlabs", .base_url = "https://x"}, "Hi").status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateHttpTts({.provider = "cartesia", .base_url = "https://x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateHttpTts({.provider = "piper", .base_url = "ws://x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpTtsRequestTest, JsonInsteadOfAudioIsAnError) {
  FakeOpenAiServer server;
  server.Enqueue(ScriptedResponse::Json(200, R"({"error":"quota"})"));
  auto tts = CreateHttpTts(
      {.provider = "piper", .base_url = absl::StrCat("http://127.0.0.1:", server.port())});
  ASSERT_TRUE(tts.ok());
  absl::Status status = (*tts)->Synthesize(
      "Hi", [](std::span<const int16_t>) {}, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("expected audio"));
}

}  // namespace
}  // namespace parley::speech_http
