// Reassembly of streamed chat completion chunks, as described in OpenAI's API reference: "Create
// chat completion" with stream=true and "The chat completion chunk object" (delta.content,
// delta.tool_calls[].index/id/function.name/function.arguments, finish_reason).
#include "common/llm/chat_delta.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace parley::llm {
namespace {

using nlohmann::json;

std::string Apply(ChatDeltaAccumulator& reply, const char* chunk) {
  absl::StatusOr<std::string> text = reply.Apply(json::parse(chunk));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(ChatDeltaAccumulatorTest, ConcatenatesContent) {
  ChatDeltaAccumulator reply;
  EXPECT_EQ(Apply(reply, R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})"),
            "");
  EXPECT_FALSE(reply.started());
  EXPECT_EQ(Apply(reply, R"({"choices":[{"index":0,"delta":{"content":"Hel"}}]})"), "Hel");
  EXPECT_TRUE(reply.started());
  EXPECT_EQ(Apply(reply, R"({"choices":[{"index":0,"delta":{"content":"lo."},
                              "finish_reason":null}]})"),
            "lo.");
  EXPECT_FALSE(reply.finished());
  EXPECT_EQ(Apply(reply, R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"), "");
  EXPECT_TRUE(reply.finished());
  Apply(reply, R"({"choices":[],"usage":{"total_tokens":9}})");
  absl::StatusOr<speech::ChatResult> result = std::move(reply).Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text, "Hello.");
  EXPECT_EQ(result->finish_reason, "stop");
  EXPECT_TRUE(result->tool_calls.empty());
}

TEST(ChatDeltaAccumulatorTest, AssemblesParallelToolCallsByIndex) {
  ChatDeltaAccumulator reply;
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"index":0,"id":"call_a","type":"function","function":{"name":"set_state","arguments":""}}]}}]})");
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"index":0,"function":{"arguments":"{\"verif"}}]}}]})");
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"index":1,"id":"call_b","type":"function","function":{"name":"end_call","arguments":""}}]}}]})");
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"index":0,"function":{"arguments":"ied\":true}"}}]}}]})");
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"index":1,"function":{"arguments":"{}"}}]}}]})");
  Apply(reply, R"({"choices":[{"delta":{},"finish_reason":"tool_calls"}]})");
  EXPECT_TRUE(reply.started());
  absl::StatusOr<speech::ChatResult> result = std::move(reply).Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->tool_calls.size(), 2u);
  EXPECT_EQ(result->tool_calls[0].id, "call_a");
  EXPECT_EQ(result->tool_calls[0].name, "set_state");
  EXPECT_EQ(result->tool_calls[0].arguments, R"({"verified":true})");
  EXPECT_EQ(result->tool_calls[1].id, "call_b");
  EXPECT_EQ(result->tool_calls[1].name, "end_call");
  EXPECT_EQ(result->tool_calls[1].arguments, "{}");
  EXPECT_EQ(result->finish_reason, "tool_calls");
}

TEST(ChatDeltaAccumulatorTest, ToleratesMissingIndexRepeatedIdsAndWholeCalls) {
  ChatDeltaAccumulator reply;
  // No index: a new id starts a new call, fragments without id continue the last one.
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"id":"x1","function":{"name":"lookup","arguments":"{\"q\":"}}]}}]})");
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"id":"x1","function":{"name":"lookup","arguments":"1}"}}]}}]})");
  // A whole call in one entry, arguments as an object, no id.
  Apply(reply, R"({"choices":[{"delta":{"tool_calls":[
      {"index":5,"function":{"name":"end_call","arguments":{"reason":"done"}}}]}}]})");
  absl::StatusOr<speech::ChatResult> result = std::move(reply).Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->tool_calls.size(), 2u);
  EXPECT_EQ(result->tool_calls[0].name, "lookup");
  EXPECT_EQ(result->tool_calls[0].arguments, R"({"q":1})");
  EXPECT_EQ(result->tool_calls[1].id, "call_5");
  EXPECT_EQ(result->tool_calls[1].arguments, R"({"reason":"done"})");
}

TEST(ChatDeltaAccumulatorTest, ErrorChunkBecomesStatus) {
  ChatDeltaAccumulator reply("groq");
  absl::StatusOr<std::string> text =
      reply.Apply(json::parse(R"({"error":{"message":"Rate limit reached","type":"tokens",
                              "code":"rate_limit_exceeded"}})"));
  EXPECT_EQ(text.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(text.status().message()), ::testing::HasSubstr("Rate limit reached"));
  EXPECT_THAT(std::string(text.status().message()), ::testing::StartsWith("groq: "));
}

TEST(ChatDeltaAccumulatorTest, ToolCallWithoutNameFails) {
  ChatDeltaAccumulator reply;
  Apply(reply,
        R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]})");
  EXPECT_EQ(std::move(reply).Finish().status().code(), absl::StatusCode::kUnavailable);
}

TEST(ChatDeltaAccumulatorTest, NonStreamedCompletion) {
  ChatDeltaAccumulator reply;
  absl::StatusOr<std::string> text = reply.ApplyCompletion(json::parse(R"({"choices":[{
      "index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"One moment.",
      "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]})"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "One moment.");
  absl::StatusOr<speech::ChatResult> result = std::move(reply).Finish();
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->tool_calls.size(), 1u);
  EXPECT_EQ(result->tool_calls[0].arguments, R"({"a":1})");
  EXPECT_EQ(result->finish_reason, "tool_calls");
}

}  // namespace
}  // namespace parley::llm
