// The `openai` STT provider against a local server speaking the transcription endpoint as
// documented in https://platform.openai.com/docs/api-reference/audio/createTranscription:
// POST /v1/audio/transcriptions, multipart/form-data with `file` (a named audio file with its
// content type), `model`, optional `language` (ISO-639-1) and `prompt`, `response_format=json`;
// Bearer authentication; the answer {"text": "…"}; errors {"error":{"message","type","code"}}.
// The endpoint does not stream, so the "streaming framing" is the buffered utterance sent whole
// at end of turn; a mid-stream disconnect is the answer cut off before its end.
#include "common/speech_http/openai_stt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/audio/wav.h"
#include "common/llm/testing/fake_openai_server.h"

namespace parley::speech_http {
namespace {

using llm::testing::FakeOpenAiServer;
using llm::testing::RecordedRequest;
using llm::testing::ScriptedResponse;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The parts of a multipart/form-data body by field name: {headers, content}.
std::map<std::string, std::pair<std::string, std::string>> Parts(const RecordedRequest& request) {
  std::map<std::string, std::pair<std::string, std::string>> parts;
  std::string type = request.Header("content-type");
  size_t at = type.find("boundary=");
  if (at == std::string::npos) return parts;
  std::string boundary = "--" + type.substr(at + 9);
  std::vector<std::string> pieces = absl::StrSplit(request.body, boundary);
  for (const std::string& piece : pieces) {
    size_t head_end = piece.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    std::string head = piece.substr(0, head_end);
    std::string content = piece.substr(head_end + 4);
    if (content.size() >= 2) content.resize(content.size() - 2);  // the CRLF before the boundary
    size_t name = head.find("name=\"");
    if (name == std::string::npos) continue;
    std::string field = head.substr(name + 6, head.find('"', name + 6) - name - 6);
    parts[field] = {head, content};
  }
  return parts;
}

class OpenAiSttTest : public ::testing::Test {
 protected:
  std::unique_ptr<OpenAiStt> Make(std::string key = "sk-1") {
    auto stt = OpenAiStt::Create({.base_url = server_.base_url(), .api_key = std::move(key)});
    EXPECT_TRUE(stt.ok()) << stt.status();
    return stt.ok() ? std::move(*stt) : nullptr;
  }
  // One utterance of 0.5 s pushed in 20 ms frames.
  absl::StatusOr<std::string> Utterance(OpenAiStt& stt) {
    auto session = stt.StartSession({.phrases = {"yes", "no"}, .language = "en-US"});
    if (!session.ok()) return session.status();
    (*session)->StartUtterance().IgnoreError();
    std::vector<int16_t> frame(320, 1000);
    for (int i = 0; i < 25; ++i) (*session)->Push(frame).IgnoreError();
    EXPECT_EQ((*session)->Partial(), "");
    return (*session)->EndUtterance();
  }
  FakeOpenAiServer server_;
};

TEST_F(OpenAiSttTest, SendsTheUtteranceAsMultipartWavAndReadsText) {
  server_.Enqueue(ScriptedResponse::Json(200, R"({"text":" Yes, that's right. "})"));
  auto stt = Make();
  absl::StatusOr<std::string> text = Utterance(*stt);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "Yes, that's right.");

  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/audio/transcriptions");
  EXPECT_EQ(requests[0].Header("authorization"), "Bearer sk-1");
  EXPECT_THAT(requests[0].Header("content-type"), StartsWith("multipart/form-data; boundary="));
  auto parts = Parts(requests[0]);
  ASSERT_TRUE(parts.count("file"));
  EXPECT_THAT(parts["file"].first, HasSubstr("filename=\"audio.wav\""));
  EXPECT_THAT(parts["file"].first, HasSubstr("Content-Type: audio/wav"));
  absl::StatusOr<audio::Wav> wav = audio::DecodeWav(parts["file"].second);
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(wav->sample_rate, 16000);
  EXPECT_EQ(wav->samples.size(), 25u * 320u);
  EXPECT_EQ(parts["model"].second, "whisper-1");
  EXPECT_EQ(parts["language"].second, "en");
  EXPECT_EQ(parts["prompt"].second, "yes, no");
  EXPECT_EQ(parts["response_format"].second, "json");
}

TEST_F(OpenAiSttTest, BadKeyIsUnauthenticatedWithTheApiMessage) {
  server_.Enqueue(ScriptedResponse::Json(
      401,
      R"({"error":{"message":"Incorrect API key provided: sk-bad","type":"invalid_request_error","code":"invalid_api_key"}})"));
  auto stt = Make("sk-bad");
  absl::StatusOr<std::string> text = Utterance(*stt);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(text.status().message(), HasSubstr("Incorrect API key"));
}

TEST_F(OpenAiSttTest, AnswerCutOffMidwayIsUnavailable) {
  ScriptedResponse cut;
  cut.streamed = true;
  cut.writes.push_back({absl::ZeroDuration(), R"({"text":"Yes, that)"});
  cut.ending = ScriptedResponse::Ending::kDisconnect;
  server_.Enqueue(cut);
  auto stt = Make();
  EXPECT_EQ(Utterance(*stt).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(OpenAiSttTest, EmptyUtteranceMakesNoRequest) {
  auto stt = Make();
  auto session = stt->StartSession({});
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE((*session)->StartUtterance().ok());
  absl::StatusOr<std::string> text = (*session)->EndUtterance();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "");
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(OpenAiSttTest, CancelClosesTheUpstreamRequest) {
  ScriptedResponse stall;
  stall.streamed = true;
  stall.writes.push_back({absl::ZeroDuration(), "{"});
  stall.ending = ScriptedResponse::Ending::kStall;
  server_.Enqueue(stall);
  auto stt = Make();
  speech::CancelFlag cancel;
  std::thread canceller([&] {
    ASSERT_TRUE(server_.WaitForRequests(1, absl::Seconds(30)));
    absl::SleepFor(absl::Milliseconds(50));
    cancel.Cancel();
  });
  std::vector<int16_t> pcm(1600, 100);
  absl::StatusOr<std::string> text = stt->Transcribe(pcm, "en", "", &cancel);
  canceller.join();
  EXPECT_EQ(text.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(server_.WaitForClientCloses(1, absl::Seconds(30)));
}

}  // namespace
}  // namespace parley::speech_http
