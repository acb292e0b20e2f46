#include "services/state/store_rows.h"

#include <google/protobuf/descriptor.h>

#include <cctype>

#include "absl/strings/str_cat.h"
#include "common/calls/call_store.h"
#include "common/status/status.h"

namespace parley::state::internal {
namespace {

std::string ShortName(const google::protobuf::EnumDescriptor* descriptor, int number,
                      std::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* value = descriptor->FindValueByNumber(number);
  if (value == nullptr) return "";
  std::string name = value->name().substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

int ParseShortName(const google::protobuf::EnumDescriptor* descriptor, std::string_view name,
                   std::string_view prefix) {
  std::string full(prefix);
  for (char c : name) full += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const google::protobuf::EnumValueDescriptor* value = descriptor->FindValueByName(full);
  return value == nullptr ? 0 : value->number();
}

void SetTime(std::int64_t micros, google::protobuf::Timestamp* out) {
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<std::int32_t>(micros % 1000000) * 1000);
}

void SetDuration(std::int64_t millis, google::protobuf::Duration* out) {
  out->set_seconds(millis / 1000);
  out->set_nanos(static_cast<std::int32_t>(millis % 1000) * 1000000);
}

}  // namespace

Conversation ConversationFromRow(const pqxx::row& row, int first) {
  Conversation c;
  c.phone = row[first + 0].as<std::string>();
  c.phone_masked = row[first + 1].as<std::string>();
  c.agent = row[first + 2].as<std::string>();
  c.call_id = row[first + 3].as<std::string>();
  c.attempt = row[first + 4].as<int>();
  c.state = nlohmann::json::parse(row[first + 5].as<std::string>());
  c.version = row[first + 6].as<std::int64_t>();
  c.active = row[first + 7].as<bool>();
  c.call_count = row[first + 8].as<int>();
  c.first_call_time = absl::FromUnixMicros(row[first + 9].as<std::int64_t>());
  c.update_time = absl::FromUnixMicros(row[first + 10].as<std::int64_t>());
  return c;
}

parley::v1::CallRecord CallFromRow(const pqxx::row& row, int first) {
  auto text = [&](int i) { return row[first + i].as<std::string>(); };
  parley::v1::CallRecord r;
  r.set_call_id(text(0));
  r.set_attempt(row[first + 1].as<int>());
  r.set_status(calls::ParseStatus(text(2)).value_or(parley::v1::CALL_STATUS_UNSPECIFIED));
  r.set_ended_reason(text(3));
  r.set_agent(text(4));
  r.set_campaign(text(5));
  r.set_phone_masked(text(6));
  r.set_phone(text(7));
  r.set_direction(static_cast<parley::v1::Direction>(
      ParseShortName(parley::v1::Direction_descriptor(), text(8), "DIRECTION_")));
  r.set_worker_id(text(9));
  SetTime(row[first + 10].as<std::int64_t>(), r.mutable_start_time());
  if (!row[first + 11].is_null()) {
    SetTime(row[first + 11].as<std::int64_t>(), r.mutable_answer_time());
  }
  if (!row[first + 12].is_null()) {
    SetTime(row[first + 12].as<std::int64_t>(), r.mutable_end_time());
    // Durations are meaningful once the attempt ended.
    SetDuration(row[first + 13].as<std::int64_t>(), r.mutable_ring_duration());
    SetDuration(row[first + 14].as<std::int64_t>(), r.mutable_talk_duration());
  }
  r.set_summary(text(15));
  const nlohmann::json metrics = nlohmann::json::parse(text(16));
  for (const auto& [key, value] : metrics.items()) {
    if (value.is_number()) (*r.mutable_metrics())[key] = value.get<double>();
  }
  r.set_lead_id(text(17));
  return r;
}

std::string DirectionName(parley::v1::Direction direction) {
  return ShortName(parley::v1::Direction_descriptor(), direction, "DIRECTION_");
}

std::string RoleName(parley::v1::Role role) {
  return ShortName(parley::v1::Role_descriptor(), role, "ROLE_");
}

parley::v1::Role ParseRole(std::string_view name) {
  return static_cast<parley::v1::Role>(
      ParseShortName(parley::v1::Role_descriptor(), name, "ROLE_"));
}

absl::Status UnknownCall(std::string_view call_id, std::optional<int> attempt) {
  std::string what = absl::StrCat("unknown call \"", AbslView(call_id), "\"");
  if (attempt) absl::StrAppend(&what, " (attempt ", *attempt, ")");
  return InvalidField("call_id", what);
}

std::optional<std::string> CurrentNode(const nlohmann::json& state) {
  auto it = state.find("current_node");
  if (it == state.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace parley::state::internal
