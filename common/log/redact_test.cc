#include "common/log/redact.h"

#include <gtest/gtest.h>

namespace parley::log {
namespace {

TEST(MaskPhoneTest, KeepsLastFourDigitsAndPlus) {
  EXPECT_EQ(MaskPhone("+14155552671"), "+*******2671");
  EXPECT_EQ(MaskPhone("(415) 555-2671"), "******2671");
  EXPECT_EQ(MaskPhone("1234"), "****");
  EXPECT_EQ(MaskPhone(""), "");
}

TEST(RedactTextTest, MasksPhoneNumbersInText) {
  EXPECT_EQ(RedactText("calling +14155552671 now"), "calling +*******2671 now");
  EXPECT_EQ(RedactText("dial +44 20 7946 0958."), "dial +********0958.");
  EXPECT_EQ(RedactText("number (415) 555-2671"), "number ******2671");
  EXPECT_EQ(RedactText("local 4155552671"), "local ******2671");
}

TEST(RedactTextTest, LeavesOrdinaryNumbersAlone) {
  EXPECT_EQ(RedactText("listening on 127.0.0.1:50051"), "listening on 127.0.0.1:50051");
  EXPECT_EQ(RedactText("date 2026-11-21 took 1234 ms"), "date 2026-11-21 took 1234 ms");
  EXPECT_EQ(RedactText("attempt 3 of 5"), "attempt 3 of 5");
  EXPECT_EQ(RedactText("call c_0123456789abcdef"), "call c_0123456789abcdef");
}

TEST(RedactTextTest, RedactsBearerTokens) {
  // The header's key redacts its first word and the bearer rule the token: both are gone.
  EXPECT_EQ(RedactText("authorization: Bearer abc.def-123"),
            "authorization: [REDACTED] [REDACTED]");
  EXPECT_EQ(RedactText("sent bearer xyz123456 to host"), "sent bearer [REDACTED] to host");
}

TEST(RedactTextTest, RedactsSecretKeyValues) {
  EXPECT_EQ(RedactText("password=hunter22 user=bob"), "password=[REDACTED] user=bob");
  EXPECT_EQ(RedactText(R"({"api_key":"abcdef123"})"), R"({"api_key":"[REDACTED]"})");
  EXPECT_EQ(RedactText("token: t0ps3cret"), "token: [REDACTED]");
}

TEST(RedactTextTest, RedactsUrlPasswords) {
  EXPECT_EQ(RedactText("pg at postgresql://parley:s3cr3t@127.0.0.1:5432/parley"),
            "pg at postgresql://parley:[REDACTED]@127.0.0.1:5432/parley");
  EXPECT_EQ(RedactText("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
}

TEST(RedactTextTest, RedactsApiKeyShapes) {
  EXPECT_EQ(RedactText("key sk-proj-abcdefghijklmnop1234 used"), "key [REDACTED] used");
  EXPECT_EQ(RedactText("short sk-abc stays"), "short sk-abc stays");
}

TEST(RedactTextTest, RedactsRegisteredSecrets) {
  RegisterSecret("Zq9vLmKp2");
  EXPECT_EQ(RedactText("value Zq9vLmKp2 leaked inside xZq9vLmKp2x"),
            "value [REDACTED] leaked inside x[REDACTED]x");
  RegisterSecret("abc");  // too short to register
  EXPECT_EQ(RedactText("abc"), "abc");
}

TEST(RedactFieldTest, ByKeyName) {
  EXPECT_EQ(RedactField("api_key", "anything"), "[REDACTED]");
  EXPECT_EQ(RedactField("Authorization", "Bearer x"), "[REDACTED]");
  EXPECT_EQ(RedactField("master_key", "k"), "[REDACTED]");
  EXPECT_EQ(RedactField("to", "+14155552671"), "+*******2671");
  EXPECT_EQ(RedactField("from_number", "+14155550000"), "+*******0000");
  EXPECT_EQ(RedactField("call_id", "c_1"), "c_1");
  EXPECT_EQ(RedactField("note", "call +14155552671"), "call +*******2671");
  EXPECT_TRUE(IsSecretKey("DB_PASSWORD"));
  EXPECT_FALSE(IsSecretKey("agent"));
}

}  // namespace
}  // namespace parley::log
