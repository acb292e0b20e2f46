// CreateCall / CreateCalls over gRPC on loopback, against a real config-api (in process, scratch
// Postgres database) and the shared Redis (a key prefix per test).
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/json/struct_convert.h"
#include "services/dispatcher/testing/dispatcher_env.h"

namespace parley::dispatcher {
namespace {

using parley::v1::Call;
using parley::v1::CreateCallRequest;
using testing::ConfigApiEnv;
using testing::DispatcherEnv;

class CreateCallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new ConfigApiEnv();
    config_->MakeAgent("pay");
    config_->MakeAgent("lead");
    config_->MakeCampaign("pay-us", R"({"agent": "pay", "region": "US",
        "retry_policy": {"max_attempts": 4}})");
    config_->MakeCampaign("pay-gb", R"({"agent": "pay", "region": "GB"})");
    // Every day 09:00–20:00; weekdays only; both in New York when the callee's zone is unknown.
    config_->MakeCampaign("daily-ny", R"({"agent": "pay", "region": "US", "calling_window":
        {"time_zone": "America/New_York", "start": "09:00", "end": "20:00"}})");
    config_->MakeCampaign("weekday-ny", R"({"agent": "pay", "region": "US", "calling_window":
        {"time_zone": "America/New_York", "days": ["mon", "tue", "wed", "thu", "fri"],
         "start": "09:00", "end": "20:00"}})");
    config_->AddDnc("+12125550100");
    config_->AddDnc("+12125550101", "pay-us");
  }
  static void TearDownTestSuite() { delete config_; }

  static CreateCallRequest Req(const std::string& to, const std::string& agent = "pay",
                               const std::string& campaign = "") {
    CreateCallRequest r;
    r.set_to(to);
    r.set_agent(agent);
    r.set_campaign(campaign);
    return r;
  }

  // Calls CreateCall on `env`; `out` receives the call.
  static grpc::Status Create(DispatcherEnv& env, const CreateCallRequest& r, Call* out = nullptr) {
    Call ignored;
    return env.stub().CreateCall(env.Ctx().get(), r, out ? out : &ignored);
  }

  static long long Count(DispatcherEnv& env, const std::string& cmd, const std::string& key) {
    return env.redis().Command({cmd, env.prefix() + key})->integer;
  }

  static ConfigApiEnv* config_;
};

ConfigApiEnv* CreateCallTest::config_;

// A clock pinned at a civil time in a zone.
std::function<absl::Time()> ClockAt(absl::CivilSecond civil, const char* zone) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(zone, &tz));
  absl::Time t = absl::FromCivil(civil, tz);
  return [t] { return t; };
}

absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), absl::UTCTimeZone());
}

absl::Time ScheduleAt(const Call& call) {
  return absl::FromUnixSeconds(call.schedule_at().seconds());
}

TEST_F(CreateCallTest, QueuesAValidCallInOneStep) {
  DispatcherEnv env(config_->channel());
  CreateCallRequest r = Req("(415) 555-2671");
  *r.mutable_context() = *json::JsonToStruct(nlohmann::json{{"customer_name", "Ada"}});
  r.set_lead_id("lead-7");
  Call call;
  grpc::Status s = Create(env, r, &call);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(absl::StartsWith(call.call_id(), "c_"));
  EXPECT_EQ(call.status(), parley::v1::CALL_STATUS_QUEUED);
  EXPECT_EQ(call.to(), "+14155552671");
  EXPECT_EQ(call.to_masked(), "+*******2671");
  EXPECT_EQ(call.attempt(), 1);
  EXPECT_EQ(call.max_attempts(), 1);  // no campaign, no max_attempts
  EXPECT_EQ(call.context().fields().at("customer_name").string_value(), "Ada");
  EXPECT_EQ(call.lead_id(), "lead-7");
  EXPECT_EQ(call.direction(), parley::v1::DIRECTION_OUTBOUND);
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 1);
  EXPECT_EQ(Count(env, "XLEN", "call:" + call.call_id() + ":events"), 1);
  EXPECT_EQ(Count(env, "ZCARD", "delayed"), 0);
}

TEST_F(CreateCallTest, AcceptsHumanFormats) {
  DispatcherEnv env(config_->channel());
  for (const auto& [in, want] :
       std::vector<std::pair<std::string, std::string>>{{"(415) 555-2671", "+14155552671"},
                                                        {"+44 20 7946 0958", "+442079460958"},
                                                        {"00 49 30 901820", "+4930901820"},
                                                        {"tel:+1-212-555-0123", "+12125550123"}}) {
    Call call;
    grpc::Status s = Create(env, Req(in), &call);
    ASSERT_TRUE(s.ok()) << in << ": " << s.error_message();
    EXPECT_EQ(call.to(), want) << in;
  }
}

TEST_F(CreateCallTest, RegionComesFromTheCampaign) {
  DispatcherEnv env(config_->channel());
  Call call;
  ASSERT_TRUE(Create(env, Req("020 7946 0958", "", "pay-gb"), &call).ok());
  EXPECT_EQ(call.to(), "+442079460958");
  EXPECT_EQ(call.agent(), "pay");  // the campaign's agent
  grpc::Status s = Create(env, Req("020 7946 0958", "pay", "pay-us"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "to: not a valid number for region US");
}

// One failing request per rule; each names its field, and none leaves a trace in Redis.
TEST_F(CreateCallTest, EachValidationRuleNamesItsField) {
  DispatcherEnv env(config_->channel());
  struct Case {
    std::string name;
    std::function<void(CreateCallRequest&)> mutate;
    grpc::StatusCode code;
    std::string prefix;
  };
  const std::vector<Case> cases = {
      {"to missing", [](auto& r) { r.clear_to(); }, grpc::StatusCode::INVALID_ARGUMENT, "to: "},
      {"to invalid", [](auto& r) { r.set_to("(555) 555-5555"); },
       grpc::StatusCode::INVALID_ARGUMENT, "to: not a valid number for region US"},
      {"to unparsable", [](auto& r) { r.set_to("1-800-FLOWERS"); },
       grpc::StatusCode::INVALID_ARGUMENT, "to: cannot parse"},
      {"agent missing", [](auto& r) { r.clear_agent(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "agent: "},
      {"agent unknown", [](auto& r) { r.set_agent("nobody"); }, grpc::StatusCode::NOT_FOUND,
       "agent: agent \"nobody\" not found"},
      {"campaign unknown", [](auto& r) { r.set_campaign("nothing"); }, grpc::StatusCode::NOT_FOUND,
       "campaign: campaign \"nothing\" not found"},
      {"campaign of another agent",
       [](auto& r) {
         r.set_agent("lead");
         r.set_campaign("pay-us");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "agent: campaign \"pay-us\" calls with agent \"pay\""},
      {"context too large",
       [](auto& r) {
         (*r.mutable_context()->mutable_fields())["x"].set_string_value(std::string(66000, 'x'));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "context: larger than 64 KiB"},
      {"context too deep",
       [](auto& r) {
         google::protobuf::Struct* at = r.mutable_context();
         for (int i = 0; i < 33; ++i) at = (*at->mutable_fields())["a"].mutable_struct_value();
       },
       grpc::StatusCode::INVALID_ARGUMENT, "context.a.a."},
      {"context not a number",
       [](auto& r) {
         (*r.mutable_context()->mutable_fields())["x"].set_number_value(
             std::numeric_limits<double>::infinity());
       },
       grpc::StatusCode::INVALID_ARGUMENT, "context.x: must be a finite number"},
      {"overrides invalid",
       [](auto& r) {
         *r.mutable_overrides() =
             *json::JsonToStruct(nlohmann::json::parse(R"({"llm": {"temperature": 7}})"));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "overrides: "},
      {"max_attempts", [](auto& r) { r.set_max_attempts(21); }, grpc::StatusCode::INVALID_ARGUMENT,
       "max_attempts: must be in [1, 20]"},
      {"from", [](auto& r) { r.set_from("555-2671"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "from: must be an E.164 number"},
      {"schedule_at", [](auto& r) { r.mutable_schedule_at()->set_seconds(4102444800); },  // 2100
       grpc::StatusCode::INVALID_ARGUMENT, "schedule_at: more than"},
      {"idempotency_key", [](auto& r) { r.set_idempotency_key(std::string(129, 'k')); },
       grpc::StatusCode::INVALID_ARGUMENT, "idempotency_key: at most 128"},
  };
  for (const Case& c : cases) {
    CreateCallRequest r = Req("(415) 555-2671");
    c.mutate(r);
    grpc::Status s = Create(env, r);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_TRUE(absl::StartsWith(s.error_message(), c.prefix))
        << c.name << ": got \"" << s.error_message() << "\", want prefix \"" << c.prefix << "\"";
  }
  EXPECT_EQ(Count(env, "ZCARD", "calls:created"), 0);
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 0);
}

TEST_F(CreateCallTest, ValidOverridesAreKeptWithTheCall) {
  DispatcherEnv env(config_->channel());
  CreateCallRequest r = Req("(415) 555-2671");
  *r.mutable_overrides() =
      *json::JsonToStruct(nlohmann::json::parse(R"({"llm": {"temperature": 0.2}})"));
  Call call;
  grpc::Status s = Create(env, r, &call);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(nlohmann::json::parse(env.store().Get(call.call_id())->overrides_json),
            nlohmann::json::parse(R"({"llm": {"temperature": 0.2}})"));
}

TEST_F(CreateCallTest, MaxAttemptsFromRequestElseCampaignPolicy) {
  DispatcherEnv env(config_->channel());
  Call call;
  ASSERT_TRUE(Create(env, Req("(415) 555-2671", "", "pay-us"), &call).ok());
  EXPECT_EQ(call.max_attempts(), 4);
  CreateCallRequest r = Req("(415) 555-2671", "", "pay-us");
  r.set_max_attempts(2);
  ASSERT_TRUE(Create(env, r, &call).ok());
  EXPECT_EQ(call.max_attempts(), 2);
  ASSERT_TRUE(Create(env, Req("+14155552671", "", "pay-gb"), &call).ok());
  EXPECT_EQ(call.max_attempts(), 3);  // the policy's default
}

TEST_F(CreateCallTest, FiftyConcurrentIdenticalRequestsMakeOneCall) {
  DispatcherEnv env(config_->channel());
  CreateCallRequest r = Req("(415) 555-2671", "", "pay-us");
  r.set_idempotency_key("crm-order-4711");
  std::vector<std::string> ids(50);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      Call call;
      grpc::Status s = Create(env, r, &call);
      if (!s.ok()) ++failures;
      ids[i] = call.call_id();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(Count(env, "ZCARD", "calls:created"), 1);
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 1);
  // And later, sequentially: still the same call.
  Call again;
  ASSERT_TRUE(Create(env, r, &again).ok());
  EXPECT_EQ(again.call_id(), ids[0]);
}

TEST_F(CreateCallTest, DncRejectsAndRecordsTheCall) {
  DispatcherEnv env(config_->channel());
  grpc::Status s = Create(env, Req("+1 212 555 0100"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "dnc: +*******0100 is on the global"))
      << s.error_message();
  EXPECT_EQ(s.error_message().find("2125550100"), std::string::npos);  // never the full number

  // Recorded as rejected/dnc, with its event, and no job.
  parley::v1::ListCallsRequest list;
  list.add_statuses(parley::v1::CALL_STATUS_REJECTED);
  parley::v1::ListCallsResponse listed;
  ASSERT_TRUE(env.stub().ListCalls(env.Ctx().get(), list, &listed).ok());
  ASSERT_EQ(listed.calls_size(), 1);
  EXPECT_EQ(listed.calls(0).ended_reason(), "dnc");
  EXPECT_EQ(listed.calls(0).to(), "+12125550100");
  EXPECT_NE(s.error_message().find(listed.calls(0).call_id()), std::string::npos);
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 0);

  // A campaign's own list blocks only that campaign's calls.
  s = Create(env, Req("+12125550101", "", "pay-us"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "dnc: ")) << s.error_message();
  EXPECT_TRUE(Create(env, Req("+12125550101", "", "pay-gb")).ok());
  EXPECT_TRUE(Create(env, Req("+12125550101")).ok());
}

TEST_F(CreateCallTest, RetryOfAnAcceptedCallSurvivesALaterDncEntry) {
  DispatcherEnv env(config_->channel());
  CreateCallRequest r = Req("+12125550102");
  r.set_idempotency_key("crm-retry-1");
  Call first, second;
  ASSERT_TRUE(Create(env, r, &first).ok());
  config_->AddDnc("+12125550102");
  grpc::Status s = Create(env, r, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.call_id(), first.call_id());
  // A new request (no key) is refused.
  EXPECT_EQ(Create(env, Req("+12125550102")).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CreateCallTest, DncAddIsRefusedAtOnceAndRemoveAllowedAtOnce) {
  DispatcherEnv env(config_->channel());
  for (int i = 0; i < 10; ++i) {
    const std::string n = absl::StrCat("+1212555", 2000 + i);
    ASSERT_TRUE(Create(env, Req(n)).ok());
    config_->AddDnc(n);  // returns once the entry is written
    EXPECT_EQ(Create(env, Req(n)).error_code(), grpc::StatusCode::FAILED_PRECONDITION) << n;
    config_->RemoveDnc(n);
    EXPECT_TRUE(Create(env, Req(n)).ok()) << n;
  }
  // A campaign's entry: refused in that campaign only, until removed.
  const std::string n = "+12125552100";
  config_->AddDnc(n, "pay-us");
  grpc::Status s = Create(env, Req(n, "", "pay-us"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "dnc: +*******2100 is on the campaign's"))
      << s.error_message();
  EXPECT_TRUE(Create(env, Req(n, "", "pay-gb")).ok());
  EXPECT_TRUE(Create(env, Req(n)).ok());
  config_->RemoveDnc(n, "pay-us");
  EXPECT_TRUE(Create(env, Req(n, "", "pay-us")).ok());
  // A global entry blocks every campaign.
  config_->AddDnc(n);
  EXPECT_EQ(Create(env, Req(n, "", "pay-gb")).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  config_->RemoveDnc(n);
}

TEST_F(CreateCallTest, DncWithoutTheIndexAsksConfigApiUntilTheReconcileRebuildsIt) {
  DispatcherEnv env(config_->channel());
  ASSERT_TRUE(env.redis().Command({"DEL", ConfigApiEnv::DncKey()}).ok());
  ASSERT_FALSE(*config_->dnc_index().Complete());
  // Listed numbers are still refused (through CheckDnc), with the same answer and record.
  grpc::Status s = Create(env, Req("+12125550100"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "dnc: +*******0100 is on the global"))
      << s.error_message();
  s = Create(env, Req("+12125550101", "", "pay-us"));
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "dnc: +*******0101 is on the campaign's"))
      << s.error_message();
  // An entry added while the index is gone is refused too (the add leaves an incomplete set).
  config_->AddDnc("+12125552200");
  EXPECT_EQ(Create(env, Req("+12125552200")).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  Call ok;
  ASSERT_TRUE(Create(env, Req("+12125552201"), &ok).ok());
  EXPECT_EQ(ok.status(), parley::v1::CALL_STATUS_QUEUED);
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 1);

  // The reconcile rebuilds it from Postgres; the Create script answers by itself again.
  ASSERT_TRUE(config_->ReconcileDnc().ok());
  ASSERT_TRUE(*config_->dnc_index().Complete());
  EXPECT_TRUE(*config_->dnc_index().Contains("+12125550100", ""));
  EXPECT_TRUE(*config_->dnc_index().Contains("+12125550101", "pay-us"));
  EXPECT_TRUE(*config_->dnc_index().Contains("+12125552200", ""));
  EXPECT_EQ(Create(env, Req("+12125552200")).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Create(env, Req("+12125552202")).ok());
  config_->RemoveDnc("+12125552200");
}

// America/New_York springs forward on 2026-03-08 (02:00 EST → 03:00 EDT).
TEST_F(CreateCallTest, WindowOpeningAcrossSpringForward) {
  // Saturday 2026-03-07 23:30 EST: closed; next opening Sunday 09:00 EDT = 13:00 UTC
  // (the day before, 09:00 was 14:00 UTC).
  DispatcherEnv env(config_->channel(),
                    {.admission = {.clock = ClockAt(absl::CivilSecond(2026, 3, 7, 23, 30, 0),
                                                    "America/New_York")}});
  Call call;
  ASSERT_TRUE(Create(env, Req("+12125550123", "", "daily-ny"), &call).ok());
  EXPECT_EQ(call.status(), parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(ScheduleAt(call), Utc(2026, 3, 8, 13, 0));
  EXPECT_EQ(Count(env, "ZCARD", "delayed"), 1);
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 0);

  // Weekdays only: Saturday evening → Monday 2026-03-09 09:00 EDT.
  ASSERT_TRUE(Create(env, Req("+12125550123", "", "weekday-ny"), &call).ok());
  EXPECT_EQ(ScheduleAt(call), Utc(2026, 3, 9, 13, 0));

  // The callee's zone wins over the campaign's: a San Francisco number opens at 09:00 PDT.
  ASSERT_TRUE(Create(env, Req("+14155552671", "", "daily-ny"), &call).ok());
  EXPECT_EQ(ScheduleAt(call), Utc(2026, 3, 8, 16, 0));
}

// America/New_York falls back on 2026-11-01 (02:00 EDT → 01:00 EST).
TEST_F(CreateCallTest, WindowOpeningAcrossFallBack) {
  DispatcherEnv env(config_->channel(),
                    {.admission = {.clock = ClockAt(absl::CivilSecond(2026, 10, 31, 22, 0, 0),
                                                    "America/New_York")}});
  Call call;
  ASSERT_TRUE(Create(env, Req("+12125550123", "", "daily-ny"), &call).ok());
  EXPECT_EQ(call.status(), parley::v1::CALL_STATUS_SCHEDULED);
  EXPECT_EQ(ScheduleAt(call), Utc(2026, 11, 1, 14, 0));  // 09:00 EST
}

TEST_F(CreateCallTest, InsideTheWindowQueuesAndScheduleAtIsKept) {
  // Wednesday 2026-03-11 10:00 EDT: open.
  DispatcherEnv env(config_->channel(),
                    {.admission = {.clock = ClockAt(absl::CivilSecond(2026, 3, 11, 10, 0, 0),
                                                    "America/New_York")}});
  Call call;
  ASSERT_TRUE(Create(env, Req("+12125550123", "", "weekday-ny"), &call).ok());
  EXPECT_EQ(call.status(), parley::v1::CALL_STATUS_QUEUED);
  // schedule_at inside the window: kept as is; at 21:00 (closed): moved to the next morning.
  CreateCallRequest r = Req("+12125550123", "", "weekday-ny");
  r.mutable_schedule_at()->set_seconds(absl::ToUnixSeconds(Utc(2026, 3, 11, 18, 30)));
  ASSERT_TRUE(Create(env, r, &call).ok());
  EXPECT_EQ(ScheduleAt(call), Utc(2026, 3, 11, 18, 30));
  r.mutable_schedule_at()->set_seconds(absl::ToUnixSeconds(Utc(2026, 3, 12, 1, 0)));
  ASSERT_TRUE(Create(env, r, &call).ok());
  EXPECT_EQ(ScheduleAt(call), Utc(2026, 3, 12, 13, 0));
}

TEST_F(CreateCallTest, RejectOutsideWindowRecordsTheRejection) {
  DispatcherEnv env(config_->channel(),
                    {.admission = {.clock = ClockAt(absl::CivilSecond(2026, 3, 7, 23, 30, 0),
                                                    "America/New_York")}});
  CreateCallRequest r = Req("+12125550123", "", "daily-ny");
  r.set_reject_outside_window(true);
  grpc::Status s = Create(env, r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "outside_calling_window: ")) << s.error_message();
  parley::v1::ListCallsRequest list;
  list.set_campaign("daily-ny");
  parley::v1::ListCallsResponse listed;
  ASSERT_TRUE(env.stub().ListCalls(env.Ctx().get(), list, &listed).ok());
  ASSERT_EQ(listed.calls_size(), 1);
  EXPECT_EQ(listed.calls(0).status(), parley::v1::CALL_STATUS_REJECTED);
  EXPECT_EQ(listed.calls(0).ended_reason(), "outside_calling_window");
  EXPECT_EQ(Count(env, "ZCARD", "delayed"), 0);
}

TEST_F(CreateCallTest, BatchRowsFailOnTheirOwn) {
  DispatcherEnv env(config_->channel());
  parley::v1::CreateCallsRequest batch;
  *batch.add_calls() = Req("(415) 555-2671");
  (*batch.mutable_calls(0)->mutable_context()->mutable_fields())["note"].set_string_value("vip");
  *batch.add_calls() = Req("not a number");
  *batch.add_calls() = Req("(415) 555-2671", "nobody");
  *batch.add_calls() = Req("+12125550100");  // DNC
  *batch.add_calls() = Req("+44 20 7946 0958", "", "pay-us");
  parley::v1::CreateCallsResponse out;
  grpc::Status s = env.stub().CreateCalls(env.Ctx().get(), batch, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.created(), 2);
  EXPECT_EQ(out.failed(), 3);
  ASSERT_EQ(out.results_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out.results(i).index(), i);
  EXPECT_TRUE(out.results(0).has_call());
  EXPECT_EQ(out.results(1).error().code(), 3);  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StartsWith(out.results(1).error().message(), "to: "));
  EXPECT_EQ(out.results(2).error().code(), 5);  // NOT_FOUND
  EXPECT_EQ(out.results(3).error().code(), 9);  // FAILED_PRECONDITION
  EXPECT_TRUE(absl::StartsWith(out.results(3).error().message(), "dnc: "));
  EXPECT_EQ(out.results(4).call().to(), "+442079460958");
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 2);
  // The results leave each row's context out (the answer stays no larger than the request);
  // the call has it.
  EXPECT_TRUE(out.results(0).call().context().fields().empty());
  Call got;
  parley::v1::GetCallRequest get;
  get.set_call_id(out.results(0).call().call_id());
  ASSERT_TRUE(env.stub().GetCall(env.Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.context().fields().at("note").string_value(), "vip");
}

// Only the workers (scope service) create inbound calls: a CRM's inbound call would be queued
// with no worker ever to run it — no caller is connected to any worker's SIP listener.
TEST_F(CreateCallTest, InboundCallsNeedTheServiceScope) {
  DispatcherEnv env(config_->channel());
  CreateCallRequest inbound = Req("(415) 555-2671");
  inbound.set_direction(parley::v1::DIRECTION_INBOUND);
  Call call;
  grpc::Status s = env.stub().CreateCall(env.Ctx().get(), inbound, &call);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "direction: ")) << s.error_message();
  parley::v1::CreateCallsRequest batch;
  *batch.add_calls() = inbound;
  *batch.add_calls() = Req("(415) 555-2672");
  parley::v1::CreateCallsResponse out;
  ASSERT_TRUE(env.stub().CreateCalls(env.Ctx().get(), batch, &out).ok());
  EXPECT_EQ(out.results(0).error().code(), 7);  // PERMISSION_DENIED
  EXPECT_TRUE(out.results(1).has_call());
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 1);

  s = env.stub().CreateCall(env.Ctx(testing::kServiceToken).get(), inbound, &call);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(call.direction(), parley::v1::DIRECTION_INBOUND);
}

TEST_F(CreateCallTest, BatchOfAThousand) {
  DispatcherEnv env(config_->channel());
  parley::v1::CreateCallsRequest batch;
  for (int i = 0; i < 1000; ++i) {
    *batch.add_calls() = Req(absl::StrCat("+1415555", 1000 + i), "", "pay-us");
  }
  parley::v1::CreateCallsResponse out;
  grpc::Status s =
      env.stub().CreateCalls(env.Ctx("crm-token-0001", absl::Seconds(60)).get(), batch, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.created(), 1000) << out.results(0).DebugString();
  EXPECT_EQ(Count(env, "XLEN", "jobs"), 1000);
}

TEST_F(CreateCallTest, BatchSizeLimits) {
  DispatcherEnv env(config_->channel());
  parley::v1::CreateCallsRequest batch;
  parley::v1::CreateCallsResponse out;
  grpc::Status s = env.stub().CreateCalls(env.Ctx().get(), batch, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "calls: ")) << s.error_message();
  for (int i = 0; i < 10001; ++i) batch.add_calls()->set_to("1");
  s = env.stub().CreateCalls(env.Ctx().get(), batch, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "calls: at most 10000 calls per batch, got 10001");
}

TEST_F(CreateCallTest, SpecsAreCachedButMissesAreNot) {
  DispatcherEnv env(config_->channel());
  auto first = env.config().GetCampaign("pay-us");
  auto second = env.config().GetCampaign("pay-us");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->get(), second->get());  // one lookup, shared
  // An agent created right after a miss is callable at once.
  EXPECT_EQ(Create(env, Req("(415) 555-2671", "fresh")).error_code(), grpc::StatusCode::NOT_FOUND);
  config_->MakeAgent("fresh");
  grpc::Status s = Create(env, Req("(415) 555-2671", "fresh"));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CreateCallTest, NeedsTheCallsScope) {
  DispatcherEnv env(config_->channel());
  Call call;
  EXPECT_EQ(env.stub()
                .CreateCall(env.Ctx(testing::kConfigToken).get(), Req("(415) 555-2671"), &call)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(env.stub().CreateCall(env.Ctx("").get(), Req("(415) 555-2671"), &call).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Count(env, "ZCARD", "calls:created"), 0);
}

}  // namespace
}  // namespace parley::dispatcher
