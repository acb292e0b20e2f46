#include "common/crypto/secret_box.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace parley::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// 32 bytes 0x00..0x1f in the encodings FromMasterKey accepts.
constexpr char kHexKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kBase64Key[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
// A key whose base64 uses the characters that differ between the alphabets: 0xfb 0xff ... .
constexpr char kHexKeyHigh[] = "fbfffefbfffefbfffefbfffefbfffefbfffefbfffefbfffefbfffefbfffefbff";
constexpr char kBase64StdHigh[] = "+//++//++//++//++//++//++//++//++//++//++/8=";
constexpr char kBase64UrlHigh[] = "-__--__--__--__--__--__--__--__--__--__--_8";

SecretBox MustBox(std::string_view key) {
  auto box = SecretBox::FromMasterKey(key);
  EXPECT_TRUE(box.ok()) << box.status();
  return std::move(box).value();
}

TEST(SecretBoxTest, RoundTrip) {
  const SecretBox box = MustBox(kHexKey);
  for (std::string plaintext : {std::string(""), std::string("sk-live-0123456789abcdef"),
                                std::string(100000, 'x'), std::string("bin\0ary", 7)}) {
    auto sealed = box.Seal(plaintext, "credential/openai");
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_EQ(sealed->size(), plaintext.size() + 29);
    EXPECT_EQ(static_cast<unsigned char>((*sealed)[0]), 0x01);
    auto opened = box.Open(*sealed, "credential/openai");
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(SecretBoxTest, SealsDifferEachTime) {
  const SecretBox box = MustBox(kHexKey);
  auto a = box.Seal("same secret", "ad");
  auto b = box.Seal("same secret", "ad");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(a->substr(1, 12), b->substr(1, 12));  // fresh nonce
}

TEST(SecretBoxTest, CiphertextHidesPlaintext) {
  const SecretBox box = MustBox(kHexKey);
  const std::string plaintext = "sk-proj-THIS-IS-A-VERY-RECOGNISABLE-SECRET";
  auto sealed = box.Seal(plaintext, "ad");
  ASSERT_TRUE(sealed.ok());
  EXPECT_THAT(*sealed, Not(HasSubstr(plaintext)));
  EXPECT_THAT(*sealed, Not(HasSubstr("RECOGNISABLE")));
}

TEST(SecretBoxTest, EveryTamperedByteIsDetected) {
  const SecretBox box = MustBox(kHexKey);
  auto sealed = box.Seal("secret value", "ad");
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    auto opened = box.Open(tampered, "ad");
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
}

TEST(SecretBoxTest, TruncatedOrExtendedIsDetected) {
  const SecretBox box = MustBox(kHexKey);
  auto sealed = box.Seal("secret value", "ad");
  ASSERT_TRUE(sealed.ok());
  for (size_t n : {size_t{0}, size_t{1}, size_t{13}, size_t{28}, sealed->size() - 1}) {
    EXPECT_EQ(box.Open(sealed->substr(0, n), "ad").status().code(), absl::StatusCode::kDataLoss)
        << n;
  }
  EXPECT_EQ(box.Open(*sealed + "x", "ad").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, WrongAssociatedDataIsDetected) {
  const SecretBox box = MustBox(kHexKey);
  auto sealed = box.Seal("secret value", "credential/a");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(box.Open(*sealed, "credential/b").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box.Open(*sealed, "").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, WrongKeyIsDetected) {
  auto sealed = MustBox(kHexKey).Seal("secret value", "ad");
  ASSERT_TRUE(sealed.ok());
  auto opened = MustBox(kHexKeyHigh).Open(*sealed, "ad");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(opened.status().message()), Not(HasSubstr("secret value")));
}

TEST(SecretBoxTest, KeyEncodingsAreEquivalent) {
  auto sealed = MustBox(kHexKey).Seal("v", "ad");
  ASSERT_TRUE(sealed.ok());
  for (const char* key : {kBase64Key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                          "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
                          "  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"}) {
    auto opened = MustBox(key).Open(*sealed, "ad");
    ASSERT_TRUE(opened.ok()) << key;
    EXPECT_EQ(*opened, "v");
  }
  auto high = MustBox(kHexKeyHigh).Seal("w", "ad");
  ASSERT_TRUE(high.ok());
  for (const char* key :
       {kBase64StdHigh, kBase64UrlHigh, "-__--__--__--__--__--__--__--__--__--__--_8=",
        "+//++//++//++//++//++//++//++//++//++//++/8"}) {
    auto opened = MustBox(key).Open(*high, "ad");
    ASSERT_TRUE(opened.ok()) << key;
    EXPECT_EQ(*opened, "w");
  }
}

TEST(SecretBoxTest, RejectsBadKeysWithoutEchoingThem) {
  for (const char* key :
       {"", "00", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",  // 31 bytes
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",        // 33 bytes
        "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",          // not hex
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",      // base64 of 31 bytes
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==",  // base64 of 34 bytes
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",     // wrong padding
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw*Hh8=",      // bad character
        "correct horse battery staple correct horse!"}) {
    auto box = SecretBox::FromMasterKey(key);
    ASSERT_EQ(box.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(box.status().message(),
              "PARLEY_MASTER_KEY: must be 32 bytes as 64 hex characters or base64");
  }
}

TEST(SecretBoxTest, MovedFromBoxRefusesToWork) {
  SecretBox box = MustBox(kHexKey);
  SecretBox moved = std::move(box);
  EXPECT_TRUE(moved.Seal("x", "").ok());
  EXPECT_EQ(box.Seal("x", "").status().code(),  // NOLINT(bugprone-use-after-move)
            absl::StatusCode::kFailedPrecondition);
}

TEST(GenerateMasterKeyTest, ProducesUsableDistinctKeys) {
  const std::string a = GenerateMasterKey();
  const std::string b = GenerateMasterKey();
  EXPECT_THAT(a, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_NE(a, b);
  EXPECT_TRUE(SecretBox::FromMasterKey(a).ok());
}

TEST(MaskSecretTest, KeepsShortVendorPrefixAndLastFour) {
  EXPECT_EQ(MaskSecret("sk-proj-4fQ9x2Lm7Tf3a9"), "sk-…f3a9");
  EXPECT_EQ(MaskSecret("ghp_abcdefghijklmnop1234"), "ghp_…1234");
  EXPECT_EQ(MaskSecret("xai-0123456789abcdef"), "xai-…cdef");
  EXPECT_EQ(MaskSecret("sk_live_51Habcdefgh9876"), "sk_…9876");
}

TEST(MaskSecretTest, NoPrefixWhenSeparatorIsFarOrAbsent) {
  EXPECT_EQ(MaskSecret("AKIAIOSFODNN7EXAMPLE"), "…MPLE");
  EXPECT_EQ(MaskSecret("longprefix-0123456789"), "…6789");
  EXPECT_EQ(MaskSecret("-leading-dash-secret"), "…cret");
}

TEST(MaskSecretTest, ShortSecretsRevealLittle) {
  EXPECT_EQ(MaskSecret("abcdefghijk"), "…jk");  // 11
  EXPECT_EQ(MaskSecret("abcdefgh"), "…gh");     // 8
  EXPECT_EQ(MaskSecret("abcdefg"), "…");        // 7
  EXPECT_EQ(MaskSecret(""), "…");
  EXPECT_EQ(MaskSecret("sk-abcdefgh"), "…gh");  // 11: no prefix either
}

}  // namespace
}  // namespace parley::crypto
