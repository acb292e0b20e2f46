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

// One answered call through the voice pipeline with the graph engine (`graph_json`) and the
// `openai` provider against `server`: the recogniser hears `heard`, the synthesiser is a tone,
// the clock and the leg are fakes.
class ModelCall {
 public:
  ModelCall(const FakeOpenAiServer& server, std::string heard, const std::string& graph_json,
            std::string call_id, unsigned seed)
      : stt_(std::make_shared<testing::ListSpeechToText>(std::vector<std::string>{heard})),
        rng_(seed) {
    RegisterNetworkProviders(registry_);
    registry_.AddStt("list", [stt = stt_](const auto&, const auto&) {
      return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(stt);
    });
    registry_.AddTts("tone", [tts = tts_](const auto&, const auto&) {
      return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(tts);
    });
    *config_.mutable_template_() = Struct(
        {{"stt", {{"provider", "list"}}},
         {"tts", {{"provider", "tone"}}},
         {"llm", {{"provider", "openai"}, {"base_url", server.base_url()}, {"model", "llama3"}}}});
    (*config_.mutable_credentials())["openai"] = "sk-test";
    *config_.mutable_agent() = Struct({{"template", "t"}, {"graph", "g"}, {"trunk", "sim"}});
    config_.mutable_graph()->set_name("g");
    *config_.mutable_graph()->mutable_spec() = Struct(nlohmann::json::parse(graph_json));
    call_.call_id = std::move(call_id);
    call_.to = "+14155550100";
  }

  // Creates the pipeline and answers the call; a failure fails the test.
  void Answer() {
    PipelineContext context{.call = &call_, .config = &config_};
    VoicePipelineFactory factory({.providers = &registry_,
                                  .recorder = &recorder_,
                                  .dialogues = MakeEngineDialogue,
                                  .clock = &clock_,
                                  .threaded = false});
    auto pipeline = factory.CreateVoice(context);
    ASSERT_TRUE(pipeline.ok()) << pipeline.status();
    pipeline_ = *std::move(pipeline);
    pipeline_->Prepare();
    pipeline_->OnAnswered(host_);
  }

  // `d` of the callee's audio, 20 ms frames: broadband noise (voiced) or silence.
  void Play(absl::Duration d, bool voiced) {
    for (absl::Duration t; t < d; t += absl::Milliseconds(20)) {
      clock_.Advance(absl::Milliseconds(20));
      audio::PcmFrame frame;
      frame.samples.resize(audio::kFrameSamples);
      if (voiced) {
        for (int16_t& s : frame.samples) {
          s = static_cast<int16_t>(std::uniform_int_distribution<int>(-3000, 3000)(rng_));
        }
      }
      pipeline_->OnAudio(frame);
    }
  }

  VoicePipeline& pipeline() { return *pipeline_; }
  MemoryRecorder& recorder() { return recorder_; }
  testing::FakeHost& host() { return host_; }
  testing::ToneSpeech& tts() { return *tts_; }

 private:
  ProviderRegistry registry_;
  std::shared_ptr<testing::ListSpeechToText> stt_;
  std::shared_ptr<testing::ToneSpeech> tts_ = std::make_shared<testing::ToneSpeech>();
  parley::v1::RuntimeConfig config_;
  calls::CallRecord call_;
  MemoryRecorder recorder_;
  speech::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  testing::FakeLeg leg_{&clock_};
  testing::FakeHost host_{&leg_};
  std::unique_ptr<VoicePipeline> pipeline_;
  std::mt19937 rng_;
};

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

  ModelCall call(server, "yes it arrived yesterday", R"({
    "start_node": "ask", "terminal_nodes": ["thanks"],
    "tools": [{"name": "record_delivery", "kind": "set_state",
               "description": "Record whether the order arrived.",
               "parameters": {"type": "object",
                              "properties": {"delivered": {"type": "boolean"}}}}],
    "nodes": [
      {"name": "ask", "description": "Ask whether the order arrived.",
       "say": ["Hello! Did your order arrive?"], "tools": ["record_delivery"],
       "transitions": [{"condition": "delivered == true", "to": "thanks"}]},
      {"name": "thanks", "description": "Thank the customer.", "say": ["Thanks, goodbye."]}]})",
                 "c_llm", 3);
  ASSERT_NO_FATAL_FAILURE(call.Answer());
  call.Play(absl::Seconds(2), false);  // the greeting plays
  call.Play(absl::Seconds(1), true);   // "yes it arrived yesterday"
  call.Play(absl::Seconds(4), false);  // endpointing, the model's turn, its audio
  PipelineReport report = call.pipeline().Stop("callee_hangup");
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
  for (const auto& patch : call.recorder().patches) delivered |= patch.value("delivered", false);
  EXPECT_TRUE(delivered);
  bool entered_thanks = false;
  for (const auto& [type, detail] : call.host().events()) {
    if (type == "node" && detail.count("node") && detail.at("node") == "thanks") {
      entered_thanks = true;
    }
  }
  EXPECT_TRUE(entered_thanks);

  // The streamed text is what was spoken and recorded.
  std::string agent_text;
  for (const auto& t : call.recorder().turns) {
    if (t.role() == parley::v1::ROLE_AGENT) absl::StrAppend(&agent_text, t.text(), "\n");
  }
  EXPECT_TRUE(absl::StrContains(agent_text, "Wonderful, I've noted that it arrived. Thank you!"))
      << agent_text;
  EXPECT_GT(call.tts().calls(), 1);
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

  ModelCall call(server, "can I talk to sales please", R"({
    "start_node": "ask", "terminal_nodes": ["bye"],
    "tools": [{"name": "to_sales", "kind": "transfer", "transfer_to": "+14155552671",
               "description": "Transfer the caller to the sales team."}],
    "nodes": [
      {"name": "ask", "description": "Ask how to help.", "say": ["Hello! How can I help?"],
       "tools": ["to_sales"], "transitions": [{"condition": "done == true", "to": "bye"}]},
      {"name": "bye", "say": ["Goodbye."]}]})",
                 "c_transfer", 5);
  ASSERT_NO_FATAL_FAILURE(call.Answer());
  call.Play(absl::Seconds(2), false);  // the greeting plays
  call.Play(absl::Seconds(1), true);   // "can I talk to sales please"
  call.Play(absl::Seconds(4), false);  // endpointing, the model's turn, its audio
  call.pipeline().Stop("transfer");

  EXPECT_EQ(call.host().transferred_to(), "+14155552671");
  ASSERT_TRUE(call.host().ended().has_value());
  EXPECT_EQ(call.host().ended()->reason, "transfer");
  std::string event_to;
  for (const auto& [type, detail] : call.host().events()) {
    if (type == "transfer" && detail.count("to")) event_to = detail.at("to");
  }
  EXPECT_EQ(event_to, "+14155552671");
}

}  // namespace
}  // namespace parley::worker
