// AssemblyAiStt against FakeAssemblyAi, which follows AssemblyAI's Universal-Streaming v3 docs:
// https://www.assemblyai.com/docs/api-reference/streaming-api/streaming-api (connection
// parameters, Authorization header, 50–1000 ms binary audio, close codes) and
// https://www.assemblyai.com/docs/streaming/universal-streaming/message-sequence (Begin, Turn
// with end_of_turn / turn_is_formatted, ForceEndpoint, Terminate → Termination).
#include "common/speechws/assemblyai_stt.h"

#include <gtest/gtest.h>

#include "common/speechws/testing/fake_providers.h"
#include "common/speechws/testing/test_audio.h"

namespace parley::speechws {
namespace {

using testing::Failure;
using testing::FakeAssemblyAi;
using testing::Recorded;

AssemblyAiSttOptions OptionsFor(const FakeAssemblyAi& fake, std::string key = "aai-key") {
  return {.url = fake.url(), .api_key = std::move(key)};
}

TEST(AssemblyAiStt, StreamsAudioAndReturnsTheFormattedTurn) {
  FakeAssemblyAi fake({.transcript = "yes please", .formatted = "Yes, please."});
  AssemblyAiStt stt(OptionsFor(fake));
  {
    auto session = stt.StartSession({});
    ASSERT_TRUE(session.ok()) << session.status();
    ASSERT_TRUE((*session)->StartUtterance().ok());
    for (const auto& frame : TestFrames(410)) ASSERT_TRUE((*session)->Push(frame).ok());
    absl::StatusOr<std::string> text = (*session)->EndUtterance();
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, "Yes, please.");
  }
  ASSERT_TRUE(fake.WaitFor([](const Recorded& r) {
    return !r.texts.empty() && r.texts.back() == R"({"type":"Terminate"})";
  }));
  Recorded r = fake.recorded();
  ASSERT_EQ(r.upgrades.size(), 1u);
  EXPECT_EQ(r.upgrades[0].Header("authorization"), "aai-key");
  EXPECT_EQ(r.upgrades[0].Query("sample_rate"), "16000");
  EXPECT_EQ(r.upgrades[0].Query("encoding"), "pcm_s16le");
  EXPECT_EQ(r.upgrades[0].Query("format_turns"), "true");
  EXPECT_EQ(r.upgrades[0].Query("speech_model"), "universal-streaming-english");
  // 20 ms frames are batched to ≥ 50 ms; the tail is padded to 50 ms.
  for (const std::string& chunk : r.binary) EXPECT_GE(chunk.size(), 1600u);
  EXPECT_GE(r.audio_bytes, 410 / 20 * 640u);
  EXPECT_EQ(r.texts.front(), R"({"type":"ForceEndpoint"})");
}

TEST(AssemblyAiStt, UnformattedTurnsWhenFormattingIsOff) {
  FakeAssemblyAi fake({.transcript = "yes please"});
  AssemblyAiSttOptions options = OptionsFor(fake);
  options.format_turns = false;
  AssemblyAiStt stt(options);
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  for (const auto& frame : TestFrames(200)) ASSERT_TRUE((*session)->Push(frame).ok());
  absl::StatusOr<std::string> text = (*session)->EndUtterance();
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "yes please");
}

TEST(AssemblyAiStt, WrongKeyClosesWithCode1008AndIsUnavailable) {
  FakeAssemblyAi fake({});
  AssemblyAiStt stt(OptionsFor(fake, "wrong"));
  auto session = stt.StartSession({});
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnavailable) << session.status();
  EXPECT_NE(session.status().message().find("1008"), std::string::npos) << session.status();
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

TEST(AssemblyAiStt, ErrorMessageMidStreamIsUnavailable) {
  FakeAssemblyAi fake({.failure = Failure::kError});
  AssemblyAiStt stt(OptionsFor(fake));
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  absl::Status status = PushUntilFailure(**session);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("Internal server error"), std::string::npos) << status;
}

TEST(AssemblyAiStt, DropMidStreamIsUnavailable) {
  FakeAssemblyAi fake({.failure = Failure::kDropMidStream});
  AssemblyAiStt stt(OptionsFor(fake));
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  EXPECT_EQ(PushUntilFailure(**session).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::speechws
