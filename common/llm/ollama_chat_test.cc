// The `ollama` provider against a local server speaking Ollama's native chat API as documented in
// https://github.com/ollama/ollama/blob/main/docs/api.md ("Generate a chat completion": POST
// /api/chat with model, messages, tools, stream, options; a streamed answer is
// application/x-ndjson, one JSON object per line with message.content pieces, then a final
// object with "done": true and done_reason; errors are {"error": "…"}) and the tool-streaming
// example of https://ollama.com/blog/streaming-tool (message.tool_calls[].function.name and an
// `arguments` object, arriving whole in one line).
#include "common/llm/ollama_chat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/llm/testing/fake_openai_server.h"

namespace parley::llm {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using testing::FakeOpenAiServer;
using ::testing::HasSubstr;
using testing::ScriptedResponse;

std::string Piece(const std::string& text) {
  return json({{"model", "llama3.1"},
               {"created_at", "2026-11-21T13:00:00Z"},
               {"message", {{"role", "assistant"}, {"content", text}}},
               {"done", false}})
             .dump() +
         "\n";
}

std::string Done(const std::string& reason = "stop") {
  return json({{"model", "llama3.1"},
               {"message", {{"role", "assistant"}, {"content", ""}}},
               {"done", true},
               {"done_reason", reason},
               {"total_duration", 123456},
               {"eval_count", 7}})
             .dump() +
         "\n";
}

// A 200 application/x-ndjson stream of `lines` (each already newline-terminated), one chunk per
// write (a line may be split across writes by passing it in pieces).
ScriptedResponse Ndjson(std::vector<std::string> writes,
                        ScriptedResponse::Ending ending = ScriptedResponse::Ending::kComplete,
                        absl::Duration gap = absl::ZeroDuration()) {
  ScriptedResponse response;
  response.content_type = "application/x-ndjson";
  response.streamed = true;
  response.ending = ending;
  for (std::string& write : writes) response.writes.push_back({gap, std::move(write)});
  return response;
}

class OllamaChatTest : public ::testing::Test {
 protected:
  std::unique_ptr<OllamaChat> MakeChat(OllamaChatOptions options = {}) {
    options.base_url = absl::StrCat("http://127.0.0.1:", server_.port());
    if (options.model.empty()) options.model = "llama3.1";
    auto chat = OllamaChat::Create(std::move(options));
    EXPECT_TRUE(chat.ok()) << chat.status();
    return chat.ok() ? std::move(*chat) : nullptr;
  }
  absl::StatusOr<speech::ChatResult> Ask(OllamaChat& chat, speech::ChatRequest request = {},
                                         const speech::CancelFlag* cancel = nullptr) {
    if (request.messages.empty()) request.messages = {{.role = "user", .content = "Hi"}};
    return chat.Chat(
        request, [this](std::string_view piece) { pieces_.emplace_back(piece); }, cancel);
  }

  FakeOpenAiServer server_;
  std::vector<std::string> pieces_;
};

TEST_F(OllamaChatTest, StreamsNdjsonAndSendsNativeChatRequest) {
  // The second line arrives split across two writes.
  std::string second = Piece(", how can I help?");
  server_.Enqueue(Ndjson({Piece("Hello"), second.substr(0, 10), second.substr(10), Done()},
                         ScriptedResponse::Ending::kComplete, absl::Milliseconds(5)));
  auto chat = MakeChat({.temperature = 0.3,
                        .max_tokens = 50,
                        .extra_body = {{"keep_alive", "30m"}, {"options", {{"num_ctx", 4096}}}}});
  absl::StatusOr<speech::ChatResult> result =
      Ask(*chat, {.messages = {{.role = "system", .content = "Be brief."},
                               {.role = "user", .content = "Hi"}}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text, "Hello, how can I help?");
  EXPECT_EQ(result->finish_reason, "stop");
  EXPECT_THAT(pieces_, ElementsAre("Hello", ", how can I help?"));

  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/api/chat");
  EXPECT_EQ(requests[0].Header("authorization"), "");  // Ollama has no authentication
  const json& body = requests[0].json;
  EXPECT_EQ(body["model"], "llama3.1");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["messages"][0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(body["options"]["temperature"], 0.3);
  EXPECT_EQ(body["options"]["num_predict"], 50);
  EXPECT_EQ(body["options"]["num_ctx"], 4096);
  EXPECT_EQ(body["keep_alive"], "30m");
}

TEST_F(OllamaChatTest, ToolCallsArriveWholeWithObjectArgumentsAndGoBackInHistory) {
  server_.Enqueue(Ndjson(
      {json(
           {{"message",
             {{"role", "assistant"},
              {"content", ""},
              {"tool_calls",
               {{{"function", {{"name", "get_weather"}, {"arguments", {{"city", "Toronto"}}}}}}}}}},
            {"done", false}})
               .dump() +
           "\n",
       Done()}));
  auto chat = MakeChat();
  speech::ChatRequest request{
      .messages = {{.role = "user", .content = "Weather?"}},
      .tools = {
          {.name = "get_weather",
           .description = "Weather for a city",
           .parameters = {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}};
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, request);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->tool_calls.size(), 1u);
  EXPECT_EQ(result->tool_calls[0].id, "call_1");
  EXPECT_EQ(result->tool_calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(result->tool_calls[0].arguments), json({{"city", "Toronto"}}));
  EXPECT_EQ(result->finish_reason, "tool_calls");
  EXPECT_TRUE(pieces_.empty());
  const json tools = server_.requests()[0].json["tools"];
  EXPECT_EQ(tools[0]["type"], "function");
  EXPECT_EQ(tools[0]["function"]["name"], "get_weather");
  EXPECT_EQ(tools[0]["function"]["parameters"]["properties"]["city"]["type"], "string");

  // The next turn carries the call (arguments as an object) and its result by tool name.
  request.messages.push_back({.role = "assistant", .tool_calls = result->tool_calls});
  request.messages.push_back(
      {.role = "tool", .content = R"({"temp_c": 3})", .tool_call_id = "call_1"});
  server_.Enqueue(Ndjson({Piece("It is 3 degrees."), Done()}));
  ASSERT_TRUE(Ask(*chat, request).ok());
  const json messages = server_.requests()[1].json["messages"];
  EXPECT_EQ(messages[1]["tool_calls"][0]["function"]["arguments"], json({{"city", "Toronto"}}));
  EXPECT_EQ(messages[2]["role"], "tool");
  EXPECT_EQ(messages[2]["tool_name"], "get_weather");
  EXPECT_EQ(messages[2]["content"], R"({"temp_c": 3})");
}

TEST_F(OllamaChatTest, ModelNotFoundIsNotFoundWithOllamasMessage) {
  server_.Enqueue(ScriptedResponse::Json(
      404, R"({"error":"model \"llama9\" not found, try pulling it first"})"));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("try pulling it first"));
}

TEST_F(OllamaChatTest, ErrorLineInsideStreamFails) {
  server_.Enqueue(Ndjson({Piece("Hel"), R"({"error":"llama runner process has terminated"})"
                                        "\n"}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("llama runner process has terminated"));
}

TEST_F(OllamaChatTest, MidStreamDisconnectIsUnavailable) {
  server_.Enqueue(Ndjson({Piece("Hello"), Piece(" there")}, ScriptedResponse::Ending::kDisconnect));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(pieces_, ElementsAre("Hello", " there"));
}

TEST_F(OllamaChatTest, StreamWithoutDoneLineIsIncomplete) {
  server_.Enqueue(Ndjson({Piece("Hello")}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("before the reply was complete"));
}

TEST_F(OllamaChatTest, CancelStopsTheUpstreamRequest) {
  server_.Enqueue(Ndjson({Piece("Well,")}, ScriptedResponse::Ending::kStall));
  server_.Enqueue(Ndjson({Piece("Again."), Done()}));
  auto chat = MakeChat();
  speech::CancelFlag cancel;
  std::thread canceller([&] {
    ASSERT_TRUE(server_.WaitForRequests(1, absl::Seconds(30)));
    absl::SleepFor(absl::Milliseconds(100));
    cancel.Cancel();
  });
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, {.timeout = absl::Seconds(60)}, &cancel);
  canceller.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  // The server saw the connection close: Ollama stops generating when its client goes away.
  EXPECT_TRUE(server_.WaitForClientCloses(1, absl::Seconds(30)));
  pieces_.clear();
  absl::StatusOr<speech::ChatResult> again = Ask(*chat);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->text, "Again.");
}

TEST_F(OllamaChatTest, KeepsTheConnectionWarm) {
  server_.Enqueue(Ndjson({Piece("One."), Done()}));
  server_.Enqueue(Ndjson({Piece("Two."), Done()}));
  auto chat = MakeChat();
  ASSERT_TRUE(Ask(*chat).ok());
  ASSERT_TRUE(Ask(*chat).ok());
  EXPECT_EQ(server_.accepted_connections(), 1);
}

TEST_F(OllamaChatTest, BaseUrlWithV1SuffixStillReachesNativeApi) {
  server_.Enqueue(Ndjson({Piece("Ok."), Done()}));
  auto chat = OllamaChat::Create(
      {.base_url = absl::StrCat("http://127.0.0.1:", server_.port(), "/v1"), .model = "m"});
  ASSERT_TRUE(chat.ok());
  ASSERT_TRUE(Ask(**chat).ok());
  EXPECT_EQ(server_.requests()[0].path, "/api/chat");
}

}  // namespace
}  // namespace parley::llm
