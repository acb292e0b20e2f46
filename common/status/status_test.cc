#include "common/status/status.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidField("x", "must be even");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  PARLEY_ASSIGN_OR_RETURN(int half, Half(x));
  PARLEY_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  PARLEY_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusTest, MacrosPropagateFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  absl::StatusOr<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(odd.status().message(), "x: must be even");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(5).ok());
}

TEST(StatusTest, GrpcConversionKeepsCodeAndMessage) {
  for (auto code : {absl::StatusCode::kUnavailable, absl::StatusCode::kAborted,
                    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kNotFound,
                    absl::StatusCode::kUnauthenticated, absl::StatusCode::kPermissionDenied}) {
    absl::Status s(code, "why");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace parley
