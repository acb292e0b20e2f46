// DeepgramStt against FakeDeepgram, which follows Deepgram's streaming API reference:
// https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming (query
// parameters, "Authorization: Token", Results with is_final/speech_final), /docs/finalize
// (from_finalize), /docs/close-stream, /docs/audio-keep-alive and the close codes of
// /docs/recovering-from-connection-errors-and-timeouts-when-live-streaming-audio.
#include "common/speechws/deepgram_stt.h"

#include <gtest/gtest.h>

#include "common/speechws/testing/fake_providers.h"
#include "common/speechws/testing/test_audio.h"

namespace parley::speechws {
namespace {

using testing::Failure;
using testing::FakeDeepgram;
using testing::Recorded;

DeepgramSttOptions OptionsFor(const FakeDeepgram& fake, std::string key = "dg-key") {
  return {.url = fake.url(), .api_key = std::move(key), .model = "nova-3", .language = "en-US"};
}

TEST(DeepgramStt, StreamsAudioAndReturnsTheFinalizedTranscript) {
  FakeDeepgram fake({.transcript = "yes please"});
  DeepgramStt stt(OptionsFor(fake));
  {
    absl::StatusOr<std::unique_ptr<speech::SttSession>> session = stt.StartSession({});
    ASSERT_TRUE(session.ok()) << session.status();
    ASSERT_TRUE((*session)->StartUtterance().ok());
    for (const auto& frame : TestFrames(400)) ASSERT_TRUE((*session)->Push(frame).ok());
    // Interim results arrive while audio streams (one per 100 ms in the fake).
    ASSERT_TRUE(fake.WaitFor([](const Recorded& r) { return r.audio_bytes >= 12800; }));
    absl::StatusOr<std::string> text = (*session)->EndUtterance();
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, "yes please");
    // A second utterance on the same connection.
    ASSERT_TRUE((*session)->StartUtterance().ok());
    for (const auto& frame : TestFrames(200)) ASSERT_TRUE((*session)->Push(frame).ok());
    text = (*session)->EndUtterance();
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, "yes please");
  }
  ASSERT_TRUE(fake.WaitFor([](const Recorded& r) {
    return !r.texts.empty() && r.texts.back() == R"({"type":"CloseStream"})";
  }));
  Recorded r = fake.recorded();
  ASSERT_EQ(r.upgrades.size(), 1u);
  EXPECT_EQ(fake.accepted(), 1);
  EXPECT_EQ(r.upgrades[0].Header("authorization"), "Token dg-key");
  EXPECT_EQ(r.upgrades[0].Query("encoding"), "linear16");
  EXPECT_EQ(r.upgrades[0].Query("sample_rate"), "16000");
  EXPECT_EQ(r.upgrades[0].Query("channels"), "1");
  EXPECT_EQ(r.upgrades[0].Query("interim_results"), "true");
  EXPECT_EQ(r.upgrades[0].Query("endpointing"), "300");
  EXPECT_EQ(r.upgrades[0].Query("model"), "nova-3");
  EXPECT_EQ(r.upgrades[0].Query("language"), "en-US");
  EXPECT_EQ(r.audio_bytes, (400 + 200) / 20 * 320 * 2u);
  EXPECT_EQ(std::count(r.texts.begin(), r.texts.end(), R"({"type":"Finalize"})"), 2);
}

TEST(DeepgramStt, PartialShowsInterimResults) {
  FakeDeepgram fake({.transcript = "one two three four"});
  DeepgramStt stt(OptionsFor(fake));
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  for (const auto& frame : TestFrames(200)) ASSERT_TRUE((*session)->Push(frame).ok());
  std::string partial;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (partial.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    partial = (*session)->Partial();
  }
  EXPECT_TRUE(partial == "one" || partial == "one two") << partial;
}

TEST(DeepgramStt, WrongKeyIsUnauthenticated) {
  FakeDeepgram fake({});
  DeepgramStt stt(OptionsFor(fake, "wrong"));
  auto session = stt.StartSession({});
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnauthenticated) << session.status();
  EXPECT_NE(session.status().message().find("INVALID_AUTH"), std::string::npos);
}

TEST(DeepgramStt, KeepAliveWhileNoAudioFlows) {
  FakeDeepgram fake({});
  DeepgramSttOptions options = OptionsFor(fake);
  options.keepalive_interval = absl::Milliseconds(20);
  DeepgramStt stt(options);
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_TRUE(fake.WaitFor([](const Recorded& r) {
    return !r.texts.empty() && r.texts.front() == R"({"type":"KeepAlive"})";
  }));
}

// Pushes audio until the session reports a failure; the failure (OK if none came).
absl::Status PushUntilFailure(speech::SttSession& session) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    for (const auto& frame : TestFrames(20)) {
      absl::Status status = session.Push(frame);
      if (!status.ok()) return status;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::OkStatus();
}

TEST(DeepgramStt, CloseCodeMidStreamIsUnavailable) {
  FakeDeepgram fake({.failure = Failure::kError});
  DeepgramStt stt(OptionsFor(fake));
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  absl::Status status = PushUntilFailure(**session);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("DATA-0000"), std::string::npos) << status;
  EXPECT_EQ((*session)->EndUtterance().status().code(), absl::StatusCode::kUnavailable);
}

TEST(DeepgramStt, DropMidStreamIsUnavailable) {
  FakeDeepgram fake({.failure = Failure::kDropMidStream});
  DeepgramStt stt(OptionsFor(fake));
  auto session = stt.StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  absl::Status status = PushUntilFailure(**session);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(DeepgramStt, NoServerIsUnavailable) {
  int port;
  {
    FakeDeepgram fake({});
    port = std::stoi(fake.base_url().substr(fake.base_url().rfind(':') + 1));
  }
  DeepgramStt stt({.url = "ws://127.0.0.1:" + std::to_string(port) + "/v1/listen"});
  EXPECT_EQ(stt.StartSession({}).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::speechws
