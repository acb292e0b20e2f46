// The WebSocket providers built by template name (RegisterNetworkProviders), against the local
// fake providers of common/speechws/testing — each written from the provider's public docs (see
// fake_providers.h) — and the template's fallback chain taking over when one fails.
#include "services/worker/voice/ws_providers.h"

#include <gtest/gtest.h>

#include "common/speechws/testing/fake_providers.h"
#include "common/speechws/testing/test_audio.h"
#include "services/worker/voice/network_providers.h"

namespace parley::worker {
namespace {

using speechws::testing::Failure;
using speechws::testing::FakeCartesia;
using speechws::testing::FakeDeepgram;
using speechws::testing::FakeWhisperLive;

ProviderRegistry Registry() {
  ProviderRegistry registry;
  RegisterNetworkProviders(registry);
  registry.AddLlm("scripted", [](const parley::v1::LlmConfig&, const Credentials&) {
    return absl::StatusOr<std::shared_ptr<speech::LanguageModel>>(nullptr);
  });
  return registry;
}

parley::v1::TemplateSpec Spec() {
  parley::v1::TemplateSpec spec;
  spec.mutable_llm()->set_provider("scripted");
  return spec;
}

TEST(WsProviders, TemplateFieldsReachTheWire) {
  FakeDeepgram deepgram({.api_key = "dg-secret"});
  FakeCartesia cartesia({.api_key = "ca-secret"});
  parley::v1::TemplateSpec spec = Spec();
  spec.mutable_stt()->set_provider("deepgram");
  spec.mutable_stt()->set_base_url(deepgram.url());
  spec.mutable_stt()->set_model("nova-3");
  spec.mutable_stt()->set_language("en-GB");
  (*spec.mutable_stt()->mutable_options()->mutable_fields())["smart_format"].set_bool_value(true);
  spec.mutable_tts()->set_provider("cartesia");
  spec.mutable_tts()->set_base_url(cartesia.base_url());  // /tts/websocket is appended
  spec.mutable_tts()->set_voice("voice-9");
  spec.mutable_tts()->set_credential("my-cartesia");
  Credentials credentials;
  credentials["deepgram"] = "dg-secret";
  credentials["my-cartesia"] = "ca-secret";
  std::vector<Fallback> fallbacks;
  ProviderRegistry registry = Registry();
  auto providers =
      registry.Build(spec, credentials, [&](const Fallback& f) { fallbacks.push_back(f); });
  ASSERT_TRUE(providers.ok()) << providers.status();
  // Building the call's TTS pre-connects it (the phone is ringing).
  ASSERT_TRUE(cartesia.WaitFor([](const auto& r) { return r.upgrades.size() == 1; }));
  auto session = providers->stt->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  for (const auto& frame : speechws::TestFrames(200)) ASSERT_TRUE((*session)->Push(frame).ok());
  absl::StatusOr<std::string> text = (*session)->EndUtterance();
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "yes please");
  int pieces = 0;
  ASSERT_TRUE(providers->tts
                  ->Synthesize(
                      "Hi.", [&](std::span<const int16_t>) { ++pieces; }, nullptr)
                  .ok());
  EXPECT_EQ(pieces, 3);
  EXPECT_TRUE(fallbacks.empty());
  auto dg = deepgram.recorded().upgrades.at(0);
  EXPECT_EQ(dg.Header("authorization"), "Token dg-secret");
  EXPECT_EQ(dg.Query("model"), "nova-3");
  EXPECT_EQ(dg.Query("language"), "en-GB");
  EXPECT_EQ(dg.Query("smart_format"), "true");
  EXPECT_EQ(cartesia.accepted(), 1);
  EXPECT_EQ(cartesia.recorded().upgrades.at(0).Header("x-api-key"), "ca-secret");
}

TEST(WsProviders, MissingCredentialsAreSkippedAtBuildAndFailASectionWithoutFallback) {
  FakeWhisperLive whisper({});
  parley::v1::TemplateSpec spec = Spec();
  spec.mutable_stt()->set_provider("deepgram");
  parley::v1::SttConfig* fallback = spec.mutable_stt()->add_fallbacks();
  fallback->set_provider("whisperlive");
  fallback->set_base_url(whisper.url());
  spec.mutable_tts()->set_provider("cartesia");
  spec.mutable_tts()->set_voice("v");
  std::vector<Fallback> fallbacks;
  ProviderRegistry registry = Registry();
  auto providers = registry.Build(spec, {}, [&](const Fallback& f) { fallbacks.push_back(f); });
  // No TTS can be built (cartesia has no key and no fallback): the whole call fails, naming it.
  EXPECT_EQ(providers.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(providers.status().message().find("cartesia"), std::string::npos);
  // Deepgram without a key was skipped for WhisperLive before that.
  ASSERT_EQ(fallbacks.size(), 1u);
  EXPECT_EQ(fallbacks[0].from, "deepgram");
  EXPECT_EQ(fallbacks[0].to, "whisperlive");
  EXPECT_NE(fallbacks[0].error.find("no credential"), std::string::npos) << fallbacks[0].error;
}

TEST(WsProviders, RefusedKeysFallBackToTheNextProvider) {
  FakeDeepgram deepgram({.api_key = "right"});
  FakeWhisperLive whisper({.transcript = "yes please"});
  FakeCartesia cartesia({});
  parley::v1::TemplateSpec spec = Spec();
  spec.mutable_stt()->set_provider("deepgram");
  spec.mutable_stt()->set_base_url(deepgram.url());
  parley::v1::SttConfig* stt_fallback = spec.mutable_stt()->add_fallbacks();
  stt_fallback->set_provider("whisperlive");
  stt_fallback->set_base_url(whisper.url());
  spec.mutable_tts()->set_provider("cartesia");
  spec.mutable_tts()->set_base_url(cartesia.url());
  spec.mutable_tts()->set_voice("v");
  spec.mutable_tts()->set_credential("revoked");
  parley::v1::TtsConfig* tts_fallback = spec.mutable_tts()->add_fallbacks();
  tts_fallback->set_provider("cartesia");
  tts_fallback->set_base_url(cartesia.url());
  tts_fallback->set_voice("v");
  Credentials credentials;
  credentials["deepgram"] = "wrong";
  credentials["revoked"] = "old-key";
  credentials["cartesia"] = "cartesia-key";
  std::vector<Fallback> fallbacks;
  absl::Mutex mu;
  ProviderRegistry registry = Registry();
  auto providers = registry.Build(spec, credentials, [&](const Fallback& f) {
    absl::MutexLock lock(&mu);
    fallbacks.push_back(f);
  });
  ASSERT_TRUE(providers.ok()) << providers.status();
  // Deepgram refuses the key: the session comes from WhisperLive.
  auto session = providers->stt->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(whisper.accepted(), 1);
  // Cartesia refuses the revoked key before any audio: the next Cartesia speaks.
  int pieces = 0;
  absl::Status spoken = providers->tts->Synthesize(
      "Hello.", [&](std::span<const int16_t>) { ++pieces; }, nullptr);
  EXPECT_TRUE(spoken.ok()) << spoken;
  EXPECT_EQ(pieces, 3);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(fallbacks.size(), 2u);
  EXPECT_EQ(fallbacks[0].kind, "stt");
  EXPECT_EQ(fallbacks[0].from, "deepgram");
  EXPECT_EQ(fallbacks[0].to, "whisperlive");
  EXPECT_NE(fallbacks[0].error.find("401"), std::string::npos) << fallbacks[0].error;
  EXPECT_EQ(fallbacks[1].kind, "tts");
  EXPECT_NE(fallbacks[1].error.find("401"), std::string::npos) << fallbacks[1].error;
}

TEST(WsProviders, RecogniserDroppedMidCallHandsOverToTheFallback) {
  FakeDeepgram deepgram({.failure = Failure::kDropMidStream});
  FakeWhisperLive whisper({.transcript = "yes please"});
  parley::v1::TemplateSpec spec = Spec();
  spec.mutable_stt()->set_provider("deepgram");
  spec.mutable_stt()->set_base_url(deepgram.url());
  parley::v1::SttConfig* stt_fallback = spec.mutable_stt()->add_fallbacks();
  stt_fallback->set_provider("whisperlive");
  stt_fallback->set_base_url(whisper.url());
  spec.mutable_tts()->set_provider("cartesia");
  spec.mutable_tts()->set_voice("v");
  Credentials credentials;
  credentials["deepgram"] = "dg-key";
  credentials["cartesia"] = "unused";
  std::vector<Fallback> fallbacks;
  absl::Mutex mu;
  ProviderRegistry registry = Registry();
  auto providers = registry.Build(spec, credentials, [&](const Fallback& f) {
    absl::MutexLock lock(&mu);
    fallbacks.push_back(f);
  });
  ASSERT_TRUE(providers.ok()) << providers.status();
  auto session = providers->stt->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->StartUtterance().ok());
  // Deepgram drops after its first interim result; pushes keep succeeding because the chain
  // moves the utterance to WhisperLive.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (whisper.recorded().audio_bytes == 0 && absl::Now() < deadline) {
    for (const auto& frame : speechws::TestFrames(100)) {
      ASSERT_TRUE((*session)->Push(frame).ok());
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GT(whisper.recorded().audio_bytes, 0u);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(fallbacks.size(), 1u);
  EXPECT_EQ(fallbacks[0].from, "deepgram");
  EXPECT_EQ(fallbacks[0].to, "whisperlive");
}

}  // namespace
}  // namespace parley::worker
