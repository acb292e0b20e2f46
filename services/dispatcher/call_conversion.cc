#include "services/dispatcher/call_conversion.h"

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/json/struct_convert.h"
#include "common/log/redact.h"

namespace parley::dispatcher {

google::protobuf::Timestamp MillisToTimestamp(int64_t ms) {
  google::protobuf::Timestamp ts;
  int64_t seconds = ms / 1000;
  int64_t rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rest * 1000000));
  return ts;
}

int64_t TimestampToMillis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1000000;
}

parley::v1::Call ToProtoCall(const calls::CallRecord& r, const google::protobuf::Struct* context) {
  parley::v1::Call call;
  call.set_call_id(r.call_id);
  call.set_status(r.status);
  call.set_to(r.to);
  call.set_to_masked(log::MaskPhone(r.to));
  call.set_agent(r.agent);
  call.set_campaign(r.campaign);
  call.set_from(r.from);
  call.set_attempt(r.attempt);
  call.set_max_attempts(r.max_attempts);
  call.set_ended_reason(r.ended_reason);
  call.set_worker_id(r.owner);
  if (r.created_ms > 0) *call.mutable_create_time() = MillisToTimestamp(r.created_ms);
  if (r.updated_ms > 0) *call.mutable_update_time() = MillisToTimestamp(r.updated_ms);
  if (r.status == parley::v1::CALL_STATUS_SCHEDULED && r.due_ms > 0) {
    *call.mutable_schedule_at() = MillisToTimestamp(r.due_ms);
  }
  if (r.answered_ms > 0) *call.mutable_answer_time() = MillisToTimestamp(r.answered_ms);
  if (calls::IsTerminal(r.status) && r.ended_ms > 0) {
    *call.mutable_end_time() = MillisToTimestamp(r.ended_ms);
  }
  if (context != nullptr) {
    *call.mutable_context() = *context;
  } else {
    nlohmann::json parsed =
        nlohmann::json::parse(r.context_json, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      if (auto s = json::JsonToStruct(parsed, "context"); s.ok()) {
        *call.mutable_context() = *std::move(s);
      }
    }
  }
  call.set_direction(r.direction == "inbound" ? parley::v1::DIRECTION_INBOUND
                                              : parley::v1::DIRECTION_OUTBOUND);
  call.set_lead_id(r.lead_id);
  return call;
}

parley::v1::CallEvent ToProtoEvent(const calls::CallEvent& e) {
  parley::v1::CallEvent event;
  event.set_event_id(e.event_id);
  event.set_call_id(e.call_id);
  event.set_status(e.status);
  event.set_ended_reason(e.ended_reason);
  event.set_attempt(e.attempt);
  event.set_worker_id(e.worker);
  if (e.time_ms > 0) *event.mutable_time() = MillisToTimestamp(e.time_ms);
  for (const auto& [k, v] : e.detail) {
    int64_t ms = 0;
    // The store keeps times as Unix ms; the API promises RFC 3339 for these details.
    if ((k == "retry_at" || k == "schedule_at") && absl::SimpleAtoi(v, &ms) && ms > 0) {
      (*event.mutable_detail())[k] =
          absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
    } else {
      (*event.mutable_detail())[k] = v;
    }
  }
  event.set_type(e.type.empty() ? "status" : e.type);
  event.set_campaign(e.campaign);
  return event;
}

bool IsFinalEvent(const calls::CallEvent& event) {
  if (!event.type.empty() && event.type != "status") return false;
  if (!calls::IsTerminal(event.status)) return false;
  return !event.detail.contains("retry_at");
}

}  // namespace parley::dispatcher
