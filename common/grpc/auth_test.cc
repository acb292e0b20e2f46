#include "common/grpc/auth.h"

#include <gtest/gtest.h>

#include "common/log/redact.h"

namespace parley::grpcx {
namespace {

TEST(TokenAuthTest, ParsesNamedAndAnonymousEntries) {
  auto auth = TokenAuth::Parse("crm:crm-token-1:calls, ops-token-22:calls+config");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->enabled());
  auto crm = auth->Check("Bearer crm-token-1", kScopeCalls);
  ASSERT_TRUE(crm.ok()) << crm.status();
  EXPECT_EQ(crm->name, "crm");
  auto ops = auth->Check("bearer ops-token-22", kScopeConfig);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->name, "token1");
}

TEST(TokenAuthTest, DeniesMissingUnknownAndMalformed) {
  auto auth = *TokenAuth::Parse("crm:crm-token-1:calls");
  EXPECT_EQ(auth.Check("", kScopeCalls).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check("Bearer nope-nope-nope", kScopeCalls).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check("Basic crm-token-1", kScopeCalls).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check("Bearer crm-token-", kScopeCalls).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TokenAuthTest, WrongScopeIsPermissionDenied) {
  auto auth = *TokenAuth::Parse("crm:crm-token-1:calls");
  auto denied = auth.Check("Bearer crm-token-1", kScopeConfig);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("lacks scope \"config\""), std::string::npos);
  // The error names the token, never the token's value.
  EXPECT_EQ(denied.status().message().find("crm-token-1"), std::string::npos);
}

TEST(TokenAuthTest, ServiceScopeImpliesEveryScope) {
  auto auth = *TokenAuth::Parse("worker:svc-token-9:service");
  EXPECT_TRUE(auth.Check("Bearer svc-token-9", kScopeCalls).ok());
  EXPECT_TRUE(auth.Check("Bearer svc-token-9", kScopeConfig).ok());
  EXPECT_TRUE(auth.Check("Bearer svc-token-9", kScopeService).ok());
}

TEST(TokenAuthTest, RejectsBadSpecsNamingTheEntry) {
  auto bad_scope = TokenAuth::Parse("a:aaaaaaaa:calls,b:bbbbbbbb:root");
  ASSERT_FALSE(bad_scope.ok());
  EXPECT_EQ(bad_scope.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_scope.status().message().find("PARLEY_API_TOKENS[1]"), std::string::npos);
  EXPECT_FALSE(TokenAuth::Parse("just-a-token").ok());
  EXPECT_FALSE(TokenAuth::Parse("x:short:calls").ok());
}

TEST(TokenAuthTest, EmptySpecDisablesAuth) {
  auto auth = TokenAuth::Parse("");
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE(auth->enabled());
  auto anyone = auth->Check("", kScopeService);
  ASSERT_TRUE(anyone.ok());
  EXPECT_EQ(anyone->name, "anonymous");
}

TEST(TokenAuthTest, TokensAreRegisteredWithTheRedactor) {
  ASSERT_TRUE(TokenAuth::Parse("n:redact-me-please:calls").ok());
  EXPECT_EQ(log::RedactText("leaked redact-me-please here"), "leaked [REDACTED] here");
}

}  // namespace
}  // namespace parley::grpcx
