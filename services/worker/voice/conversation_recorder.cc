#include "services/worker/voice/conversation_recorder.h"

#include "common/json/struct_convert.h"
#include "common/status/status.h"
#include "services/worker/service_clients.h"

namespace parley::worker {

absl::Status GrpcConversationRecorder::UpdateState(const std::string& call_id, int attempt,
                                                   const nlohmann::json& patch) {
  parley::v1::UpdateStateRequest request;
  request.set_call_id(call_id);
  request.set_attempt(attempt);
  PARLEY_ASSIGN_OR_RETURN(*request.mutable_patch(), json::JsonToStruct(patch, "patch"));
  return state_->UpdateState(request);
}

absl::Status GrpcConversationRecorder::AppendTurns(const std::string& call_id, int attempt,
                                                   std::vector<parley::v1::Turn> turns) {
  parley::v1::AppendTurnsRequest request;
  request.set_call_id(call_id);
  request.set_attempt(attempt);
  for (parley::v1::Turn& turn : turns) *request.add_turns() = std::move(turn);
  return state_->AppendTurnsOrDefer(request);
}

absl::Status GrpcConversationRecorder::AddDnc(const std::string& number,
                                              const std::string& campaign,
                                              const std::string& reason,
                                              const std::string& call_id) {
  parley::v1::AddDncRequest request;
  request.set_number(number);
  request.set_campaign(campaign);
  request.set_reason(reason);
  request.set_call_id(call_id);
  return config_->AddDnc(request);
}

}  // namespace parley::worker
