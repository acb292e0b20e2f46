// StateService call history and transcripts over gRPC on loopback, against the real Postgres
// (a scratch database) and Redis: CompleteCall, GetCall, ListCalls, AppendTurns, GetTranscript,
// and phone masking by scope.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "services/state/state_test_fixture.h"

namespace parley::state {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::kCallsToken;
using testing::kConfigToken;
using testing::Reply;

parley::v1::Turn MakeTurn(int seq, parley::v1::Role role, const std::string& text) {
  parley::v1::Turn t;
  t.set_seq(seq);
  t.set_role(role);
  t.set_text(text);
  t.set_node("greet");
  t.set_start_ms(seq * 1000);
  t.set_end_ms(seq * 1000 + 800);
  return t;
}

class CallHistoryTest : public testing::StateServiceTest {
 protected:
  Reply<parley::v1::AppendTurnsResponse> Append(const std::string& call_id, int attempt,
                                                const std::vector<parley::v1::Turn>& turns) {
    parley::v1::AppendTurnsRequest req;
    req.set_call_id(call_id);
    req.set_attempt(attempt);
    for (const auto& t : turns) *req.add_turns() = t;
    Reply<parley::v1::AppendTurnsResponse> r;
    r.status = Stub()->AppendTurns(Ctx().get(), req, &r.response);
    return r;
  }

  Reply<parley::v1::GetTranscriptResponse> Transcript(const std::string& call_id,
                                                      std::optional<int> attempt = {}) {
    parley::v1::GetTranscriptRequest req;
    req.set_call_id(call_id);
    if (attempt) req.set_attempt(*attempt);
    Reply<parley::v1::GetTranscriptResponse> r;
    r.status = Stub()->GetTranscript(Ctx(kConfigToken).get(), req, &r.response);
    return r;
  }

  Reply<parley::v1::ListCallRecordsResponse> List(const parley::v1::ListCallRecordsRequest& req,
                                                  const std::string& token = kConfigToken) {
    Reply<parley::v1::ListCallRecordsResponse> r;
    r.status = Stub()->ListCalls(Ctx(token).get(), req, &r.response);
    return r;
  }
};

TEST_F(CallHistoryTest, CompleteCallRecordsOutcomeOnceAndClosesTheConversation) {
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call).status.ok());
  google::protobuf::Timestamp start = GetCall(call).response.start_time();

  parley::v1::CompleteCallRequest req;
  req.set_call_id(call);
  req.set_outcome(parley::v1::CALL_STATUS_COMPLETED);
  req.set_ended_reason("agent_hangup");
  req.set_summary("booked a demo for Tuesday");
  (*req.mutable_metrics())["turns"] = 12;
  (*req.mutable_metrics())["stt_final_p50_ms"] = 180.5;
  req.mutable_answer_time()->set_seconds(start.seconds() + 5);
  req.mutable_end_time()->set_seconds(start.seconds() + 65);
  parley::v1::CallRecord first;
  ASSERT_TRUE(Stub()->CompleteCall(Ctx().get(), req, &first).ok());
  EXPECT_EQ(first.status(), parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(first.ended_reason(), "agent_hangup");
  EXPECT_EQ(first.summary(), "booked a demo for Tuesday");
  EXPECT_EQ(first.metrics().at("turns"), 12);
  EXPECT_EQ(first.metrics().at("stt_final_p50_ms"), 180.5);
  EXPECT_EQ(first.talk_duration().seconds(), 60);
  EXPECT_NEAR(first.ring_duration().seconds() + first.ring_duration().nanos() / 1e9,
              5.0 - start.nanos() / 1e9, 0.001);
  EXPECT_EQ(first.end_time().seconds(), start.seconds() + 65);
  EXPECT_EQ(first.phone(), phone);  // the worker holds `service`

  // A retry (even with other content) returns the first result and changes nothing.
  req.set_outcome(parley::v1::CALL_STATUS_FAILED);
  req.set_summary("something else");
  req.clear_answer_time();
  parley::v1::CallRecord second;
  ASSERT_TRUE(Stub()->CompleteCall(Ctx().get(), req, &second).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(first, second)) << second.DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(first, GetCall(call).response));

  auto state = GetState(phone, "sales");
  ASSERT_TRUE(state.status.ok());
  EXPECT_EQ(state.response.active_call_id(), "");
  EXPECT_EQ(StateOf(state.response.state())["summary"], "booked a demo for Tuesday");
  EXPECT_EQ(state.response.version(), 2);
  // The conversation is closed: no more writes, and the next call may start at once.
  EXPECT_EQ(Patch(call, R"({"a": 1})").status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  auto next = StartCall(phone, "sales", NewCallId());
  ASSERT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.response.took_over_call_id(), "");
}

TEST_F(CallHistoryTest, CompleteCallWithoutAnswerHasNoTalkTime) {
  std::string call = NewCallId();
  ASSERT_TRUE(StartCall(NewPhone(), "sales", call).status.ok());
  auto r = Complete(call, 1, parley::v1::CALL_STATUS_NO_ANSWER);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_FALSE(r.response.has_answer_time());
  EXPECT_TRUE(r.response.has_end_time());
  EXPECT_EQ(r.response.talk_duration().seconds(), 0);
  EXPECT_EQ(r.response.talk_duration().nanos(), 0);
  EXPECT_GE(r.response.ring_duration().seconds(), 0);
}

TEST_F(CallHistoryTest, CompleteCallRejectsBadInput) {
  std::string call = NewCallId();
  ASSERT_TRUE(StartCall(NewPhone(), "sales", call).status.ok());
  auto unknown = Complete("no-such-call");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unknown.status.error_message(), "call_id: unknown call \"no-such-call\" (attempt 1)");
  auto other_attempt = Complete(call, 2);
  EXPECT_EQ(other_attempt.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto not_terminal = Complete(call, 1, parley::v1::CALL_STATUS_RINGING);
  EXPECT_TRUE(absl::StartsWith(not_terminal.status.error_message(), "outcome: "));

  parley::v1::CompleteCallRequest req;
  req.set_call_id(call);
  req.set_outcome(parley::v1::CALL_STATUS_COMPLETED);
  req.mutable_answer_time()->set_seconds(2000000000);
  req.mutable_end_time()->set_seconds(1900000000);
  parley::v1::CallRecord ignored;
  grpc::Status s = Stub()->CompleteCall(Ctx().get(), req, &ignored);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "answer_time: ")) << s.error_message();
  req.clear_answer_time();
  (*req.mutable_metrics())["bad"] = std::numeric_limits<double>::infinity();
  s = Stub()->CompleteCall(Ctx().get(), req, &ignored);
  EXPECT_EQ(s.error_message(), "metrics.bad: must be a finite number");
  // None of that changed the call.
  EXPECT_EQ(GetCall(call).response.status(), parley::v1::CALL_STATUS_IN_PROGRESS);
}

TEST_F(CallHistoryTest, AppendTurnsIsIdempotentBySeq) {
  std::string call = NewCallId();
  ASSERT_TRUE(StartCall(NewPhone(), "sales", call).status.ok());
  parley::v1::Turn cut =
      MakeTurn(1, parley::v1::ROLE_AGENT, "Our plan costs twenty dollars a month");
  cut.set_interrupted(true);
  cut.set_heard_text("Our plan costs");
  std::vector<parley::v1::Turn> turns = {MakeTurn(0, parley::v1::ROLE_AGENT, "Hello, this is Ann"),
                                         cut, MakeTurn(2, parley::v1::ROLE_CALLEE, "How much?")};
  auto first = Append(call, 1, turns);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.appended(), 3);
  EXPECT_EQ(first.response.duplicates(), 0);

  // The retried request stores nothing new, even with changed text.
  turns[2].set_text("changed on retry");
  auto retry = Append(call, 1, turns);
  ASSERT_TRUE(retry.status.ok());
  EXPECT_EQ(retry.response.appended(), 0);
  EXPECT_EQ(retry.response.duplicates(), 3);

  // Overlapping batches, out of order, with a seq repeated inside the request.
  parley::v1::Turn tool = MakeTurn(4, parley::v1::ROLE_TOOL, "lookup(plan) → basic");
  tool.set_tool("lookup");
  auto mixed = Append(call, 1,
                      {tool, MakeTurn(2, parley::v1::ROLE_CALLEE, "dup"),
                       MakeTurn(3, parley::v1::ROLE_SYSTEM, "node: pricing"),
                       MakeTurn(3, parley::v1::ROLE_SYSTEM, "dup in request")});
  ASSERT_TRUE(mixed.status.ok()) << mixed.status.error_message();
  EXPECT_EQ(mixed.response.appended(), 2);
  EXPECT_EQ(mixed.response.duplicates(), 2);

  auto transcript = Transcript(call);
  ASSERT_TRUE(transcript.status.ok()) << transcript.status.error_message();
  ASSERT_EQ(transcript.response.turns_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(transcript.response.turns(i).seq(), i);
  const parley::v1::Turn& heard = transcript.response.turns(1);
  EXPECT_EQ(heard.role(), parley::v1::ROLE_AGENT);
  EXPECT_TRUE(heard.interrupted());
  EXPECT_EQ(heard.heard_text(), "Our plan costs");
  EXPECT_EQ(heard.start_ms(), 1000);
  EXPECT_EQ(heard.end_ms(), 1800);
  EXPECT_EQ(heard.attempt(), 1);
  EXPECT_EQ(transcript.response.turns(2).text(), "How much?");
  EXPECT_EQ(transcript.response.turns(3).text(), "node: pricing");
  EXPECT_EQ(transcript.response.turns(4).tool(), "lookup");
  EXPECT_EQ(transcript.response.turns(4).role(), parley::v1::ROLE_TOOL);

  // A final flush after hang-up is still accepted.
  ASSERT_TRUE(Complete(call).status.ok());
  EXPECT_EQ(Append(call, 1, {MakeTurn(5, parley::v1::ROLE_SYSTEM, "hang-up")}).response.appended(),
            1);
}

TEST_F(CallHistoryTest, AppendTurnsRejectsBadInput) {
  std::string call = NewCallId();
  ASSERT_TRUE(StartCall(NewPhone(), "sales", call).status.ok());
  auto unknown = Append("no-such-call", 1, {MakeTurn(0, parley::v1::ROLE_AGENT, "hi")});
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unknown.status.error_message(), "call_id: unknown call \"no-such-call\" (attempt 1)");
  auto no_role = Append(call, 1, {MakeTurn(0, parley::v1::ROLE_UNSPECIFIED, "hi")});
  EXPECT_TRUE(absl::StartsWith(no_role.status.error_message(), "turns[0].role: "));
  parley::v1::Turn backwards = MakeTurn(1, parley::v1::ROLE_AGENT, "hi");
  backwards.set_end_ms(10);
  auto bad_time = Append(call, 1, {MakeTurn(0, parley::v1::ROLE_AGENT, "ok"), backwards});
  EXPECT_TRUE(absl::StartsWith(bad_time.status.error_message(), "turns[1].end_ms: "));
  auto negative = Append(call, 1, {MakeTurn(-1, parley::v1::ROLE_AGENT, "hi")});
  EXPECT_TRUE(absl::StartsWith(negative.status.error_message(), "turns[0].seq: "));
  EXPECT_EQ(Transcript(call).response.turns_size(), 0);
  EXPECT_EQ(Transcript("no-such-call").status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CallHistoryTest, AttemptsKeepTheirOwnHistoryAndTranscript) {
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call, 1).status.ok());
  ASSERT_TRUE(Append(call, 1, {MakeTurn(0, parley::v1::ROLE_SYSTEM, "busy tone")}).status.ok());
  ASSERT_TRUE(Complete(call, 1, parley::v1::CALL_STATUS_BUSY).status.ok());
  ASSERT_TRUE(StartCall(phone, "sales", call, 2).status.ok());
  ASSERT_TRUE(Append(call, 2,
                     {MakeTurn(1, parley::v1::ROLE_AGENT, "hello"),
                      MakeTurn(0, parley::v1::ROLE_SYSTEM, "answered")})
                  .status.ok());

  auto all = Transcript(call);
  ASSERT_EQ(all.response.turns_size(), 3);
  EXPECT_EQ(all.response.turns(0).attempt(), 1);
  EXPECT_EQ(all.response.turns(1).attempt(), 2);
  EXPECT_EQ(all.response.turns(1).seq(), 0);
  EXPECT_EQ(all.response.turns(2).seq(), 1);
  EXPECT_EQ(Transcript(call, 2).response.turns_size(), 2);
  EXPECT_EQ(Transcript(call, 3).status.error_code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(GetCall(call).response.attempt(), 2);
  EXPECT_EQ(GetCall(call).response.status(), parley::v1::CALL_STATUS_IN_PROGRESS);
  EXPECT_EQ(GetCall(call, 1).response.status(), parley::v1::CALL_STATUS_BUSY);
  EXPECT_EQ(GetCall(call, 3).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCall("no-such-call").status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetState(phone, "sales").response.call_count(), 1);  // one call, two attempts
}

TEST_F(CallHistoryTest, ListCallsPagesNewestFirst) {
  std::string phone = NewPhone();
  std::string agent = "list-agent-" + NewCallId();
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(NewCallId("list"));
    ASSERT_TRUE(StartCall(phone, agent, ids.back()).status.ok());
    ASSERT_TRUE(Complete(ids.back()).status.ok());
  }
  for (auto by :
       {parley::v1::ListCallRecordsRequest::kPhone, parley::v1::ListCallRecordsRequest::kAgent}) {
    parley::v1::ListCallRecordsRequest req;
    if (by == parley::v1::ListCallRecordsRequest::kPhone) {
      req.set_phone(phone);
    } else {
      req.set_agent(agent);
    }
    req.mutable_page()->set_page_size(3);
    std::vector<std::string> seen;
    std::vector<int> sizes;
    for (;;) {
      auto page = List(req);
      ASSERT_TRUE(page.status.ok()) << page.status.error_message();
      sizes.push_back(page.response.calls_size());
      for (const auto& c : page.response.calls()) seen.push_back(c.call_id());
      if (page.response.next_page_token().empty()) break;
      req.mutable_page()->set_page_token(page.response.next_page_token());
    }
    EXPECT_EQ(sizes, (std::vector<int>{3, 3, 1}));
    EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));
  }

  parley::v1::ListCallRecordsRequest first;
  first.set_phone(phone);
  first.mutable_page()->set_page_size(2);
  auto page = List(first);
  ASSERT_FALSE(page.response.next_page_token().empty());
  parley::v1::ListCallRecordsRequest other;
  other.set_agent(agent);
  other.mutable_page()->set_page_token(page.response.next_page_token());
  EXPECT_TRUE(absl::StartsWith(List(other).status.error_message(), "page.page_token: "));
  other.mutable_page()->set_page_token("garbage!");
  EXPECT_TRUE(absl::StartsWith(List(other).status.error_message(), "page.page_token: "));
  EXPECT_TRUE(absl::StartsWith(List({}).status.error_message(), "filter: "));

  parley::v1::ListCallRecordsRequest by_campaign;
  by_campaign.set_campaign("spring");
  by_campaign.mutable_page()->set_page_size(1000);
  auto campaign = List(by_campaign);
  ASSERT_TRUE(campaign.status.ok());
  std::set<std::string> campaign_ids;
  for (const auto& c : campaign.response.calls()) campaign_ids.insert(c.call_id());
  for (const std::string& id : ids) EXPECT_TRUE(campaign_ids.contains(id)) << id;
}

TEST_F(CallHistoryTest, FullNumbersOnlyForServiceScope) {
  std::string phone = NewPhone(), call = NewCallId();
  ASSERT_TRUE(StartCall(phone, "sales", call).status.ok());
  std::string masked = "+*******" + phone.substr(phone.size() - 4);

  auto full = GetCall(call, std::nullopt, testing::kServiceToken);
  EXPECT_EQ(full.response.phone(), phone);
  EXPECT_EQ(full.response.phone_masked(), masked);
  for (const char* token : {kConfigToken, kCallsToken}) {
    auto masked_only = GetCall(call, std::nullopt, token);
    ASSERT_TRUE(masked_only.status.ok()) << token << ": " << masked_only.status.error_message();
    EXPECT_EQ(masked_only.response.phone(), "") << token;
    EXPECT_EQ(masked_only.response.phone_masked(), masked) << token;

    parley::v1::ListCallRecordsRequest req;
    req.set_phone(phone);
    auto listed = List(req, token);
    ASSERT_EQ(listed.response.calls_size(), 1);
    EXPECT_EQ(listed.response.calls(0).phone(), "");
    EXPECT_EQ(listed.response.calls(0).phone_masked(), masked);
  }
  parley::v1::ListCallRecordsRequest req;
  req.set_phone(phone);
  EXPECT_EQ(List(req, testing::kServiceToken).response.calls(0).phone(), phone);
  // Writes need `service`.
  parley::v1::AppendTurnsRequest append;
  append.set_call_id(call);
  parley::v1::AppendTurnsResponse ignored;
  EXPECT_EQ(Stub()->AppendTurns(Ctx(kConfigToken).get(), append, &ignored).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace parley::state
