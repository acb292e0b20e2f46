// The worker builds the HTTP providers by template name (RegisterNetworkProviders) and they reach
// their servers: ollama on the native /api/chat, piper's POST /, the openai transcription
// endpoint with the template's credential; a provider that needs a key and has none is skipped
// for its fallback with the reason. Local servers stand in for the providers (common/llm/testing).
#include "services/worker/voice/network_providers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/audio/wav.h"
#include "common/llm/testing/fake_openai_server.h"

namespace parley::worker {
namespace {

using llm::testing::FakeOpenAiServer;
using llm::testing::ScriptedResponse;
using ::testing::HasSubstr;

TEST(NetworkProvidersTest, LanBoxProvidersReachTheirServers) {
  FakeOpenAiServer ollama, piper, whisper;
  ProviderRegistry registry;
  RegisterNetworkProviders(registry);

  parley::v1::TemplateSpec spec;
  spec.mutable_stt()->set_provider("openai");
  spec.mutable_stt()->set_base_url(whisper.base_url());
  spec.mutable_stt()->set_credential("stt-key");
  spec.mutable_llm()->set_provider("ollama");
  spec.mutable_llm()->set_base_url(absl::StrCat("http://127.0.0.1:", ollama.port()));
  spec.mutable_llm()->set_model("llama3.1:8b");
  spec.mutable_tts()->set_provider("piper");
  spec.mutable_tts()->set_base_url(absl::StrCat("http://127.0.0.1:", piper.port()));
  spec.mutable_tts()->set_voice("en_US-lessac-medium");
  Credentials credentials;
  credentials["stt-key"] = "sk-stt";
  auto providers = registry.Build(spec, credentials, nullptr);
  ASSERT_TRUE(providers.ok()) << providers.status();

  ollama.Enqueue([] {
    ScriptedResponse r;
    r.content_type = "application/x-ndjson";
    r.streamed = true;
    r.writes = {
        {absl::ZeroDuration(), R"({"message":{"role":"assistant","content":"Hi."},"done":false})"
                               "\n"},
        {absl::ZeroDuration(), R"({"done":true,"done_reason":"stop"})"
                               "\n"}};
    return r;
  }());
  auto reply = providers->llm->Chat(
      {.messages = {{.role = "user", .content = "Hello"}}}, [](std::string_view) {}, nullptr);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text, "Hi.");
  EXPECT_EQ(ollama.requests()[0].path, "/api/chat");

  std::vector<int16_t> tone(1600, 1000);
  ScriptedResponse wav = ScriptedResponse::Json(200, audio::EncodeWav(tone, 16000));
  wav.content_type = "audio/wav";
  piper.Enqueue(wav);
  int samples = 0;
  ASSERT_TRUE(
      providers->tts
          ->Synthesize(
              "Hello.",
              [&](std::span<const int16_t> pcm) { samples += static_cast<int>(pcm.size()); },
              nullptr)
          .ok());
  EXPECT_EQ(samples, 1600);
  EXPECT_EQ(piper.requests()[0].json["voice"], "en_US-lessac-medium");

  whisper.Enqueue(ScriptedResponse::Json(200, R"({"text":"yes"})"));
  auto session = providers->stt->StartSession({.language = "en-US"});
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE((*session)->StartUtterance().ok());
  ASSERT_TRUE((*session)->Push(tone).ok());
  auto text = (*session)->EndUtterance();
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "yes");
  EXPECT_EQ(whisper.requests()[0].Header("authorization"), "Bearer sk-stt");
}

TEST(NetworkProvidersTest, MissingKeyFallsBackNamingTheCredential) {
  FakeOpenAiServer piper;
  ProviderRegistry registry;
  RegisterNetworkProviders(registry);
  parley::v1::TemplateSpec spec;
  spec.mutable_stt()->set_provider("openai");
  spec.mutable_stt()->set_credential("stt-key");
  spec.mutable_llm()->set_provider("ollama");
  spec.mutable_llm()->set_model("m");
  spec.mutable_tts()->set_provider("elevenlabs");
  spec.mutable_tts()->set_voice("v");
  auto* fallback = spec.mutable_tts()->add_fallbacks();
  fallback->set_provider("piper");
  fallback->set_base_url(absl::StrCat("http://127.0.0.1:", piper.port()));
  Credentials credentials;
  credentials["stt-key"] = "sk";
  std::vector<Fallback> seen;
  auto providers = registry.Build(spec, credentials, [&](const Fallback& f) { seen.push_back(f); });
  ASSERT_TRUE(providers.ok()) << providers.status();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].from, "elevenlabs");
  EXPECT_EQ(seen[0].to, "piper");
  EXPECT_THAT(seen[0].error, HasSubstr("no credential \"elevenlabs\""));
}

}  // namespace
}  // namespace parley::worker
