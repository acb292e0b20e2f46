// StateService conversation memory over gRPC on loopback, against the real Postgres (a scratch
// database) and Redis (a unique key prefix): StartCall, UpdateState, GetState, Heartbeat and the
// live Redis hash.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/match.h"
#include "services/state/state_test_fixture.h"

namespace parley::state {
namespace {

using nlohmann::json;
using testing::kCallsToken;
using testing::kConfigToken;

class ConversationTest : public testing::StateServiceTest {
 protected:
  int ActiveRows(const std::string& phone) {
    return std::stoi(Sql("SELECT count(*) FROM conversation.conversation_state WHERE phone = '" +
                         phone + "' AND active"));
  }
};

TEST_F(ConversationTest, StartCallOpensConversationAndHistory) {
  std::string phone = NewPhone(), call = NewCallId();
  parley::v1::StartCallRequest req;
  req.set_phone(phone);
  req.set_agent("sales");
  req.set_call_id(call);
  req.set_lead_id("lead-7");
  req.set_campaign("spring");
  req.set_direction(parley::v1::DIRECTION_INBOUND);
  parley::v1::StartCallResponse resp;
  ASSERT_TRUE(Stub()->StartCall(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(StateOf(resp.state()), json::parse(R"({"call_count": 1, "lead_id": "lead-7"})"));
  EXPECT_EQ(resp.version(), 1);
  EXPECT_EQ(resp.call_count(), 1);
  EXPECT_EQ(resp.took_over_call_id(), "");

  auto record = GetCall(call);
  ASSERT_TRUE(record.status.ok()) << record.status.error_message();
  EXPECT_EQ(record.response.status(), parley::v1::CALL_STATUS_IN_PROGRESS);
  EXPECT_EQ(record.response.attempt(), 1);
  EXPECT_EQ(record.response.agent(), "sales");
  EXPECT_EQ(record.response.campaign(), "spring");
  EXPECT_EQ(record.response.lead_id(), "lead-7");
  EXPECT_EQ(record.response.direction(), parley::v1::DIRECTION_INBOUND);
  EXPECT_TRUE(record.response.has_start_time());
  EXPECT_FALSE(record.response.has_end_time());

  auto state = GetState(phone, "sales");
  ASSERT_TRUE(state.status.ok()) << state.status.error_message();
  EXPECT_EQ(state.response.active_call_id(), call);
  EXPECT_EQ(state.response.call_count(), 1);
  EXPECT_EQ(state.response.phone_masked(), "+*******" + phone.substr(phone.size() - 4));
  EXPECT_EQ(GetState(phone, "other-agent").status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConversationTest, RepeatedStartCallIsIdempotent) {
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call).status.ok());
  ASSERT_TRUE(Patch(call, R"({"verified": true})").status.ok());
  auto again = StartCall(phone, "sales", call);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.response.call_count(), 1);
  EXPECT_EQ(again.response.version(), 2);
  EXPECT_EQ(StateOf(again.response.state())["verified"], true);
  EXPECT_EQ(
      Sql("SELECT count(*) FROM conversation.conversation_state WHERE call_id = '" + call + "'"),
      "1");
  // The same call id with another number is a caller bug, not a repeat.
  auto other = StartCall(NewPhone(), "sales", call);
  EXPECT_EQ(other.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ConversationTest, LiveConversationRefusesAnotherCall) {
  std::string phone = NewPhone(), first = NewCallId(), second = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", first).status.ok());
  auto refused = StartCall(phone, "sales", second);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(refused.status.error_message(), "\"" + first + "\""))
      << refused.status.error_message();
  // Another agent has its own conversation with the same callee.
  EXPECT_TRUE(StartCall(phone, "support", second).status.ok());
  EXPECT_EQ(ActiveRows(phone), 2);
}

TEST_F(ConversationTest, ConcurrentStartCallsLeaveOneActiveRow) {
  constexpr int kCalls = 16;
  std::string phone = NewPhone();
  std::vector<std::string> ids;
  for (int i = 0; i < kCalls; ++i) ids.push_back(NewCallId("race"));
  std::vector<grpc::Status> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { results[i] = StartCall(phone, "sales", ids[i]).status; });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  std::string winner;
  for (int i = 0; i < kCalls; ++i) {
    if (results[i].ok()) {
      ++ok;
      winner = ids[i];
    } else {
      EXPECT_EQ(results[i].error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << results[i].error_message();
    }
  }
  ASSERT_EQ(ok, 1);
  for (int i = 0; i < kCalls; ++i) {
    if (!results[i].ok()) {
      EXPECT_TRUE(absl::StrContains(results[i].error_message(), winner))
          << results[i].error_message();
    }
  }
  EXPECT_EQ(ActiveRows(phone), 1);
  EXPECT_EQ(Sql("SELECT call_id FROM conversation.conversation_state WHERE phone = '" + phone +
                "' AND active"),
            winner);
  // Only the winner got a history row.
  EXPECT_EQ(Sql("SELECT count(*) FROM conversation.calls WHERE phone = '" + phone + "'"), "1");
}

TEST_F(ConversationTest, ConcurrentStartCallsTakeOverAStaleRowOnce) {
  constexpr int kCalls = 16;
  std::string phone = NewPhone(), stale = NewCallId("stale");
  ASSERT_TRUE(StartCall(phone, "sales", stale).status.ok());
  AgeHeartbeat(stale);
  std::vector<std::string> ids;
  for (int i = 0; i < kCalls; ++i) ids.push_back(NewCallId("taker"));
  std::vector<testing::Reply<parley::v1::StartCallResponse>> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { results[i] = StartCall(phone, "sales", ids[i]); });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const auto& r : results) {
    if (r.status.ok()) {
      ++ok;
      EXPECT_EQ(r.response.took_over_call_id(), stale);
      EXPECT_EQ(r.response.call_count(), 2);
    } else {
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << r.status.error_message();
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(ActiveRows(phone), 1);
  auto closed = GetCall(stale);
  ASSERT_TRUE(closed.status.ok());
  EXPECT_EQ(closed.response.status(), parley::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(closed.response.ended_reason(), "worker_lost");
}

TEST_F(ConversationTest, HeartbeatKeepsAConversationAndStaleOneIsTakenOver) {
  std::string phone = NewPhone(), first = NewCallId(), second = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", first).status.ok());
  AgeHeartbeat(first);
  ASSERT_TRUE(Heartbeat(first).ok());  // alive again
  EXPECT_EQ(StartCall(phone, "sales", second).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  AgeHeartbeat(first);
  auto taken = StartCall(phone, "sales", second);
  ASSERT_TRUE(taken.status.ok()) << taken.status.error_message();
  EXPECT_EQ(taken.response.took_over_call_id(), first);
  // The old call lost its conversation: its writes are refused.
  EXPECT_EQ(Heartbeat(first).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Patch(first, R"({"x": 1})").status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Its worker may still report the real outcome once; that does not touch the new conversation.
  auto late = Complete(first, 1, parley::v1::CALL_STATUS_NO_ANSWER, "late");
  ASSERT_TRUE(late.status.ok()) << late.status.error_message();
  EXPECT_EQ(late.response.status(), parley::v1::CALL_STATUS_NO_ANSWER);
  EXPECT_EQ(Complete(first, 1, parley::v1::CALL_STATUS_FAILED).response.status(),
            parley::v1::CALL_STATUS_NO_ANSWER);
  EXPECT_EQ(GetState(phone, "sales").response.active_call_id(), second);
  EXPECT_EQ(Heartbeat("no-such-call").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConversationTest, DurableKeysSurviveTransientKeysReset) {
  std::string phone = NewPhone(), first = NewCallId(), second = NewCallId();
  parley::v1::StartCallRequest req;
  req.set_phone(phone);
  req.set_agent("sales");
  req.set_call_id(first);
  req.set_lead_id("lead-1");
  parley::v1::StartCallResponse started;
  ASSERT_TRUE(Stub()->StartCall(Ctx().get(), req, &started).ok());
  auto patched = Patch(first, R"({"verified": true, "current_node": "qualify",
      "appointment_booked": false, "qualified": true, "topics_discussed": ["price"],
      "budget": {"amount": 5000}, "mood": "happy"})");
  ASSERT_TRUE(patched.status.ok()) << patched.status.error_message();
  ASSERT_TRUE(
      Complete(first, 1, parley::v1::CALL_STATUS_COMPLETED, "asked about price").status.ok());
  auto before = GetState(phone, "sales");

  auto next = StartCall(phone, "sales", second, 1, {"budget"});
  ASSERT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(StateOf(next.response.state()), json::parse(R"({
      "lead_id": "lead-1", "qualified": true, "topics_discussed": ["price"],
      "summary": "asked about price", "call_count": 2, "budget": {"amount": 5000}})"));
  EXPECT_EQ(next.response.call_count(), 2);
  auto after = GetState(phone, "sales");
  EXPECT_EQ(after.response.call_count(), 2);
  EXPECT_EQ(after.response.active_call_id(), second);
  EXPECT_EQ(after.response.create_time().seconds(), before.response.create_time().seconds());
  // The lead id is remembered in the history of the second call too.
  EXPECT_EQ(GetCall(second).response.lead_id(), "lead-1");
}

TEST_F(ConversationTest, RetryAttemptStartsFreshWithoutCountingAgain) {
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call, 1).status.ok());
  ASSERT_TRUE(Patch(call, R"({"verified": true, "qualified": false})", 1).status.ok());
  // Attempt 1's worker vanished; the dispatcher runs attempt 2 at once (no staleness wait).
  auto second = StartCall(phone, "sales", call, 2);
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_EQ(second.response.call_count(), 1);
  EXPECT_EQ(second.response.took_over_call_id(), call);
  EXPECT_EQ(StateOf(second.response.state()), json::parse(R"({"qualified": false,
      "call_count": 1})"));
  // The superseded attempt is fenced off.
  EXPECT_EQ(Patch(call, R"({"x": 1})", 1).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Patch(call, R"({"x": 1})", 2).status.ok());
  EXPECT_EQ(StartCall(phone, "sales", call, 1).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GetCall(call).response.attempt(), 2);
  EXPECT_EQ(GetCall(call, 1).response.ended_reason(), "worker_lost");
}

TEST_F(ConversationTest, UpdateStateDeepMerges) {
  std::string call = NewCallId();
  ASSERT_TRUE(StartCall(NewPhone(), "sales", call).status.ok());
  struct Case {
    const char* name;
    const char* patch;
    const char* want;
  };
  const Case cases[] = {
      {"nested objects merge", R"({"profile": {"name": "Ann", "address": {"city": "Oslo"}}})",
       R"({"call_count": 1, "profile": {"name": "Ann", "address": {"city": "Oslo"}}})"},
      {"nested merge keeps siblings", R"({"profile": {"address": {"zip": "0150"}}})",
       R"({"call_count": 1, "profile": {"name": "Ann",
           "address": {"city": "Oslo", "zip": "0150"}}})"},
      {"arrays replace", R"({"tags": [1, 2, 3]})", nullptr},
      {"arrays replace whole", R"({"tags": [4]})",
       R"({"call_count": 1, "tags": [4], "profile": {"name": "Ann",
           "address": {"city": "Oslo", "zip": "0150"}}})"},
      {"null deletes", R"({"profile": {"address": {"city": null}}, "tags": null})",
       R"({"call_count": 1, "profile": {"name": "Ann", "address": {"zip": "0150"}}})"},
      {"object becomes scalar", R"({"profile": "gone"})",
       R"({"call_count": 1, "profile": "gone"})"},
      {"scalar becomes object", R"({"profile": {"v": 2}})",
       R"({"call_count": 1, "profile": {"v": 2}})"},
      {"number becomes string", R"({"call_count": "one"})",
       R"({"call_count": "one", "profile": {"v": 2}})"},
  };
  std::int64_t version = 1;
  for (const Case& c : cases) {
    auto r = Patch(call, c.patch);
    ASSERT_TRUE(r.status.ok()) << c.name << ": " << r.status.error_message();
    EXPECT_EQ(r.response.version(), ++version) << c.name;
    if (c.want != nullptr) {
      EXPECT_EQ(StateOf(r.response.state()), json::parse(c.want)) << c.name;
    }
  }
  // A patch that changes nothing is not a new version.
  auto same = Patch(call, R"({"profile": {"v": 2}})");
  ASSERT_TRUE(same.status.ok());
  EXPECT_EQ(same.response.version(), version);
}

TEST_F(ConversationTest, ConcurrentPatchesToDistinctKeysAreAllKept) {
  constexpr int kPatches = 50;
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call).status.ok());
  std::vector<grpc::Status> results(kPatches);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPatches; ++i) {
    threads.emplace_back([&, i] {
      std::string key = "k" + std::to_string(i);
      results[i] = Patch(call, absl::StrCat(R"({")", key, R"(": )", i, R"(, "nested": {")", key,
                                            R"(": true}})"))
                       .status;
    });
  }
  for (auto& t : threads) t.join();
  for (const grpc::Status& s : results) EXPECT_TRUE(s.ok()) << s.error_message();
  auto state = GetState(phone, "sales");
  ASSERT_TRUE(state.status.ok());
  json got = StateOf(state.response.state());
  for (int i = 0; i < kPatches; ++i) {
    std::string key = "k" + std::to_string(i);
    EXPECT_EQ(got[key], i) << key;
    EXPECT_EQ(got["nested"][key], true) << key;
  }
  EXPECT_EQ(state.response.version(), 1 + kPatches);
}

TEST_F(ConversationTest, BadInputIsRefusedNamingTheField) {
  std::string call = NewCallId();
  ASSERT_TRUE(StartCall(NewPhone(), "sales", call).status.ok());

  auto unknown = Patch("no-such-call", R"({"a": 1})");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unknown.status.error_message(), "call_id: unknown call \"no-such-call\"");

  auto big = Patch(call, json{{"blob", std::string(65 * 1024, 'x')}}.dump());
  EXPECT_EQ(big.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(big.status.error_message(), "patch: "))
      << big.status.error_message();
  EXPECT_TRUE(Patch(call, json{{"blob", std::string(60 * 1024, 'x')}}.dump()).status.ok());

  parley::v1::UpdateStateRequest missing;
  missing.set_call_id(call);
  parley::v1::UpdateStateResponse ignored;
  grpc::Status no_patch = Stub()->UpdateState(Ctx().get(), missing, &ignored);
  EXPECT_EQ(no_patch.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(no_patch.error_message(), "patch: "));

  // A Struct is always an object on the wire; the store refuses anything else from other callers.
  for (const json& patch : {json::array({1, 2}), json("text"), json(nullptr), json(3)}) {
    absl::StatusOr<Conversation> r = store_->UpdateState(call, 0, patch);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << patch;
    EXPECT_EQ(r.status().message(), "patch: must be a JSON object") << patch;
  }

  auto bad_phone = StartCall("4155552671", "sales", NewCallId());
  EXPECT_EQ(bad_phone.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bad_phone.status.error_message(), "phone: "));
  auto no_call = StartCall(NewPhone(), "sales", "");
  EXPECT_TRUE(absl::StartsWith(no_call.status.error_message(), "call_id: "));
  auto no_agent = StartCall(NewPhone(), "", NewCallId());
  EXPECT_TRUE(absl::StartsWith(no_agent.status.error_message(), "agent: "));
  auto bad_attempt = StartCall(NewPhone(), "sales", NewCallId(), -1);
  EXPECT_TRUE(absl::StartsWith(bad_attempt.status.error_message(), "attempt: "));
  auto bad_key = StartCall(NewPhone(), "sales", NewCallId(), 1, {"ok", ""});
  EXPECT_EQ(bad_key.status.error_message(), "durable_keys[1]: must not be empty");
  auto long_key = StartCall(NewPhone(), "sales", NewCallId(), 1, {std::string(129, 'k')});
  EXPECT_EQ(long_key.status.error_message(), "durable_keys[0]: longer than 128 bytes");
  EXPECT_EQ(GetState("nope", "sales").status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The free text the workers send is bounded: a summary goes into the conversation state too,
  // where an unbounded one would make every later patch fail, blaming the patch.
  parley::v1::CompleteCallRequest complete;
  complete.set_call_id(call);
  complete.set_outcome(parley::v1::CALL_STATUS_COMPLETED);
  complete.set_summary(std::string(64 * 1024 + 1, 's'));
  parley::v1::CallRecord record;
  grpc::Status s = Stub()->CompleteCall(Ctx().get(), complete, &record);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "summary: longer than 65536 bytes");
  parley::v1::HeartbeatRequest beat;
  beat.set_call_id(call);
  beat.set_current_node(std::string(200, 'n'));
  google::protobuf::Empty empty;
  s = Stub()->Heartbeat(Ctx().get(), beat, &empty);
  EXPECT_EQ(s.error_message(), "current_node: longer than 128 bytes");
  parley::v1::AppendTurnsRequest append;
  append.set_call_id(call);
  parley::v1::Turn* turn = append.add_turns();
  turn->set_role(parley::v1::ROLE_AGENT);
  turn->set_text(std::string(64 * 1024 + 1, 't'));
  parley::v1::AppendTurnsResponse appended;
  s = Stub()->AppendTurns(Ctx().get(), append, &appended);
  EXPECT_EQ(s.error_message(), "turns[0].text: longer than 65536 bytes");
}

TEST_F(ConversationTest, LiveStateIsMirroredToRedis) {
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call).status.ok());
  std::string key = store_->live().Key(call);
  EXPECT_EQ(key, *prefix_ + "conv:" + call);
  auto live = store_->live().Read(call);
  ASSERT_TRUE(live.ok());
  EXPECT_EQ((*live)["call_id"], call);
  EXPECT_EQ((*live)["attempt"], "1");
  EXPECT_EQ((*live)["version"], "1");
  EXPECT_EQ((*live)["agent"], "sales");
  EXPECT_FALSE((*live)["last_activity"].empty());
  EXPECT_GT(*redis_->Command({"PTTL", key})->AsInt(), 0);

  ASSERT_TRUE(Patch(call, R"({"current_node": "verify"})").status.ok());
  live = store_->live().Read(call);
  EXPECT_EQ((*live)["current_node"], "verify");
  EXPECT_EQ((*live)["version"], "2");

  ASSERT_TRUE(Heartbeat(call, 1, "book").ok());
  EXPECT_EQ((*store_->live().Read(call))["current_node"], "book");

  // An out-of-order (older) write cannot move the live state back.
  ASSERT_TRUE(store_->live()
                  .Write({.call_id = call,
                          .attempt = 1,
                          .agent = "sales",
                          .version = 1,
                          .current_node = "greet"})
                  .ok());
  EXPECT_EQ((*store_->live().Read(call))["current_node"], "book");

  ASSERT_TRUE(Complete(call).status.ok());
  EXPECT_EQ(*redis_->Command({"EXISTS", key})->AsInt(), 0);
}

TEST_F(ConversationTest, RedisOutageDoesNotFailTheRecord) {
  // Nothing listens on port 1: every Redis call fails at once with UNAVAILABLE.
  auto dead = redis::RedisPool::Create(
      {.url = "redis://127.0.0.1:1", .connect_timeout = absl::Milliseconds(200)});
  ASSERT_TRUE(dead.ok());
  StateStore store(pool_, dead->get(), {.key_prefix = *prefix_});
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(store.StartCall({.phone = phone, .agent = "sales", .call_id = call}).ok());
  absl::StatusOr<Conversation> patched = store.UpdateState(call, 0, {{"verified", true}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(patched->version, 2);
  EXPECT_TRUE(store.Heartbeat(call, 1, "verify").ok());
  absl::StatusOr<parley::v1::CallRecord> done =
      store.CompleteCall({.call_id = call, .outcome = parley::v1::CALL_STATUS_COMPLETED});
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(GetState(phone, "sales").response.version(), 2);
}

TEST_F(ConversationTest, ScopesAreEnforced) {
  std::string phone = NewPhone(), call = NewCallId();
  EXPECT_EQ(StartCall(phone, "sales", call, 1, {}, kConfigToken).status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(StartCall(phone, "sales", call, 1, {}, "").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(StartCall(phone, "sales", call).status.ok());
  EXPECT_TRUE(GetState(phone, "sales", kConfigToken).status.ok());
  EXPECT_TRUE(GetState(phone, "sales", kCallsToken).status.ok());
  EXPECT_EQ(GetState(phone, "sales", "bogus").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace parley::state
