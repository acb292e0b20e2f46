// The dispatcher's pure parts: request checks, conversions, event ids, registry hashes.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/dispatcher/call_admission.h"
#include "services/dispatcher/call_conversion.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/dispatcher_handler.h"
#include "services/dispatcher/worker_registry.h"

namespace parley::dispatcher {
namespace {

using parley::v1::CreateCallRequest;

CreateCallRequest Valid() {
  CreateCallRequest r;
  r.set_to("(415) 555-2671");
  r.set_agent("pay");
  return r;
}

// The field the INVALID_ARGUMENT message names first, or "" for OK.
std::string Field(const absl::Status& s) {
  if (s.ok()) return "";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message().substr(0, s.message().find(':')));
}

TEST(CheckCreateCallRequest, AcceptsAMinimalRequest) {
  EXPECT_TRUE(CheckCreateCallRequest(Valid(), absl::Now(), {}).ok());
  CreateCallRequest by_campaign = Valid();
  by_campaign.clear_agent();
  by_campaign.set_campaign("pay-us");
  EXPECT_TRUE(CheckCreateCallRequest(by_campaign, absl::Now(), {}).ok());
}

TEST(CheckCreateCallRequest, NamesTheOffendingField) {
  absl::Time now = absl::Now();
  auto check = [&](auto mutate) {
    CreateCallRequest r = Valid();
    mutate(r);
    return Field(CheckCreateCallRequest(r, now, {}));
  };
  EXPECT_EQ(check([](auto& r) { r.set_to("  "); }), "to");
  EXPECT_EQ(check([](auto& r) { r.clear_agent(); }), "agent");
  EXPECT_EQ(check([](auto& r) { r.set_agent("Not A Name"); }), "agent");
  EXPECT_EQ(check([](auto& r) { r.set_campaign("-x"); }), "campaign");
  EXPECT_EQ(
      check([](auto& r) {
        (*r.mutable_context()->mutable_fields())["blob"].set_string_value(std::string(70000, 'x'));
      }),
      "context");
  EXPECT_EQ(check([](auto& r) {
              (*r.mutable_overrides()->mutable_fields())["blob"].set_string_value(
                  std::string(70000, 'x'));
            }),
            "overrides");
  EXPECT_EQ(check([](auto& r) { r.set_from("415-555-2671"); }), "from");
  EXPECT_EQ(check([](auto& r) { r.set_idempotency_key(std::string(129, 'k')); }),
            "idempotency_key");
  EXPECT_EQ(check([](auto& r) { r.mutable_schedule_at()->set_nanos(-1); }), "schedule_at");
  EXPECT_EQ(
      check([&](auto& r) {
        r.mutable_schedule_at()->set_seconds(absl::ToUnixSeconds(now + absl::Hours(24 * 400)));
      }),
      "schedule_at");
  EXPECT_EQ(check([](auto& r) { r.set_max_attempts(0); }), "max_attempts");
  EXPECT_EQ(check([](auto& r) { r.set_max_attempts(21); }), "max_attempts");
  EXPECT_EQ(check([](auto& r) { r.set_direction(static_cast<parley::v1::Direction>(7)); }),
            "direction");
  EXPECT_EQ(check([](auto& r) { r.set_lead_id(std::string(200, 'l')); }), "lead_id");
  EXPECT_EQ(check([](auto& r) { r.set_max_attempts(20); }), "");
}

TEST(CheckCreateCallRequest, ContextLimitIs64KiBOfJson) {
  CreateCallRequest r = Valid();
  (*r.mutable_context()->mutable_fields())["k"].set_string_value(std::string(65000, 'x'));
  EXPECT_TRUE(CheckCreateCallRequest(r, absl::Now(), {}).ok());
  (*r.mutable_context()->mutable_fields())["k"].set_string_value(std::string(65536, 'x'));
  absl::Status s = CheckCreateCallRequest(r, absl::Now(), {});
  EXPECT_TRUE(absl::StartsWith(s.message(), "context: larger than 64 KiB")) << s;
}

TEST(NewCallId, IsUniqueAndShaped) {
  std::string a = NewCallId(), b = NewCallId();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 26u);
  EXPECT_TRUE(absl::StartsWith(a, "c_"));
}

TEST(Conversion, CallRecordToProto) {
  calls::CallRecord r;
  r.call_id = "c_1";
  r.status = parley::v1::CALL_STATUS_SCHEDULED;
  r.to = "+14155552671";
  r.agent = "pay";
  r.context_json = R"({"customer_name": "Ada", "amount": 3})";
  r.created_ms = 1700000000123;
  r.updated_ms = 1700000000456;
  r.due_ms = 1700000100000;
  r.direction = "outbound";
  parley::v1::Call c = ToProtoCall(r);
  EXPECT_EQ(c.to_masked(), "+*******2671");
  EXPECT_EQ(c.create_time().seconds(), 1700000000);
  EXPECT_EQ(c.create_time().nanos(), 123000000);
  EXPECT_EQ(c.schedule_at().seconds(), 1700000100);
  EXPECT_FALSE(c.has_end_time());
  EXPECT_EQ(c.context().fields().at("customer_name").string_value(), "Ada");
  EXPECT_EQ(c.direction(), parley::v1::DIRECTION_OUTBOUND);

  r.status = parley::v1::CALL_STATUS_COMPLETED;
  r.answered_ms = 1700000030000;
  r.ended_ms = 1700000090000;
  c = ToProtoCall(r);
  EXPECT_FALSE(c.has_schedule_at());
  EXPECT_EQ(c.answer_time().seconds(), 1700000030);
  EXPECT_EQ(c.end_time().seconds(), 1700000090);
}

TEST(Conversion, EventDetailTimesBecomeRfc3339) {
  calls::CallEvent e;
  e.event_id = "1-0";
  e.type = "";
  e.status = parley::v1::CALL_STATUS_BUSY;
  e.detail = {{"retry_at", "1700000000000"}, {"sip_code", "486"}};
  parley::v1::CallEvent p = ToProtoEvent(e);
  EXPECT_EQ(p.type(), "status");
  EXPECT_EQ(p.detail().at("retry_at"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(p.detail().at("sip_code"), "486");
  EXPECT_FALSE(IsFinalEvent(e));  // a retry follows
  e.detail.clear();
  EXPECT_TRUE(IsFinalEvent(e));
  e.type = "node";
  EXPECT_FALSE(IsFinalEvent(e));
}

TEST(EventIds, OnlyStreamIdsPass) {
  EXPECT_TRUE(CheckEventId("after_event_id", "0").ok());
  EXPECT_TRUE(CheckEventId("after_event_id", "1700000000000-3").ok());
  EXPECT_FALSE(CheckEventId("after_event_id", "$").ok());
  EXPECT_FALSE(CheckEventId("after_event_id", "12-").ok());
  EXPECT_FALSE(CheckEventId("after_event_id", "abc").ok());
  // Past a 64-bit number: Redis would refuse it, and the caller would see INTERNAL.
  EXPECT_TRUE(CheckEventId("after_event_id", "18446744073709551615-18446744073709551615").ok());
  EXPECT_EQ(CheckEventId("after_event_id", "99999999999999999999999-0").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CheckEventId("after_event_id", "1-18446744073709551616").ok());
}

TEST(WorkerRegistry, HashToWorkerInfo) {
  parley::v1::WorkerInfo w = WorkerFromHash({{"host", "box"},
                                             {"pid", "42"},
                                             {"capacity", "8"},
                                             {"active_calls", "2"},
                                             {"draining", "1"},
                                             {"heartbeat_ms", "1700000000000"},
                                             {"call_ids", "c_1,c_2"}},
                                            "w-from-key");
  EXPECT_EQ(w.worker_id(), "w-from-key");
  EXPECT_EQ(w.pid(), 42);
  EXPECT_EQ(w.capacity(), 8);
  EXPECT_EQ(w.active_calls(), 2);
  EXPECT_TRUE(w.draining());
  EXPECT_EQ(w.heartbeat_time().seconds(), 1700000000);
  ASSERT_EQ(w.call_ids_size(), 2);
  EXPECT_EQ(w.call_ids(1), "c_2");
}

TEST(ConfigStatus, TransportTroubleIsUnavailableAndAuthIsInternal) {
  EXPECT_EQ(FromConfigStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow"), "X").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromConfigStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no"), "X").code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(FromConfigStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "x"), "X").code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace parley::dispatcher
