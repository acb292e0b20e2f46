#include "services/state/state_handler.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/calls/call_store.h"
#include "common/json/struct_convert.h"
#include "common/phone/phone.h"
#include "common/status/status.h"

namespace parley::state {
namespace {

using grpcx::kScopeService;

constexpr size_t kMaxIdLength = 128;
constexpr int kMaxTurnsPerAppend = 1000;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
// Latest second a google.protobuf.Timestamp may hold (9999-12-31T23:59:59Z).
constexpr std::int64_t kMaxTimestampSeconds = 253402300799;

absl::Status CheckPhone(std::string_view phone, std::string_view field) {
  if (!phone::IsE164(phone)) return InvalidField(field, "must be an E.164 number (+14155552671)");
  return absl::OkStatus();
}

// A request's attempt: 0 means 1.
absl::StatusOr<int> AttemptOf(int attempt) {
  if (attempt < 0) return InvalidField("attempt", "must not be negative");
  return attempt == 0 ? 1 : attempt;
}

absl::Status CheckOptionalAttempt(bool has, int attempt) {
  if (has && attempt < 1) return InvalidField("attempt", "must be 1 or more when set");
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> TimeOf(const google::protobuf::Timestamp& t, std::string_view field) {
  if (t.seconds() < 0 || t.seconds() > kMaxTimestampSeconds || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return InvalidField(field, "not a valid timestamp");
  }
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// An attempt ends in a terminal status; `rejected` is not one: such a call never started.
bool IsTerminalOutcome(parley::v1::CallStatus s) {
  return calls::IsTerminal(s) && s != parley::v1::CALL_STATUS_REJECTED;
}

// Bounds of the free text the workers send, so that one request cannot grow a call's record
// (or its conversation state, where the summary and lead_id also go) without limit.
// (Names and ids — lead_id, campaign, worker_id, node, reason, keys — have kMaxIdLength.)
constexpr size_t kMaxTextBytes = 64 * 1024;  // a turn's text, a call's summary
constexpr int kMaxDurableKeys = 64;
constexpr int kMaxMetrics = 128;

absl::Status CheckLength(std::string_view value, std::string_view field, size_t max) {
  if (value.size() > max) {
    return InvalidField(field, absl::StrCat("longer than ", max, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckId(std::string_view value, std::string_view field) {
  if (value.empty()) return InvalidField(field, "required");
  return CheckLength(value, field, kMaxIdLength);
}

absl::Status CheckTurn(const parley::v1::Turn& t, int index) {
  std::string at = absl::StrCat("turns[", index, "].");
  PARLEY_RETURN_IF_ERROR(CheckLength(t.text(), at + "text", kMaxTextBytes));
  if (t.seq() < 0) return InvalidField(at + "seq", "must not be negative");
  if (t.role() == parley::v1::ROLE_UNSPECIFIED || !parley::v1::Role_IsValid(t.role())) {
    return InvalidField(at + "role", "must be agent, callee, system or tool");
  }
  if (t.start_ms() < 0) return InvalidField(at + "start_ms", "must not be negative");
  if (t.end_ms() < t.start_ms()) return InvalidField(at + "end_ms", "must not be before start_ms");
  return absl::OkStatus();
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  std::int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<std::int32_t>(micros % 1000000) * 1000);
}

// The record as `who` may see it.
void MaskFor(const grpcx::Principal& who, parley::v1::CallRecord* record) {
  if (!who.HasScope(kScopeService)) record->clear_phone();
}

}  // namespace

StateHandler::StateHandler(StateStore* store, grpcx::TokenAuth auth)
    : store_(store), auth_(std::move(auth)) {}

absl::StatusOr<grpcx::Principal> StateHandler::AuthorizeRead(
    const grpc::ServerContext& context) const {
  absl::StatusOr<grpcx::Principal> who = auth_.Authorize(context, grpcx::kScopeConfig);
  if (who.ok() || !absl::IsPermissionDenied(who.status())) return who;
  who = auth_.Authorize(context, grpcx::kScopeCalls);
  if (who.ok() || !absl::IsPermissionDenied(who.status())) return who;
  return absl::PermissionDeniedError("token lacks scope \"config\" or \"calls\"");
}

grpc::Status StateHandler::StartCall(grpc::ServerContext* context,
                                     const parley::v1::StartCallRequest* request,
                                     parley::v1::StartCallResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, kScopeService);
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckPhone(request->phone(), "phone"));
    PARLEY_RETURN_IF_ERROR(CheckId(request->agent(), "agent"));
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    PARLEY_ASSIGN_OR_RETURN(int attempt, AttemptOf(request->attempt()));
    PARLEY_RETURN_IF_ERROR(CheckLength(request->lead_id(), "lead_id", kMaxIdLength));
    PARLEY_RETURN_IF_ERROR(CheckLength(request->campaign(), "campaign", kMaxIdLength));
    PARLEY_RETURN_IF_ERROR(CheckLength(request->worker_id(), "worker_id", kMaxIdLength));
    if (request->durable_keys_size() > kMaxDurableKeys) {
      return InvalidField("durable_keys", absl::StrCat("at most ", kMaxDurableKeys));
    }
    StartCallParams params{.phone = request->phone(),
                           .agent = request->agent(),
                           .call_id = request->call_id(),
                           .attempt = attempt,
                           .lead_id = request->lead_id(),
                           .campaign = request->campaign(),
                           .worker_id = request->worker_id()};
    for (int i = 0; i < request->durable_keys_size(); ++i) {
      if (request->durable_keys(i).empty()) {
        return InvalidField(absl::StrCat("durable_keys[", i, "]"), "must not be empty");
      }
      PARLEY_RETURN_IF_ERROR(CheckLength(request->durable_keys(i),
                                         absl::StrCat("durable_keys[", i, "]"), kMaxIdLength));
      params.durable_keys.push_back(request->durable_keys(i));
    }
    switch (request->direction()) {
      case parley::v1::DIRECTION_UNSPECIFIED:
      case parley::v1::DIRECTION_OUTBOUND:
        params.direction = parley::v1::DIRECTION_OUTBOUND;
        break;
      case parley::v1::DIRECTION_INBOUND:
        params.direction = parley::v1::DIRECTION_INBOUND;
        break;
      default:
        return InvalidField("direction", "must be outbound or inbound");
    }
    PARLEY_ASSIGN_OR_RETURN(StartedCall started, store_->StartCall(params));
    PARLEY_ASSIGN_OR_RETURN(*response->mutable_state(),
                            json::JsonToStruct(started.conversation.state, "state"));
    response->set_version(started.conversation.version);
    response->set_call_count(started.conversation.call_count);
    response->set_took_over_call_id(started.took_over_call_id);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::UpdateState(grpc::ServerContext* context,
                                       const parley::v1::UpdateStateRequest* request,
                                       parley::v1::UpdateStateResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, kScopeService);
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    if (request->attempt() < 0) return InvalidField("attempt", "must not be negative");
    if (!request->has_patch()) return InvalidField("patch", "required (a JSON object)");
    nlohmann::json patch = json::StructToJson(request->patch());
    // What cannot travel back as a Struct (too deep) must not get into the state.
    PARLEY_RETURN_IF_ERROR(json::JsonToStruct(patch, "patch").status());
    PARLEY_ASSIGN_OR_RETURN(Conversation c,
                            store_->UpdateState(request->call_id(), request->attempt(), patch));
    PARLEY_ASSIGN_OR_RETURN(*response->mutable_state(), json::JsonToStruct(c.state, "state"));
    response->set_version(c.version);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::GetState(grpc::ServerContext* context,
                                    const parley::v1::GetStateRequest* request,
                                    parley::v1::ConversationState* response) {
  absl::StatusOr<grpcx::Principal> who = AuthorizeRead(*context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckPhone(request->phone(), "phone"));
    PARLEY_RETURN_IF_ERROR(CheckId(request->agent(), "agent"));
    PARLEY_ASSIGN_OR_RETURN(Conversation c, store_->GetState(request->phone(), request->agent()));
    response->set_phone_masked(c.phone_masked);
    response->set_agent(c.agent);
    PARLEY_ASSIGN_OR_RETURN(*response->mutable_state(), json::JsonToStruct(c.state, "state"));
    response->set_version(c.version);
    response->set_call_count(c.call_count);
    if (c.active) response->set_active_call_id(c.call_id);
    SetTimestamp(c.first_call_time, response->mutable_create_time());
    SetTimestamp(c.update_time, response->mutable_update_time());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::GetCall(grpc::ServerContext* context,
                                   const parley::v1::GetCallRecordRequest* request,
                                   parley::v1::CallRecord* response) {
  absl::StatusOr<grpcx::Principal> who = AuthorizeRead(*context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    PARLEY_RETURN_IF_ERROR(CheckOptionalAttempt(request->has_attempt(), request->attempt()));
    std::optional<int> attempt;
    if (request->has_attempt()) attempt = request->attempt();
    PARLEY_ASSIGN_OR_RETURN(*response, store_->GetCall(request->call_id(), attempt));
    MaskFor(*who, response);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::ListCalls(grpc::ServerContext* context,
                                     const parley::v1::ListCallRecordsRequest* request,
                                     parley::v1::ListCallRecordsResponse* response) {
  absl::StatusOr<grpcx::Principal> who = AuthorizeRead(*context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  auto run = [&]() -> absl::Status {
    CallQuery query;
    switch (request->filter_case()) {
      case parley::v1::ListCallRecordsRequest::kPhone:
        PARLEY_RETURN_IF_ERROR(CheckPhone(request->phone(), "phone"));
        query.by = CallFilter::kPhone;
        query.value = request->phone();
        break;
      case parley::v1::ListCallRecordsRequest::kAgent:
        PARLEY_RETURN_IF_ERROR(CheckId(request->agent(), "agent"));
        query.by = CallFilter::kAgent;
        query.value = request->agent();
        break;
      case parley::v1::ListCallRecordsRequest::kCampaign:
        PARLEY_RETURN_IF_ERROR(CheckId(request->campaign(), "campaign"));
        query.by = CallFilter::kCampaign;
        query.value = request->campaign();
        break;
      default:
        return InvalidField("filter", "set one of phone, agent or campaign");
    }
    int size = request->page().page_size();
    if (size < 0) return InvalidField("page.page_size", "must not be negative");
    query.page_size = size == 0 ? kDefaultPageSize : std::min(size, kMaxPageSize);
    query.page_token = request->page().page_token();
    PARLEY_ASSIGN_OR_RETURN(CallPage page, store_->ListCalls(query));
    for (parley::v1::CallRecord& record : page.calls) {
      MaskFor(*who, &record);
      *response->add_calls() = std::move(record);
    }
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::AppendTurns(grpc::ServerContext* context,
                                       const parley::v1::AppendTurnsRequest* request,
                                       parley::v1::AppendTurnsResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, kScopeService);
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    PARLEY_ASSIGN_OR_RETURN(int attempt, AttemptOf(request->attempt()));
    if (request->turns_size() > kMaxTurnsPerAppend) {
      return InvalidField("turns", absl::StrCat("at most ", kMaxTurnsPerAppend, " per request"));
    }
    std::vector<parley::v1::Turn> turns;
    for (int i = 0; i < request->turns_size(); ++i) {
      PARLEY_RETURN_IF_ERROR(CheckTurn(request->turns(i), i));
      turns.push_back(request->turns(i));
    }
    PARLEY_ASSIGN_OR_RETURN(AppendResult result,
                            store_->AppendTurns(request->call_id(), attempt, turns));
    response->set_appended(result.appended);
    response->set_duplicates(result.duplicates);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::GetTranscript(grpc::ServerContext* context,
                                         const parley::v1::GetTranscriptRequest* request,
                                         parley::v1::GetTranscriptResponse* response) {
  absl::StatusOr<grpcx::Principal> who = AuthorizeRead(*context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    PARLEY_RETURN_IF_ERROR(CheckOptionalAttempt(request->has_attempt(), request->attempt()));
    std::optional<int> attempt;
    if (request->has_attempt()) attempt = request->attempt();
    PARLEY_ASSIGN_OR_RETURN(std::vector<parley::v1::Turn> turns,
                            store_->GetTranscript(request->call_id(), attempt));
    response->set_call_id(request->call_id());
    for (parley::v1::Turn& t : turns) *response->add_turns() = std::move(t);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::CompleteCall(grpc::ServerContext* context,
                                        const parley::v1::CompleteCallRequest* request,
                                        parley::v1::CallRecord* response) {
  PARLEY_AUTHORIZE(auth_, context, kScopeService);
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    PARLEY_ASSIGN_OR_RETURN(int attempt, AttemptOf(request->attempt()));
    if (!IsTerminalOutcome(request->outcome())) {
      return InvalidField("outcome",
                          "must be a terminal status (completed, busy, no_answer, "
                          "declined, voicemail, failed, canceled)");
    }
    PARLEY_RETURN_IF_ERROR(CheckLength(request->ended_reason(), "ended_reason", kMaxIdLength));
    PARLEY_RETURN_IF_ERROR(CheckLength(request->summary(), "summary", kMaxTextBytes));
    if (request->metrics_size() > kMaxMetrics) {
      return InvalidField("metrics", absl::StrCat("at most ", kMaxMetrics));
    }
    CompleteCallParams params{.call_id = request->call_id(),
                              .attempt = attempt,
                              .outcome = request->outcome(),
                              .ended_reason = request->ended_reason(),
                              .summary = request->summary()};
    for (const auto& [key, value] : request->metrics()) {
      if (key.empty()) return InvalidField("metrics", "keys must not be empty");
      PARLEY_RETURN_IF_ERROR(CheckLength(key, "metrics", kMaxIdLength));
      if (!std::isfinite(value)) {
        return InvalidField(absl::StrCat("metrics.", key), "must be a finite number");
      }
      params.metrics[key] = value;
    }
    if (request->has_answer_time()) {
      PARLEY_ASSIGN_OR_RETURN(params.answer_time, TimeOf(request->answer_time(), "answer_time"));
    }
    if (request->has_end_time()) {
      PARLEY_ASSIGN_OR_RETURN(params.end_time, TimeOf(request->end_time(), "end_time"));
    }
    if (params.answer_time && params.end_time && *params.answer_time > *params.end_time) {
      return InvalidField("answer_time", "must not be after end_time");
    }
    PARLEY_ASSIGN_OR_RETURN(*response, store_->CompleteCall(params));
    return absl::OkStatus();
  };
  return ToGrpcStatus(run());
}

grpc::Status StateHandler::Heartbeat(grpc::ServerContext* context,
                                     const parley::v1::HeartbeatRequest* request,
                                     google::protobuf::Empty* response) {
  PARLEY_AUTHORIZE(auth_, context, kScopeService);
  auto run = [&]() -> absl::Status {
    PARLEY_RETURN_IF_ERROR(CheckId(request->call_id(), "call_id"));
    PARLEY_ASSIGN_OR_RETURN(int attempt, AttemptOf(request->attempt()));
    PARLEY_RETURN_IF_ERROR(CheckLength(request->current_node(), "current_node", kMaxIdLength));
    return store_->Heartbeat(request->call_id(), attempt, request->current_node());
  };
  return ToGrpcStatus(run());
}

}  // namespace parley::state
