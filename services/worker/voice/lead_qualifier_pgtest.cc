// A whole call, offline, end to end: the lead-qualifier example agent (deploy/examples, as
// shipped, on the embedded providers: pocketsphinx, the scripted policy, espeak) dials the
// simulated callee (the cooperative-lead persona, speaking with espeak-ng over the gRPC media
// protocol) through an in-process worker running the voice pipeline, against config-api and state
// over a scratch Postgres database and Redis. The call must walk the graph greet → verify →
// qualify → answer → book → exit, leave a two-sided transcript and the state the graph sets, and a
// second call to the same number must find the durable memory and skip the questions.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/callee/persona.h"
#include "common/callee/persona_endpoint.h"
#include "common/docs/resource_docs.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "common/json/struct_convert.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/config-api/resource_kind.h"
#include "services/worker/service_clients.h"
#include "services/worker/testing/worker_env.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/voice_pipeline.h"

namespace parley::worker {
namespace {

using testing::CallsEnv;
using testing::InProcessWorker;
using testing::ServicesEnv;

class LeadQualifierCallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    services_ = new ServicesEnv();
    // The callee.
    auto persona = callee::LoadPersonaFile(std::string(PARLEY_SOURCE_DIR) +
                                           "/deploy/examples/personas/cooperative-lead.yaml");
    ASSERT_TRUE(persona.ok()) << persona.status();
    auto endpoint = callee::PersonaEndpoint::Create(*persona, {});
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = endpoint->release();
    server_ = new grpcx::GrpcServer({.address = "127.0.0.1:0"});
    server_->AddService(endpoint_, "parley.v1.MediaEndpoint");
    ASSERT_TRUE(server_->Start().ok());
    // The examples as shipped, but the simulated phone's trunk points at this test's callee.
    auto docs = docs::LoadResourceDocs(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples");
    ASSERT_TRUE(docs.ok()) << docs.status();
    for (docs::ResourceDoc& doc : docs::OrderForApply(std::move(*docs))) {
      if (doc.kind == "dnc") continue;
      if (doc.kind == "trunk" && doc.name == "sim-phone") {
        doc.spec["grpc"]["address"] = server_->address();
      }
      std::optional<parley::v1::ResourceKind> kind = config::ParseKind(doc.kind);
      ASSERT_TRUE(kind.has_value()) << doc.kind;
      services_->Apply(*kind, doc.name, doc.spec.dump());
    }
  }

  void SetUp() override {
    calls_ = std::make_unique<CallsEnv>(services_->redis());
    state_ = std::make_unique<StateClient>(grpcx::ClientOptions{.address = services_->state_address()});
    config_ = std::make_unique<ConfigClient>(
        grpcx::ClientOptions{.address = services_->config_address()});
    recorder_ = std::make_unique<GrpcConversationRecorder>(state_.get(), config_.get());
    RegisterEmbeddedProviders(registry_, {});
    factory_ = std::make_unique<VoicePipelineFactory>(VoicePipelineOptions{
        .providers = &registry_, .recorder = recorder_.get(), .dialogues = MakeEngineDialogue});
    worker_ = std::make_unique<InProcessWorker>(
        *services_, *calls_,
        testing::WorkerSettings{.max_calls = 2, .lease = absl::Seconds(5),
                                .pipelines = factory_.get()});
  }

  // The "node" events of a call, in order.
  std::vector<std::string> Nodes(const std::string& call_id) {
    std::vector<std::string> nodes;
    for (const calls::CallEvent& e : calls_->Events(call_id)) {
      if (e.type != "node") continue;
      auto node = e.detail.find("node");
      if (node != e.detail.end()) nodes.push_back(node->second);
    }
    return nodes;
  }

  nlohmann::json State(const std::string& phone) {
    auto stub = parley::v1::StateService::NewStub(
        grpcx::MakeChannel({.address = services_->state_address()}));
    parley::v1::GetStateRequest request;
    request.set_phone(phone);
    request.set_agent("lead-qualifier");
    parley::v1::ConversationState state;
    auto context = grpcx::MakeContext({.address = services_->state_address()});
    grpc::Status s = stub->GetState(context.get(), request, &state);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return json::StructToJson(state.state());
  }

  std::vector<parley::v1::Turn> Transcript(const std::string& call_id) {
    auto stub = parley::v1::StateService::NewStub(
        grpcx::MakeChannel({.address = services_->state_address()}));
    parley::v1::GetTranscriptRequest request;
    request.set_call_id(call_id);
    parley::v1::GetTranscriptResponse response;
    auto context = grpcx::MakeContext({.address = services_->state_address()});
    grpc::Status s = stub->GetTranscript(context.get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.turns().begin(), response.turns().end()};
  }

  static ServicesEnv* services_;
  static callee::PersonaEndpoint* endpoint_;
  static grpcx::GrpcServer* server_;
  std::unique_ptr<CallsEnv> calls_;
  std::unique_ptr<StateClient> state_;
  std::unique_ptr<ConfigClient> config_;
  std::unique_ptr<GrpcConversationRecorder> recorder_;
  ProviderRegistry registry_;
  std::unique_ptr<VoicePipelineFactory> factory_;
  std::unique_ptr<InProcessWorker> worker_;
};

ServicesEnv* LeadQualifierCallTest::services_ = nullptr;
callee::PersonaEndpoint* LeadQualifierCallTest::endpoint_ = nullptr;
grpcx::GrpcServer* LeadQualifierCallTest::server_ = nullptr;

TEST_F(LeadQualifierCallTest, WalksTheGraphBooksAndRemembersTheLead) {
  const std::string to = testing::NewNumber();
  std::string first = calls_->CreateCall({.agent = "lead-qualifier", .to = to});
  calls::CallRecord done = calls_->WaitTerminal(first, absl::Seconds(150));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "graph_end");
  EXPECT_EQ(Nodes(first), (std::vector<std::string>{"greet", "verify", "qualify", "answer",
                                                    "book", "exit"}));

  // Both sides of the conversation, in order, with the graph's lines filled from the context.
  std::vector<parley::v1::Turn> turns = Transcript(first);
  int agent = 0, callee_turns = 0;
  std::string all;
  for (const auto& t : turns) {
    if (t.role() == parley::v1::ROLE_AGENT) ++agent;
    if (t.role() == parley::v1::ROLE_CALLEE) ++callee_turns;
    absl::StrAppend(&all, t.role() == parley::v1::ROLE_AGENT ? "agent: " : "callee: ", t.text(),
                    "\n");
  }
  EXPECT_EQ(callee_turns, 5) << all;
  EXPECT_EQ(agent, 6) << all;
  EXPECT_TRUE(absl::StrContains(all, "May I speak with Taylor Morgan, please?")) << all;
  EXPECT_TRUE(absl::StrContains(all, "you're all set with Priya")) << all;

  nlohmann::json state = State(to);
  EXPECT_EQ(state.value("verified", false), true) << state.dump();
  EXPECT_EQ(state.value("qualified", false), true) << state.dump();
  EXPECT_EQ(state.value("appointment_booked", false), true) << state.dump();
  EXPECT_EQ(state.value("appointment_slot", ""), "slot_1") << state.dump();

  // The second call finds the durable memory (qualified) and skips the questions.
  std::string second = calls_->CreateCall({.agent = "lead-qualifier", .to = to});
  calls::CallRecord again = calls_->WaitTerminal(second, absl::Seconds(150));
  EXPECT_EQ(again.status, parley::v1::CALL_STATUS_COMPLETED) << again.ended_reason;
  std::vector<std::string> nodes = Nodes(second);
  ASSERT_GE(nodes.size(), 3u);
  EXPECT_EQ(nodes[1], "verify");
  EXPECT_EQ(nodes[2], "answer");  // not qualify
  EXPECT_EQ(State(to).value("call_count", 0), 2);
}

}  // namespace
}  // namespace parley::worker
