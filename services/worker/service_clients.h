// The worker's clients of config-api and state: each wraps a generated stub so every call carries
// the service token and a deadline, and converts the answer to absl::Status (common/status).
//
//   ConfigClient config({.address = "config-api:50051", .token = token});
//   RuntimeConfigCache cache([&](const ConfigKey& k) { return config.GetRuntimeConfig(k); }, {});
//   StateClient state({.address = "state:50052", .token = token});
//   PARLEY_ASSIGN_OR_RETURN(parley::v1::StartCallResponse started, state.StartCall(request));
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/grpc/client.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/worker/config_cache.h"
#include "services/worker/write_behind_queue.h"

namespace parley::worker {

class ConfigClient final {
 public:
  // options.deadline bounds each call (default 5 s; the worker uses 3 s).
  explicit ConfigClient(grpcx::ClientOptions options);
  ConfigClient(std::shared_ptr<grpc::Channel> channel, grpcx::ClientOptions options);

  // config-api GetRuntimeConfig for `key`; the gRPC status as an absl::Status on failure
  // (UNAVAILABLE when config-api cannot be reached, NOT_FOUND naming a missing resource, …).
  absl::StatusOr<parley::v1::RuntimeConfig> GetRuntimeConfig(const ConfigKey& key);
  // config-api AddDnc (the callee opted out); the gRPC status on failure.
  absl::Status AddDnc(const parley::v1::AddDncRequest& request);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  grpcx::ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<parley::v1::ConfigService::Stub> stub_;
};

class StateClient final {
 public:
  explicit StateClient(grpcx::ClientOptions options);
  StateClient(std::shared_ptr<grpc::Channel> channel, grpcx::ClientOptions options);

  // state StartCall / CompleteCall; fail with the gRPC status (FAILED_PRECONDITION: another live
  // call holds the conversation; UNAVAILABLE: state cannot be reached).
  absl::StatusOr<parley::v1::StartCallResponse> StartCall(
      const parley::v1::StartCallRequest& request);
  absl::StatusOr<parley::v1::CallRecord> CompleteCall(
      const parley::v1::CompleteCallRequest& request);
  // state Heartbeat: keeps a long call's conversation from looking abandoned.
  absl::Status Heartbeat(const parley::v1::HeartbeatRequest& request);
  // state UpdateState (deep-merge patch) and AppendTurns (idempotent by turn seq).
  absl::Status UpdateState(const parley::v1::UpdateStateRequest& request);
  absl::Status AppendTurns(const parley::v1::AppendTurnsRequest& request);

  // AppendTurns / CompleteCall that must not be lost: when state (or its Postgres) cannot be
  // reached they are kept and retried in the background, in order, until written
  // (write_behind_queue.h). OK when written or queued; other errors as AppendTurns/CompleteCall.
  absl::Status AppendTurnsOrDefer(const parley::v1::AppendTurnsRequest& request);
  absl::Status CompleteCallOrDefer(const parley::v1::CompleteCallRequest& request);
  // The writes still waiting for state.
  const WriteBehindQueue& deferred() const { return *deferred_; }

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  grpcx::ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<parley::v1::StateService::Stub> stub_;
  std::unique_ptr<WriteBehindQueue> deferred_ = std::make_unique<WriteBehindQueue>();
};

}  // namespace parley::worker
