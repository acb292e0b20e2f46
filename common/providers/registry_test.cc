#include "common/providers/registry.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace parley::providers {
namespace {

TEST(ProviderRegistryTest, FindsProvidersByKindAndName) {
  const ProviderInfo* stt = FindProvider(ProviderKind::kStt, "pocketsphinx");
  ASSERT_NE(stt, nullptr);
  EXPECT_TRUE(stt->embedded);
  EXPECT_FALSE(stt->needs_credential);
  EXPECT_EQ(stt->kind, ProviderKind::kStt);

  const ProviderInfo* tts = FindProvider(ProviderKind::kTts, "elevenlabs");
  ASSERT_NE(tts, nullptr);
  EXPECT_FALSE(tts->embedded);
  EXPECT_TRUE(tts->needs_credential);
  EXPECT_FALSE(tts->default_base_url.empty());
}

TEST(ProviderRegistryTest, NameIsScopedToKind) {
  EXPECT_NE(FindProvider(ProviderKind::kTts, "espeak"), nullptr);
  EXPECT_EQ(FindProvider(ProviderKind::kStt, "espeak"), nullptr);
  EXPECT_EQ(FindProvider(ProviderKind::kLlm, "piper"), nullptr);
  // The same name under two kinds is two entries.
  EXPECT_NE(FindProvider(ProviderKind::kStt, "openai"), FindProvider(ProviderKind::kLlm, "openai"));
}

TEST(ProviderRegistryTest, LookupIsExact) {
  EXPECT_EQ(FindProvider(ProviderKind::kStt, "Deepgram"), nullptr);
  EXPECT_EQ(FindProvider(ProviderKind::kStt, "deepgram "), nullptr);
  EXPECT_EQ(FindProvider(ProviderKind::kStt, ""), nullptr);
}

TEST(ProviderRegistryTest, ListsNamesInRegistryOrder) {
  EXPECT_EQ(KnownProviderNames(ProviderKind::kStt),
            "pocketsphinx, whisperlive, deepgram, assemblyai, openai");
  EXPECT_EQ(KnownProviderNames(ProviderKind::kTts),
            "espeak, piper, deepgram, elevenlabs, cartesia, openai");
  EXPECT_EQ(KnownProviderNames(ProviderKind::kLlm), "scripted, openai, ollama, groq, cerebras");
}

TEST(ProviderRegistryTest, EachKindHasExactlyOneEmbeddedProvider) {
  for (ProviderKind kind : {ProviderKind::kStt, ProviderKind::kTts, ProviderKind::kLlm}) {
    int embedded = 0;
    for (const ProviderInfo& p : KnownProviders()) {
      if (p.kind == kind && p.embedded) ++embedded;
    }
    EXPECT_EQ(embedded, 1) << KindName(kind);
  }
}

TEST(ProviderRegistryTest, EntriesAreConsistent) {
  std::set<std::pair<ProviderKind, std::string>> seen;
  for (const ProviderInfo& p : KnownProviders()) {
    EXPECT_TRUE(seen.emplace(p.kind, p.name).second) << "duplicate " << p.name;
    EXPECT_FALSE(p.description.empty()) << p.name;
    // Embedded engines need no endpoint and no key; everything else has a default endpoint.
    EXPECT_EQ(p.embedded, p.default_base_url.empty()) << p.name;
    if (p.embedded) {
      EXPECT_FALSE(p.needs_credential) << p.name;
    }
  }
  // LAN servers run without keys.
  EXPECT_FALSE(FindProvider(ProviderKind::kStt, "whisperlive")->needs_credential);
  EXPECT_FALSE(FindProvider(ProviderKind::kTts, "piper")->needs_credential);
  EXPECT_FALSE(FindProvider(ProviderKind::kLlm, "ollama")->needs_credential);
}

TEST(ProviderRegistryTest, KindNames) {
  EXPECT_EQ(KindName(ProviderKind::kStt), "stt");
  EXPECT_EQ(KindName(ProviderKind::kTts), "tts");
  EXPECT_EQ(KindName(ProviderKind::kLlm), "llm");
}

}  // namespace
}  // namespace parley::providers
