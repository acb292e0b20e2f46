// WhisperLiveStt against FakeWhisperLive, which follows WhisperLive's protocol as its README and
// reference client/server define it (https://github.com/collabora/WhisperLive,
// whisper_live/client.py and whisper_live/server.py): the JSON options message (uid, language,
// task, model, use_vad), SERVER_READY / WAIT / ERROR answers, float32 16 kHz frames, segments
// updates, DISCONNECT and END_OF_AUDIO.
#include "common/speechws/whisperlive_stt.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/speechws/testing/fake_providers.h"
#include "common/speechws/testing/test_audio.h"

namespace parley::speechws {
namespace {

using testing::Failure;
using testing::FakeWhisperLive;
using testing::Recorded;

TEST(WhisperLiveStt, SendsOptionsAndFloat32AudioAndReturnsSegments) {
  FakeWhisperLive fake({.transcript = "yes please"});
  // No slack: EndUtterance waits for the segment that reaches the end of the audio.
  WhisperLiveStt stt({.url = fake.url(), .model = "small", .end_slack = absl::ZeroDuration()});
  {
    auto session = stt.StartSession({.language = "en-US"});
    ASSERT_TRUE(session.ok()) << session.status();
    ASSERT_TRUE((*session)->StartUtterance().ok());
    for (const auto& frame : TestFrames(500)) ASSERT_TRUE((*session)->Push(frame).ok());
    absl::StatusOr<std::string> text = (*session)->EndUtterance();
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, "yes please");
  }
  ASSERT_TRUE(fake.WaitFor(
      [](const Recorded& r) { return !r.texts.empty() && r.texts.back() == "END_OF_AUDIO"; }));
  Recorded r = fake.recorded();
  nlohmann::json options = nlohmann::json::parse(r.texts.front());
  EXPECT_EQ(options["language"], "en");
  EXPECT_EQ(options["task"], "transcribe");
  EXPECT_EQ(options["model"], "small");
  EXPECT_EQ(options["use_vad"], false);
  EXPECT_EQ(options["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(r.audio_bytes, 500 / 20 * 320 * 4u);
  // The first sample of the first frame, as float32 little-endian.
  ASSERT_FALSE(r.binary.empty());
  float first;
  std::memcpy(&first, r.binary[0].data(), 4);
  EXPECT_FLOAT_EQ(first, TestFrames(20)[0][0] / 32768.0f);
}

TEST(WhisperLiveStt, FullServerIsResourceExhausted) {
  FakeWhisperLive fake({.full = true});
  WhisperLiveStt stt({.url = fake.url()});
  auto session = stt.StartSession({});
  EXPECT_EQ(session.status().code(), absl::StatusCode::kResourceExhausted) << session.status();
}

TEST(WhisperLiveStt, ModelThatFailsToLoadIsUnavailable) {
  FakeWhisperLive fake({.missing_model = "huge"});
  WhisperLiveStt stt({.url = fake.url(), .model = "huge"});
  auto session = stt.StartSession({});
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnavailable) << session.status();
  EXPECT_NE(session.status().message().find("Failed to load model"), std::string::npos);
}

absl::Status PushUntilFailure(speech::SttSession& session) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    for (const auto& frame : TestFrames(60)) {
      absl::Status status = session.Push(frame);
      if (!status.ok()) return status;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::OkStatus();
}

TEST(WhisperLiveStt, DisconnectMessageIsUnavailable) {
  FakeWhisperLive fake({.failure = Failure::kError});
  WhisperLiveStt stt({.url = fake.url()});
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  absl::Status status = PushUntilFailure(**session);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(WhisperLiveStt, DropMidStreamIsUnavailable) {
  FakeWhisperLive fake({.failure = Failure::kDropMidStream});
  WhisperLiveStt stt({.url = fake.url()});
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  EXPECT_EQ(PushUntilFailure(**session).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::speechws
