// The `openai` provider against a local server speaking the wire format documented in OpenAI's
// API reference: "Create chat completion" (POST /v1/chat/completions, request fields model,
// messages, tools, stream, temperature, max_tokens; Bearer authentication) with stream=true, its
// "Streaming" section on chunk objects ("chat.completion.chunk": choices[].delta.content,
// delta.tool_calls[] with index/id/function.name/function.arguments fragments, finish_reason,
// terminated by "data: [DONE]"), and "Error codes" for error bodies.
#include "common/llm/openai_chat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

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

std::string ContentChunk(const std::string& text) {
  return json({{"id", "chatcmpl-1"},
               {"object", "chat.completion.chunk"},
               {"model", "test-model"},
               {"choices",
                {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}})
      .dump();
}

std::string FinishChunk(const std::string& reason) {
  return json({{"object", "chat.completion.chunk"},
               {"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", reason}}}}})
      .dump();
}

std::string ToolChunk(json tool_calls) {
  return json({{"object", "chat.completion.chunk"},
               {"choices", {{{"index", 0}, {"delta", {{"tool_calls", tool_calls}}}}}}})
      .dump();
}

class OpenAiChatTest : public ::testing::Test {
 protected:
  std::unique_ptr<OpenAiChat> MakeChat(OpenAiChatOptions options = {}) {
    if (options.base_url.empty()) options.base_url = server_.base_url();
    if (options.model.empty()) options.model = "test-model";
    absl::StatusOr<std::unique_ptr<OpenAiChat>> chat = OpenAiChat::Create(std::move(options));
    EXPECT_TRUE(chat.ok()) << chat.status();
    return chat.ok() ? std::move(*chat) : nullptr;
  }

  // One user turn; returns the result and collects the streamed pieces in `pieces_`.
  absl::StatusOr<speech::ChatResult> Ask(OpenAiChat& chat, speech::ChatRequest request = {},
                                         const speech::CancelFlag* cancel = nullptr) {
    if (request.messages.empty()) request.messages = {{.role = "user", .content = "Hi"}};
    return chat.Chat(
        request, [this](std::string_view piece) { pieces_.emplace_back(piece); }, cancel);
  }

  FakeOpenAiServer server_;
  std::vector<std::string> pieces_;
};

TEST_F(OpenAiChatTest, StreamsTextAndSendsChatCompletionsRequest) {
  server_.Enqueue(ScriptedResponse::Stream({ContentChunk("Hello"), ContentChunk(", how can"),
                                            ContentChunk(" I help?"), FinishChunk("stop")},
                                           {.gap = absl::Milliseconds(5)}));
  auto chat = MakeChat({.api_key = "sk-test",
                        .model = "gpt-test",
                        .temperature = 0.4,
                        .headers = {{"OpenAI-Organization", "org-1"}},
                        .extra_body = {{"seed", 7}}});

  speech::ChatRequest request;
  request.messages = {
      {.role = "system", .content = "You are brief."},
      {.role = "user", .content = "Am I verified?"},
      {.role = "assistant",
       .tool_calls = {{.id = "call_1", .name = "set_state", .arguments = R"({"verified":true})"}}},
      {.role = "tool", .content = R"({"ok":true})", .tool_call_id = "call_1"},
  };
  request.tools = {{.name = "set_state",
                    .description = "Patch the conversation state.",
                    .parameters = {{"type", "object"}, {"properties", json::object()}}}};
  request.max_tokens = 64;
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, request);
  ASSERT_TRUE(result.ok()) << result.status();

  EXPECT_THAT(pieces_, ElementsAre("Hello", ", how can", " I help?"));
  EXPECT_EQ(result->text, "Hello, how can I help?");
  EXPECT_EQ(result->finish_reason, "stop");
  EXPECT_TRUE(result->tool_calls.empty());
  EXPECT_GT(result->first_token, absl::ZeroDuration());

  std::vector<testing::RecordedRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const testing::RecordedRequest& sent = requests[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.path, "/v1/chat/completions");
  EXPECT_EQ(sent.Header("authorization"), "Bearer sk-test");
  EXPECT_EQ(sent.Header("content-type"), "application/json");
  EXPECT_EQ(sent.Header("openai-organization"), "org-1");
  const json& body = sent.json;
  EXPECT_EQ(body["model"], "gpt-test");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["temperature"], 0.4);
  EXPECT_EQ(body["max_tokens"], 64);
  EXPECT_EQ(body["seed"], 7);
  EXPECT_EQ(body["messages"], json::parse(R"([
      {"role":"system","content":"You are brief."},
      {"role":"user","content":"Am I verified?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
        "function":{"name":"set_state","arguments":"{\"verified\":true}"}}]},
      {"role":"tool","content":"{\"ok\":true}","tool_call_id":"call_1"}])"));
  EXPECT_EQ(body["tools"], json::parse(R"([{"type":"function","function":{"name":"set_state",
      "description":"Patch the conversation state.",
      "parameters":{"type":"object","properties":{}}}}])"));
}

TEST_F(OpenAiChatTest, NoAuthorizationHeaderWithoutKeyAndRequestModelWins) {
  server_.Enqueue(ScriptedResponse::Stream({ContentChunk("ok"), FinishChunk("stop")}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, {.model = "other-model"});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].Header("authorization"), "");
  EXPECT_EQ(server_.requests()[0].json["model"], "other-model");
  EXPECT_FALSE(server_.requests()[0].json.contains("tools"));
  EXPECT_FALSE(server_.requests()[0].json.contains("temperature"));
}

TEST_F(OpenAiChatTest, ToolCallArgumentsSplitAcrossChunks) {
  ScriptedResponse stream = ScriptedResponse::Stream({
      ToolChunk({{{"index", 0},
                  {"id", "call_9"},
                  {"type", "function"},
                  {"function", {{"name", "book_appointment"}, {"arguments", ""}}}}}),
      ToolChunk({{{"index", 0}, {"function", {{"arguments", "{\"da"}}}}}),
      ToolChunk({{{"index", 0}, {"function", {{"arguments", "y\":\"Tue"}}}}}),
      ToolChunk({{{"index", 0}, {"function", {{"arguments", "sday\",\"hour\":10}"}}}}}),
      FinishChunk("tool_calls"),
  });
  // Cut the stream's bytes at awkward places: mid-field and mid-line, across TCP writes.
  std::string all;
  for (const auto& write : stream.writes) all += write.bytes;
  stream.writes = {{absl::ZeroDuration(), ": keep-alive\r\n\r\n"},
                   {absl::Milliseconds(2), all.substr(0, 37)},
                   {absl::Milliseconds(2), all.substr(37, 150)},
                   {absl::Milliseconds(2), all.substr(187)}};
  server_.Enqueue(stream);
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(pieces_.empty());
  EXPECT_EQ(result->text, "");
  EXPECT_EQ(result->finish_reason, "tool_calls");
  ASSERT_EQ(result->tool_calls.size(), 1u);
  EXPECT_EQ(result->tool_calls[0].id, "call_9");
  EXPECT_EQ(result->tool_calls[0].name, "book_appointment");
  EXPECT_EQ(result->tool_calls[0].arguments, R"({"day":"Tuesday","hour":10})");
  EXPECT_EQ(json::parse(result->tool_calls[0].arguments)["hour"], 10);
}

TEST_F(OpenAiChatTest, TwoParallelToolCallsAfterText) {
  server_.Enqueue(ScriptedResponse::Stream({
      ContentChunk("One moment."),
      ToolChunk({{{"index", 0},
                  {"id", "call_a"},
                  {"type", "function"},
                  {"function", {{"name", "set_state"}, {"arguments", ""}}}}}),
      ToolChunk({{{"index", 0}, {"function", {{"arguments", "{\"verified\":"}}}}}),
      ToolChunk({{{"index", 1},
                  {"id", "call_b"},
                  {"type", "function"},
                  {"function", {{"name", "end_call"}, {"arguments", ""}}}}}),
      ToolChunk({{{"index", 0}, {"function", {{"arguments", "true}"}}}}}),
      ToolChunk({{{"index", 1}, {"function", {{"arguments", "{}"}}}}}),
      FinishChunk("tool_calls"),
  }));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(pieces_, ElementsAre("One moment."));
  ASSERT_EQ(result->tool_calls.size(), 2u);
  EXPECT_EQ(result->tool_calls[0].id, "call_a");
  EXPECT_EQ(result->tool_calls[0].name, "set_state");
  EXPECT_EQ(result->tool_calls[0].arguments, R"({"verified":true})");
  EXPECT_EQ(result->tool_calls[1].id, "call_b");
  EXPECT_EQ(result->tool_calls[1].name, "end_call");
  EXPECT_EQ(result->tool_calls[1].arguments, "{}");
}

TEST_F(OpenAiChatTest, UnauthorizedCarriesProviderMessage) {
  server_.Enqueue(ScriptedResponse::Json(
      401, R"({"error":{"message":"Incorrect API key provided: sk-bad.","type":
              "invalid_request_error","param":null,"code":"invalid_api_key"}})"));
  auto chat = MakeChat({.api_key = "sk-bad", .provider = "groq"});
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("groq: HTTP 401: Incorrect API key provided: sk-bad."));
  EXPECT_TRUE(pieces_.empty());
}

TEST_F(OpenAiChatTest, HttpErrorsMapToStatusCodes) {
  const std::pair<int, absl::StatusCode> cases[] = {
      {500, absl::StatusCode::kUnavailable},
      {503, absl::StatusCode::kUnavailable},
      {429, absl::StatusCode::kResourceExhausted},
      {400, absl::StatusCode::kInvalidArgument},
  };
  auto chat = MakeChat();
  for (const auto& [http_status, code] : cases) {
    server_.Enqueue(ScriptedResponse::Json(
        http_status, absl::StrCat(R"({"error":{"message":"failure )", http_status, R"("}})")));
    absl::StatusOr<speech::ChatResult> result = Ask(*chat);
    EXPECT_EQ(result.status().code(), code) << http_status;
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr(absl::StrCat("failure ", http_status)));
  }
  // Error responses leave the connection usable.
  EXPECT_EQ(server_.accepted_connections(), 1);
}

TEST_F(OpenAiChatTest, ErrorEventInsideStream) {
  server_.Enqueue(ScriptedResponse::Stream(
      {ContentChunk("Sure"),
       R"({"error":{"message":"The server had an error while processing","type":"server_error"}})"},
      {.send_done = false}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("The server had an error while processing"));
  EXPECT_THAT(pieces_, ElementsAre("Sure"));
}

TEST_F(OpenAiChatTest, DisconnectMidStreamIsUnavailable) {
  server_.Enqueue(ScriptedResponse::Stream(
      {ContentChunk("Let me"), ContentChunk(" check")},
      {.send_done = false, .ending = ScriptedResponse::Ending::kDisconnect}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(pieces_, ElementsAre("Let me", " check"));
}

TEST_F(OpenAiChatTest, CleanEndWithoutDoneOrFinishIsUnavailable) {
  // The chunked body ends properly but the reply never finished.
  server_.Enqueue(ScriptedResponse::Stream({ContentChunk("Let me")}, {.send_done = false}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("before the reply was complete"));
}

TEST_F(OpenAiChatTest, FinishReasonWithoutDoneIsAccepted) {
  // Some servers close the stream after the last chunk without "data: [DONE]".
  server_.Enqueue(ScriptedResponse::Stream(
      {ContentChunk("Bye."), FinishChunk("stop")},
      {.send_done = false, .ending = ScriptedResponse::Ending::kDisconnect}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text, "Bye.");
}

TEST_F(OpenAiChatTest, DoneEndsTheReplyEvenIfTheServerKeepsTheResponseOpen) {
  server_.Enqueue(ScriptedResponse::Stream({ContentChunk("Done."), FinishChunk("stop")},
                                           {.ending = ScriptedResponse::Ending::kStall}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, {.timeout = absl::Seconds(60)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text, "Done.");
  EXPECT_TRUE(server_.WaitForClientCloses(1, absl::Seconds(30)));
}

TEST_F(OpenAiChatTest, CancelDuringStalledStreamClosesConnection) {
  server_.Enqueue(ScriptedResponse::Stream(
      {ContentChunk("Well,")}, {.send_done = false, .ending = ScriptedResponse::Ending::kStall}));
  server_.Enqueue(ScriptedResponse::Stream({ContentChunk("Again."), FinishChunk("stop")}));
  auto chat = MakeChat();
  speech::CancelFlag cancel;
  std::atomic<int64_t> cancelled_at_ns{0};
  std::thread canceller([&] {
    ASSERT_TRUE(server_.WaitForRequests(1, absl::Seconds(30)));
    absl::SleepFor(absl::Milliseconds(100));  // the stream is now stalled after "Well,"
    cancelled_at_ns = absl::GetCurrentTimeNanos();
    cancel.Cancel();
  });
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, {.timeout = absl::Seconds(60)}, &cancel);
  const int64_t returned_at_ns = absl::GetCurrentTimeNanos();
  canceller.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_THAT(pieces_, ElementsAre("Well,"));
  EXPECT_TRUE(server_.WaitForClientCloses(1, absl::Seconds(30)));
  // Informational (no timed assertion): how long the cancel took to stop the call.
  RecordProperty("cancel_to_return_ms",
                 static_cast<int>((returned_at_ns - cancelled_at_ns.load()) / 1000000));
  std::printf("cancel → return: %.1f ms\n", (returned_at_ns - cancelled_at_ns.load()) / 1e6);

  // The handle goes back to the pool in a usable state.
  pieces_.clear();
  absl::StatusOr<speech::ChatResult> again = Ask(*chat);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->text, "Again.");
}

TEST_F(OpenAiChatTest, AlreadyCancelledSendsNothing) {
  auto chat = MakeChat();
  speech::CancelFlag cancel;
  cancel.Cancel();
  EXPECT_EQ(Ask(*chat, {}, &cancel).status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(OpenAiChatTest, StalledStreamTimesOut) {
  server_.Enqueue(ScriptedResponse::Stream(
      {ContentChunk("Hmm")}, {.send_done = false, .ending = ScriptedResponse::Ending::kStall}));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat, {.timeout = absl::Milliseconds(300)});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_TRUE(server_.WaitForClientCloses(1, absl::Seconds(30)));
}

TEST_F(OpenAiChatTest, ReusesConnectionAcrossCalls) {
  for (int i = 0; i < 3; ++i) {
    server_.Enqueue(ScriptedResponse::Stream({ContentChunk("ok"), FinishChunk("stop")}));
  }
  auto chat = MakeChat();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<speech::ChatResult> result = Ask(*chat);
    ASSERT_TRUE(result.ok()) << result.status();
  }
  EXPECT_EQ(server_.accepted_connections(), 1);
  std::vector<testing::RecordedRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& request : requests) EXPECT_EQ(request.connection, 1);
}

TEST_F(OpenAiChatTest, ConcurrentCalls) {
  constexpr int kCalls = 4;
  for (int i = 0; i < kCalls; ++i) {
    server_.Enqueue(
        ScriptedResponse::Stream({ContentChunk("a"), ContentChunk("b"), FinishChunk("stop")},
                                 {.gap = absl::Milliseconds(20)}));
  }
  auto chat = MakeChat();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&] {
      std::string text;
      absl::StatusOr<speech::ChatResult> result = chat->Chat(
          {.messages = {{.role = "user", .content = "Hi"}}},
          [&](std::string_view piece) { text += piece; }, nullptr);
      if (result.ok() && result->text == "ab" && text == "ab") ++ok;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kCalls);
}

TEST_F(OpenAiChatTest, ServerIgnoringStreamAnswersWithOneCompletion) {
  server_.Enqueue(ScriptedResponse::Json(200, R"({"object":"chat.completion","choices":[{
      "index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Plain."}}]})"));
  auto chat = MakeChat();
  absl::StatusOr<speech::ChatResult> result = Ask(*chat);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text, "Plain.");
  EXPECT_THAT(pieces_, ElementsAre("Plain."));
}

TEST_F(OpenAiChatTest, ConnectionRefusedIsUnavailable) {
  std::string base_url;
  {
    FakeOpenAiServer gone;
    base_url = gone.base_url();
  }
  auto chat = MakeChat({.base_url = base_url});
  EXPECT_EQ(Ask(*chat).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(OpenAiChatTest, RejectsBadConfiguration) {
  EXPECT_EQ(OpenAiChat::Create({.base_url = "ftp://x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenAiChat::Create({.base_url = "http://x", .headers = {{"Bad\r\nName", "v"}}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto chat = OpenAiChat::Create({.base_url = server_.base_url()});
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(Ask(**chat).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::llm
