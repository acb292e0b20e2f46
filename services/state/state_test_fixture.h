// Test-only: StateService served on loopback over a scratch Postgres database and a unique Redis
// key prefix, with one token per scope, and helpers that call it. Shared by the *_pgtest.cc files
// of services/state; each test binary gets its own database and prefix.
//
//   class MyTest : public StateServiceTest {};
//   TEST_F(MyTest, X) {
//     auto started = StartCall(NewPhone(), "sales", NewCallId());
//     ASSERT_TRUE(started.status.ok());
//   }
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"
#include "common/grpc/server.h"
#include "common/json/struct_convert.h"
#include "common/pg/testing/scratch_database.h"
#include "services/state/state_handler.h"
#include "services/state/state_store.h"

namespace parley::state::testing {

inline constexpr char kServiceToken[] = "svc-token-1";
inline constexpr char kConfigToken[] = "ops-token-1";
inline constexpr char kCallsToken[] = "crm-token-1";

template <class Response>
struct Reply {
  grpc::Status status;
  Response response;
};

class StateServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new pg::testing::ScratchDatabase();
    pool_ = pg::PgPool::Create({.url = db_->url(), .size = 24})->release();
    const char* redis_url = std::getenv("PARLEY_REDIS_URL");
    ASSERT_NE(redis_url, nullptr) << "PARLEY_REDIS_URL is not set";
    redis_ = redis::RedisPool::Create({.url = redis_url})->release();
    prefix_ = new std::string(absl::StrCat("parley_t", getpid(), "_", db_->name(), ":"));
    store_ = new StateStore(pool_, redis_, {.key_prefix = *prefix_});
    ASSERT_TRUE(store_->Migrate().ok());
    handler_ = new StateHandler(
        store_, *grpcx::TokenAuth::Parse("worker:svc-token-1:service,ops:ops-token-1:config,"
                                         "crm:crm-token-1:calls"));
    server_ = new grpcx::GrpcServer({.address = "127.0.0.1:0", .log_requests = false});
    server_->AddService(handler_, "parley.v1.StateService");
    ASSERT_TRUE(server_->Start().ok());
    channel_ =
        new std::shared_ptr<grpc::Channel>(grpcx::MakeChannel({.address = server_->address()}));
  }

  static void TearDownTestSuite() {
    server_->Shutdown();
    // Whatever the tests left in Redis under this binary's prefix.
    if (auto keys = redis_->Command({"KEYS", *prefix_ + "*"}); keys.ok()) {
      for (const std::string& key : keys->AsStrings().value_or(std::vector<std::string>{})) {
        (void)redis_->Command({"DEL", key});
      }
    }
    delete channel_;
    delete server_;
    delete handler_;
    delete store_;
    delete prefix_;
    delete redis_;
    delete pool_;
    delete db_;
  }

  std::unique_ptr<parley::v1::StateService::Stub> Stub() {
    return parley::v1::StateService::NewStub(*channel_);
  }
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = kServiceToken) {
    return grpcx::MakeContext({.address = server_->address(), .token = token}, absl::Seconds(20));
  }

  // A phone number no other test of this binary uses.
  static std::string NewPhone() {
    static std::atomic<int> next{0};
    return absl::StrCat("+1415", 5550000 + next++);
  }
  static std::string NewCallId(const std::string& tag = "c") {
    static std::atomic<int> next{0};
    return absl::StrCat(tag, "-", next++);
  }

  Reply<parley::v1::StartCallResponse> StartCall(const std::string& phone, const std::string& agent,
                                                 const std::string& call_id, int attempt = 1,
                                                 std::vector<std::string> durable_keys = {},
                                                 const std::string& token = kServiceToken) {
    parley::v1::StartCallRequest req;
    req.set_phone(phone);
    req.set_agent(agent);
    req.set_call_id(call_id);
    req.set_attempt(attempt);
    req.set_campaign("spring");
    req.set_worker_id("w1");
    for (const std::string& k : durable_keys) req.add_durable_keys(k);
    Reply<parley::v1::StartCallResponse> r;
    r.status = Stub()->StartCall(Ctx(token).get(), req, &r.response);
    return r;
  }

  Reply<parley::v1::UpdateStateResponse> Patch(const std::string& call_id,
                                               const std::string& patch_json, int attempt = 0) {
    parley::v1::UpdateStateRequest req;
    req.set_call_id(call_id);
    req.set_attempt(attempt);
    *req.mutable_patch() = *json::JsonToStruct(nlohmann::json::parse(patch_json));
    Reply<parley::v1::UpdateStateResponse> r;
    r.status = Stub()->UpdateState(Ctx().get(), req, &r.response);
    return r;
  }

  Reply<parley::v1::CallRecord> Complete(
      const std::string& call_id, int attempt = 1,
      parley::v1::CallStatus outcome = parley::v1::CALL_STATUS_COMPLETED,
      const std::string& summary = "") {
    parley::v1::CompleteCallRequest req;
    req.set_call_id(call_id);
    req.set_attempt(attempt);
    req.set_outcome(outcome);
    req.set_ended_reason("callee_hangup");
    req.set_summary(summary);
    Reply<parley::v1::CallRecord> r;
    r.status = Stub()->CompleteCall(Ctx().get(), req, &r.response);
    return r;
  }

  Reply<parley::v1::ConversationState> GetState(const std::string& phone, const std::string& agent,
                                                const std::string& token = kConfigToken) {
    parley::v1::GetStateRequest req;
    req.set_phone(phone);
    req.set_agent(agent);
    Reply<parley::v1::ConversationState> r;
    r.status = Stub()->GetState(Ctx(token).get(), req, &r.response);
    return r;
  }

  Reply<parley::v1::CallRecord> GetCall(const std::string& call_id,
                                        std::optional<int> attempt = std::nullopt,
                                        const std::string& token = kServiceToken) {
    parley::v1::GetCallRecordRequest req;
    req.set_call_id(call_id);
    if (attempt) req.set_attempt(*attempt);
    Reply<parley::v1::CallRecord> r;
    r.status = Stub()->GetCall(Ctx(token).get(), req, &r.response);
    return r;
  }

  grpc::Status Heartbeat(const std::string& call_id, int attempt = 1,
                         const std::string& node = "") {
    parley::v1::HeartbeatRequest req;
    req.set_call_id(call_id);
    req.set_attempt(attempt);
    req.set_current_node(node);
    google::protobuf::Empty empty;
    return Stub()->Heartbeat(Ctx().get(), req, &empty);
  }

  // Runs one SQL statement on the scratch database and returns the first column of the first
  // row as text ("" when there is none).
  static std::string Sql(const std::string& sql) {
    return *pool_->Transact([&](pqxx::work& tx) -> std::string {
      pqxx::result r = tx.exec(sql);
      if (r.empty() || r[0][0].is_null()) return "";
      return r[0][0].as<std::string>();
    });
  }

  // Makes the active conversation of `call_id` look abandoned (heartbeat ten minutes old).
  static void AgeHeartbeat(const std::string& call_id) {
    Sql("UPDATE conversation.conversation_state SET heartbeat_at = now() - interval '10 minutes' "
        "WHERE call_id = '" +
        call_id + "' AND active");
  }

  static nlohmann::json StateOf(const google::protobuf::Struct& s) { return json::StructToJson(s); }

  static pg::testing::ScratchDatabase* db_;
  static pg::PgPool* pool_;
  static redis::RedisPool* redis_;
  static std::string* prefix_;
  static StateStore* store_;
  static StateHandler* handler_;
  static grpcx::GrpcServer* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

inline pg::testing::ScratchDatabase* StateServiceTest::db_;
inline pg::PgPool* StateServiceTest::pool_;
inline redis::RedisPool* StateServiceTest::redis_;
inline std::string* StateServiceTest::prefix_;
inline StateStore* StateServiceTest::store_;
inline StateHandler* StateServiceTest::handler_;
inline grpcx::GrpcServer* StateServiceTest::server_;
inline std::shared_ptr<grpc::Channel>* StateServiceTest::channel_;

}  // namespace parley::state::testing
