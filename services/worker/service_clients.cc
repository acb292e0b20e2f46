#include "services/worker/service_clients.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"

namespace parley::worker {

ConfigClient::ConfigClient(grpcx::ClientOptions options)
    : ConfigClient(grpcx::MakeChannel(options), options) {}

ConfigClient::ConfigClient(std::shared_ptr<grpc::Channel> channel, grpcx::ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(parley::v1::ConfigService::NewStub(channel_)) {}

absl::StatusOr<parley::v1::RuntimeConfig> ConfigClient::GetRuntimeConfig(const ConfigKey& key) {
  parley::v1::GetRuntimeConfigRequest request;
  request.set_agent(key.agent);
  request.set_campaign(key.campaign);
  nlohmann::json overrides = nlohmann::json::parse(key.overrides_json, nullptr, false);
  if (overrides.is_object() && !overrides.empty()) {
    PARLEY_ASSIGN_OR_RETURN(*request.mutable_call_overrides(),
                            json::JsonToStruct(overrides, "overrides"));
  }
  parley::v1::RuntimeConfig config;
  auto context = grpcx::MakeContext(options_);
  grpc::Status status = stub_->GetRuntimeConfig(context.get(), request, &config);
  if (!status.ok()) return FromGrpcStatus(status);
  return config;
}

absl::Status ConfigClient::AddDnc(const parley::v1::AddDncRequest& request) {
  parley::v1::DncEntry entry;
  auto context = grpcx::MakeContext(options_);
  grpc::Status status = stub_->AddDnc(context.get(), request, &entry);
  if (!status.ok()) return FromGrpcStatus(status);
  return absl::OkStatus();
}

StateClient::StateClient(grpcx::ClientOptions options)
    : StateClient(grpcx::MakeChannel(options), options) {}

StateClient::StateClient(std::shared_ptr<grpc::Channel> channel, grpcx::ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(parley::v1::StateService::NewStub(channel_)) {}

absl::StatusOr<parley::v1::StartCallResponse> StateClient::StartCall(
    const parley::v1::StartCallRequest& request) {
  parley::v1::StartCallResponse response;
  auto context = grpcx::MakeContext(options_);
  grpc::Status status = stub_->StartCall(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status StateClient::UpdateState(const parley::v1::UpdateStateRequest& request) {
  parley::v1::UpdateStateResponse response;
  auto context = grpcx::MakeContext(options_);
  grpc::Status status = stub_->UpdateState(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return absl::OkStatus();
}

absl::Status StateClient::AppendTurns(const parley::v1::AppendTurnsRequest& request) {
  parley::v1::AppendTurnsResponse response;
  auto context = grpcx::MakeContext(options_);
  grpc::Status status = stub_->AppendTurns(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return absl::OkStatus();
}

absl::Status StateClient::AppendTurnsOrDefer(const parley::v1::AppendTurnsRequest& request) {
  return deferred_->Submit(absl::StrCat("AppendTurns ", request.call_id(), "/", request.attempt()),
                           [this, request] { return AppendTurns(request); });
}

absl::Status StateClient::CompleteCallOrDefer(const parley::v1::CompleteCallRequest& request) {
  return deferred_->Submit(absl::StrCat("CompleteCall ", request.call_id(), "/", request.attempt()),
                           [this, request] { return CompleteCall(request).status(); });
}

absl::StatusOr<parley::v1::CallRecord> StateClient::CompleteCall(
    const parley::v1::CompleteCallRequest& request) {
  parley::v1::CallRecord response;
  auto context = grpcx::MakeContext(options_);
  grpc::Status status = stub_->CompleteCall(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status StateClient::Heartbeat(const parley::v1::HeartbeatRequest& request) {
  google::protobuf::Empty response;
  auto context = grpcx::MakeContext(options_);
  return FromGrpcStatus(stub_->Heartbeat(context.get(), request, &response));
}

}  // namespace parley::worker
