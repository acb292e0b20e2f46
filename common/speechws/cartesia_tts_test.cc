// CartesiaTts against FakeCartesia, which follows Cartesia's WebSocket TTS reference
// (https://docs.cartesia.ai/api-reference/tts/websocket): X-API-Key and Cartesia-Version headers,
// generation requests with model_id/transcript/voice/context_id/output_format/continue, "chunk"
// messages with base64 audio, "done", "error" with status_code, and {"context_id", "cancel"}.
#include "common/speechws/cartesia_tts.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/speechws/testing/fake_providers.h"

namespace parley::speechws {
namespace {

using testing::Failure;
using testing::FakeCartesia;
using testing::Recorded;

CartesiaTtsOptions OptionsFor(const FakeCartesia& fake, std::string key = "cartesia-key") {
  return {.url = fake.url(), .api_key = std::move(key), .voice = "voice-1"};
}

TEST(CartesiaTts, StreamsChunksAndReusesTheWarmConnection) {
  FakeCartesia fake({.chunks = 3});
  CartesiaTts tts(OptionsFor(fake));
  tts.Preconnect();
  ASSERT_TRUE(fake.WaitFor([](const Recorded& r) { return r.upgrades.size() == 1; }));
  for (int round = 0; round < 2; ++round) {
    std::vector<int16_t> audio;
    int pieces = 0;
    absl::Status status = tts.Synthesize(
        "Hello there.",
        [&](std::span<const int16_t> pcm) {
          ++pieces;
          audio.insert(audio.end(), pcm.begin(), pcm.end());
        },
        nullptr);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(pieces, 3);
    ASSERT_EQ(audio.size(), 3 * 1600u);
    for (int i = 0; i < 4800; i += 397) EXPECT_EQ(audio[i], FakeCartesia::SampleAt(i)) << i;
  }
  EXPECT_EQ(fake.accepted(), 1);  // the preconnected socket served both
  Recorded r = fake.recorded();
  EXPECT_EQ(r.upgrades[0].Header("x-api-key"), "cartesia-key");
  EXPECT_EQ(r.upgrades[0].Header("cartesia-version"), "2024-11-13");
  ASSERT_EQ(r.texts.size(), 2u);
  nlohmann::json request = nlohmann::json::parse(r.texts[0]);
  EXPECT_EQ(request["model_id"], "sonic-2");
  EXPECT_EQ(request["transcript"], "Hello there.");
  EXPECT_EQ(request["voice"]["mode"], "id");
  EXPECT_EQ(request["voice"]["id"], "voice-1");
  EXPECT_EQ(request["language"], "en");
  EXPECT_EQ(request["continue"], false);
  EXPECT_EQ(request["output_format"]["encoding"], "pcm_s16le");
  EXPECT_EQ(request["output_format"]["sample_rate"], 16000);
  EXPECT_NE(request["context_id"], nlohmann::json::parse(r.texts[1])["context_id"]);
}

TEST(CartesiaTts, CancelStopsTheContextUpstreamAndKeepsTheConnection) {
  FakeCartesia fake({.chunks = 50, .wait_for_cancel = true});
  CartesiaTts tts(OptionsFor(fake));
  speech::CancelFlag cancel;
  int pieces = 0;
  absl::Status status = tts.Synthesize(
      "A long answer.",
      [&](std::span<const int16_t>) {
        ++pieces;
        cancel.Cancel();  // the callee barges in during the first audio
      },
      &cancel);
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(pieces, 1);
  ASSERT_TRUE(fake.WaitFor([](const Recorded& r) { return r.texts.size() == 2; }));
  Recorded r = fake.recorded();
  nlohmann::json generate = nlohmann::json::parse(r.texts[0]);
  nlohmann::json stop = nlohmann::json::parse(r.texts[1]);
  EXPECT_EQ(stop["cancel"], true);
  EXPECT_EQ(stop["context_id"], generate["context_id"]);
  EXPECT_EQ(tts.idle_connections(), 1);
}

TEST(CartesiaTts, WrongKeyIsUnauthenticated) {
  FakeCartesia fake({});
  CartesiaTts tts(OptionsFor(fake, "wrong"));
  absl::Status status = tts.Synthesize(
      "Hi.", [](std::span<const int16_t>) {}, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
}

TEST(CartesiaTts, ErrorMessageMapsItsStatusCode) {
  for (auto [code, want] : {std::pair{500, absl::StatusCode::kUnavailable},
                            std::pair{429, absl::StatusCode::kResourceExhausted}}) {
    FakeCartesia fake({.failure = Failure::kError, .error_status = code});
    CartesiaTts tts(OptionsFor(fake));
    absl::Status status = tts.Synthesize(
        "Hi.", [](std::span<const int16_t>) {}, nullptr);
    EXPECT_EQ(status.code(), want) << status;
    EXPECT_NE(status.message().find("generation failed"), std::string::npos) << status;
  }
}

TEST(CartesiaTts, DropMidStreamIsUnavailable) {
  FakeCartesia fake({.failure = Failure::kDropMidStream});
  CartesiaTts tts(OptionsFor(fake));
  int pieces = 0;
  absl::Status status = tts.Synthesize(
      "Hi.", [&](std::span<const int16_t>) { ++pieces; }, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(pieces, 1);
  EXPECT_EQ(tts.idle_connections(), 0);
}

TEST(CartesiaTts, NoVoiceIsFailedPrecondition) {
  CartesiaTts tts({.url = "ws://127.0.0.1:1/tts/websocket", .api_key = "k"});
  EXPECT_EQ(tts.Synthesize(
                   "Hi.", [](std::span<const int16_t>) {}, nullptr)
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace parley::speechws
