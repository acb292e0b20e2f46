// parley.v1.StateService: conversation memory across calls, call history and transcripts
// (DESIGN.md, "Conversation state"), over a StateStore (Postgres schema `conversation`, Redis
// live keys).
//
// The handler checks scopes, validates requests (INVALID_ARGUMENT naming the field), converts
// between protos and the store's types, and masks phone numbers; the rules live in StateStore.
// It takes its dependencies in the constructor and reads no flags, env or files.
//
//   StateStore store(pg_pool, redis_pool);
//   StateHandler handler(&store, auth);
//   server.AddService(&handler, "parley.v1.StateService");
//
// Scopes: writes (StartCall, UpdateState, AppendTurns, CompleteCall, Heartbeat) need `service` —
// only workers drive calls. Reads (GetState, GetCall, ListCalls, GetTranscript) accept `config`
// (operators) or `calls` (the CRM that placed the call; auth.h lets `service` pass too). Full
// phone numbers go only to `service` callers; others get `phone_masked` and an empty `phone`.
#pragma once

#include "absl/status/statusor.h"
#include "common/grpc/auth.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/state/state_store.h"

namespace parley::state {

class StateHandler final : public parley::v1::StateService::Service {
 public:
  // `store` must outlive the handler.
  StateHandler(StateStore* store, grpcx::TokenAuth auth);

  grpc::Status StartCall(grpc::ServerContext* context, const parley::v1::StartCallRequest* request,
                         parley::v1::StartCallResponse* response) override;
  grpc::Status UpdateState(grpc::ServerContext* context,
                           const parley::v1::UpdateStateRequest* request,
                           parley::v1::UpdateStateResponse* response) override;
  grpc::Status GetState(grpc::ServerContext* context, const parley::v1::GetStateRequest* request,
                        parley::v1::ConversationState* response) override;
  grpc::Status GetCall(grpc::ServerContext* context,
                       const parley::v1::GetCallRecordRequest* request,
                       parley::v1::CallRecord* response) override;
  grpc::Status ListCalls(grpc::ServerContext* context,
                         const parley::v1::ListCallRecordsRequest* request,
                         parley::v1::ListCallRecordsResponse* response) override;
  grpc::Status AppendTurns(grpc::ServerContext* context,
                           const parley::v1::AppendTurnsRequest* request,
                           parley::v1::AppendTurnsResponse* response) override;
  grpc::Status GetTranscript(grpc::ServerContext* context,
                             const parley::v1::GetTranscriptRequest* request,
                             parley::v1::GetTranscriptResponse* response) override;
  grpc::Status CompleteCall(grpc::ServerContext* context,
                            const parley::v1::CompleteCallRequest* request,
                            parley::v1::CallRecord* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const parley::v1::HeartbeatRequest* request,
                         google::protobuf::Empty* response) override;

 private:
  // The caller when it holds `config` or `calls` (or `service`); UNAUTHENTICATED or
  // PERMISSION_DENIED otherwise.
  absl::StatusOr<grpcx::Principal> AuthorizeRead(const grpc::ServerContext& context) const;

  StateStore* store_;
  grpcx::TokenAuth auth_;
};

}  // namespace parley::state
