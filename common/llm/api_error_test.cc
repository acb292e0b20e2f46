// Error shapes of OpenAI-compatible servers: OpenAI's API reference ("Error codes": 401, 429, 500,
// 503 with {"error":{"message","type","param","code"}}), llama.cpp server, vLLM and FastAPI.
#include "common/llm/api_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace parley::llm {
namespace {

using ::testing::HasSubstr;

TEST(ApiErrorTest, MapsHttpStatusAndKeepsOpenAiMessage) {
  absl::Status status = StatusFromHttpError(
      "openai", 401,
      R"({"error":{"message":"Incorrect API key provided.","type":"invalid_request_error",
          "param":null,"code":"invalid_api_key"}})");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(), "openai: HTTP 401: Incorrect API key provided. (invalid_api_key)");

  EXPECT_EQ(StatusFromHttpError("openai", 429, "{}").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusFromHttpError("openai", 400, "{}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromHttpError("openai", 404, "{}").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttpError("openai", 500, "{}").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromHttpError("openai", 503, "").code(), absl::StatusCode::kUnavailable);
}

TEST(ApiErrorTest, UnderstandsOtherServersShapes) {
  // llama.cpp server.
  EXPECT_THAT(std::string(StatusFromHttpError("llama", 500,
                                              R"({"error":{"code":500,"message":"model crashed",
                                                  "type":"server_error"}})")
                              .message()),
              HasSubstr("model crashed (server_error)"));
  // vLLM.
  EXPECT_THAT(std::string(StatusFromHttpError("vllm", 400,
                                              R"({"object":"error","message":"bad max_tokens",
                                                  "type":"BadRequestError","code":400})")
                              .message()),
              HasSubstr("bad max_tokens"));
  EXPECT_THAT(std::string(StatusFromHttpError("x", 502, R"({"error":"upstream down"})").message()),
              HasSubstr("upstream down"));
  EXPECT_THAT(
      std::string(StatusFromHttpError("x", 422, R"({"detail":"field required"})").message()),
      HasSubstr("field required"));
  EXPECT_THAT(std::string(StatusFromHttpError("x", 502, "<html>Bad Gateway</html>").message()),
              HasSubstr("<html>Bad Gateway</html>"));
}

TEST(ApiErrorTest, StreamErrorObject) {
  EXPECT_EQ(
      StatusFromErrorObject("x", nlohmann::json::parse(R"({"error":{"message":"m","code":429}})"))
          .code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusFromErrorObject(
                "x", nlohmann::json::parse(R"({"error":{"message":"m","type":"server_error"}})"))
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromErrorObject(
                "x", nlohmann::json::parse(R"({"message":"m","type":"invalid_request_error"})"))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::llm
