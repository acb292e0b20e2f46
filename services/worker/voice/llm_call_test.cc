// A call whose replies come from a language model: the pipeline with the graph engine and the
// `openai` (OpenAI-compatible) provider against a local server speaking the Chat Completions
// streaming format (common/llm/testing). The model calls a set_state tool, the state patch goes
// to the recorder, routing follows the state it wrote, and its streamed text is what the callee
// hears and what the transcript keeps. Runs on a fake clock (the HTTP is real, on loopback).
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/match.h"
#include "common/json/struct_convert.h"
#include "common/llm/testing/fake_openai_server.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/network_providers.h"
#include "services/worker/voice/testing/fake_leg.h"
#include "services/worker/voice/testing/instant_providers.h"
#include "services/worker/voice/testing/memory_recorder.h"
#include "services/worker/voice/voice_pipeline.h"

namespace parley::worker {
namespace {

using llm::testing::FakeOpenAiServer;
using llm::testing::ScriptedResponse;
using testing::MemoryRecorder;

google::protobuf::Struct Struct(const nlohmann::json& j) { return *json::JsonToStruct(j, "spec"); }

TEST(LlmCallTest, ModelToolWritesStateRoutesAndItsTextIsSpoken) {
  FakeOpenAiServer server;
  // Turn 1: the model records the answer with the tool, then says a sentence.
  server.Enqueue(ScriptedResponse::Stream(
      {R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"record_delivery","arguments":"{\"delivered\":"}}]}}]})",
       R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" true}"}}]}}]})",
       R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"}));
  server.Enqueue(ScriptedResponse::Stream(
      {R"({"choices":[{"index":0,"delta":{"content":"Wonderful, I've noted"}}]})",
       R"({"choices":[{"index":0,"delta":{"content":" that it arrived. Thank you!"}}]})",
       R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"}));
  // At the end: the summary.
  server.Enqueue(ScriptedResponse::Stream(
      {R"({"choices":[{"index":0,"delta":{"content":"The customer confirmed delivery."}}]})",
       R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"}));

  ProviderRegistry registry;
  RegisterNetworkProviders(registry);
  auto stt = std::make_shared<testing::ListSpeechToText>(
      std::vector<std::string>{"yes it arrived yesterday"});
  auto tts = std::make_shared<testing::ToneSpeech>();
  registry.AddStt("list", [stt](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(stt);
  });
  registry.AddTts("tone", [tts](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(tts);
  });

  parley::v1::RuntimeConfig config;
  *config.mutable_template_() = Struct(
      {{"stt", {{"provider", "list"}}},
       {"tts", {{"provider", "tone"}}},
       {"llm", {{"provider", "openai"}, {"base_url", server.base_url()}, {"model", "llama3"}}}});
  (*config.mutable_credentials())["openai"] = "sk-test";
  *config.mutable_agent() = Struct({{"template", "t"}, {"graph", "g"}, {"trunk", "sim"}});
  config.mutable_graph()->set_name("g");
  *config.mutable_graph()->mutable_spec() = Struct(nlohmann::json::parse(R"({
    "start_node": "ask", "terminal_nodes": ["thanks"],
    "tools": [{"name": "record_delivery", "kind": "set_state",
               "description": "Record whether the order arrived.",
               "parameters": {"type": "object",
                              "properties": {"delivered": {"type": "boolean"}}}}],
    "nodes": [
      {"name": "ask", "description": "Ask whether the order arrived.",
       "say": ["Hello! Did your order arrive?"], "tools": ["record_delivery"],
       "transitions": [{"condition": "delivered == true", "to": "thanks"}]},
      {"name": "thanks", "description": "Thank the customer.", "say": ["Thanks, goodbye."]}]})"));

  calls::CallRecord call;
  call.call_id = "c_llm";
  call.to = "+14155550100";
  PipelineContext context{.call = &call, .config = &config};
  MemoryRecorder recorder;
  speech::FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  VoicePipelineFactory factory({.providers = &registry,
                                .recorder = &recorder,
                                .dialogues = MakeEngineDialogue,
                                .clock = &clock,
                                .threaded = false});
  auto pipeline = factory.CreateVoice(context);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  testing::FakeLeg leg(&clock);
  testing::FakeHost host(&leg);
  (*pipeline)->Prepare();
  (*pipeline)->OnAnswered(host);

  std::mt19937 rng(3);
  auto play = [&](absl::Duration d, bool voiced) {
    for (absl::Duration t; t < d; t += absl::Milliseconds(20)) {
      clock.Advance(absl::Milliseconds(20));
      audio::PcmFrame frame;
      frame.samples.resize(audio::kFrameSamples);
      if (voiced) {
        for (int16_t& s : frame.samples) {
          s = static_cast<int16_t>(std::uniform_int_distribution<int>(-3000, 3000)(rng));
        }
      }
      (*pipeline)->OnAudio(frame);
    }
  };
  play(absl::Seconds(2), false);  // the greeting plays
  play(absl::Seconds(1), true);   // "yes it arrived yesterday"
  play(absl::Seconds(4), false);  // endpointing, the model's turn, its audio
  PipelineReport report = (*pipeline)->Stop("callee_hangup");
  // With a model, the end-of-call summary is the model's.
  EXPECT_EQ(report.summary, "The customer confirmed delivery.");

  // Model requests: the tool round, then the text, then the summary; the first carried the
  // node's tool.
  std::vector<llm::testing::RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].path, "/v1/chat/completions");
  EXPECT_EQ(requests[0].json["model"], "llama3");
  EXPECT_EQ(requests[0].json["tools"][0]["function"]["name"], "record_delivery");
  EXPECT_TRUE(absl::StrContains(requests[0].body, "yes it arrived yesterday"));

  // The tool's patch went to the state service; routing followed it.
  bool delivered = false;
  for (const auto& patch : recorder.patches) delivered |= patch.value("delivered", false);
  EXPECT_TRUE(delivered);
  bool entered_thanks = false;
  for (const auto& [type, detail] : host.events()) {
    if (type == "node" && detail.count("node") && detail.at("node") == "thanks") {
      entered_thanks = true;
    }
  }
  EXPECT_TRUE(entered_thanks);

  // The streamed text is what was spoken and recorded.
  std::string agent_text;
  for (const auto& t : recorder.turns) {
    if (t.role() == parley::v1::ROLE_AGENT) absl::StrAppend(&agent_text, t.text(), "\n");
  }
  EXPECT_TRUE(absl::StrContains(agent_text, "Wonderful, I've noted that it arrived. Thank you!"))
      << agent_text;
  EXPECT_GT(tts->calls(), 1);
}

// The model calls the graph's `transfer` tool (kind "transfer", its target from the graph, not
// from the model): after the turn's audio the pipeline asks its host to transfer the call there
// (PipelineHost::TransferCall; on a SIP leg the session sends REFER) and records a "transfer"
// event with the target.
TEST(LlmCallTest, TransferToolAsksTheHostToTransferToTheConfiguredTarget) {
  FakeOpenAiServer server;
  server.Enqueue(ScriptedResponse::Stream(
      {R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"to_sales","arguments":"{\"to\": \"+19999999999\"}"}}]}}]})",
       R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"}));
  server.Enqueue(ScriptedResponse::Stream(
      {R"({"choices":[{"index":0,"delta":{"content":"Connecting you to sales now."}}]})",
       R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"}));
  server.Enqueue(ScriptedResponse::Stream(
      {R"({"choices":[{"index":0,"delta":{"content":"Transferred to sales."}}]})",
       R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"}));

  ProviderRegistry registry;
  RegisterNetworkProviders(registry);
  auto stt = std::make_shared<testing::ListSpeechToText>(
      std::vector<std::string>{"can I talk to sales please"});
  auto tts = std::make_shared<testing::ToneSpeech>();
  registry.AddStt("list", [stt](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(stt);
  });
  registry.AddTts("tone", [tts](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(tts);
  });
  parley::v1::RuntimeConfig config;
  *config.mutable_template_() = Struct(
      {{"stt", {{"provider", "list"}}},
       {"tts", {{"provider", "tone"}}},
       {"llm", {{"provider", "openai"}, {"base_url", server.base_url()}, {"model", "llama3"}}}});
  (*config.mutable_credentials())["openai"] = "sk-test";
  *config.mutable_agent() = Struct({{"template", "t"}, {"graph", "g"}, {"trunk", "sim"}});
  config.mutable_graph()->set_name("g");
  *config.mutable_graph()->mutable_spec() = Struct(nlohmann::json::parse(R"({
    "start_node": "ask", "terminal_nodes": ["bye"],
    "tools": [{"name": "to_sales", "kind": "transfer", "transfer_to": "+14155552671",
               "description": "Transfer the caller to the sales team."}],
    "nodes": [
      {"name": "ask", "description": "Ask how to help.", "say": ["Hello! How can I help?"],
       "tools": ["to_sales"], "transitions": [{"condition": "done == true", "to": "bye"}]},
      {"name": "bye", "say": ["Goodbye."]}]})"));

  calls::CallRecord call;
  call.call_id = "c_transfer";
  call.to = "+14155550100";
  PipelineContext context{.call = &call, .config = &config};
  MemoryRecorder recorder;
  speech::FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  VoicePipelineFactory factory({.providers = &registry,
                                .recorder = &recorder,
                                .dialogues = MakeEngineDialogue,
                                .clock = &clock,
                                .threaded = false});
  auto pipeline = factory.CreateVoice(context);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  testing::FakeLeg leg(&clock);
  testing::FakeHost host(&leg);
  (*pipeline)->Prepare();
  (*pipeline)->OnAnswered(host);
  std::mt19937 rng(5);
  auto play = [&](absl::Duration d, bool voiced) {
    for (absl::Duration t; t < d; t += absl::Milliseconds(20)) {
      clock.Advance(absl::Milliseconds(20));
      audio::PcmFrame frame;
      frame.samples.resize(audio::kFrameSamples);
      if (voiced) {
        for (int16_t& s : frame.samples) {
          s = static_cast<int16_t>(std::uniform_int_distribution<int>(-3000, 3000)(rng));
        }
      }
      (*pipeline)->OnAudio(frame);
    }
  };
  play(absl::Seconds(2), false);  // the greeting plays
  play(absl::Seconds(1), true);   // "can I talk to sales please"
  play(absl::Seconds(4), false);  // endpointing, the model's turn, its audio
  (*pipeline)->Stop("transfer");

  EXPECT_EQ(host.transferred_to(), "+14155552671");
  ASSERT_TRUE(host.ended().has_value());
  EXPECT_EQ(host.ended()->reason, "transfer");
  std::string event_to;
  for (const auto& [type, detail] : host.events()) {
    if (type == "transfer" && detail.count("to")) event_to = detail.at("to");
  }
  EXPECT_EQ(event_to, "+14155552671");
}

}  // namespace
}  // namespace parley::worker
