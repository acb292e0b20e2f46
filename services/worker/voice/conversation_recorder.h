// Where a call's conversation is written as it happens: state patches and transcript turns
// (the state service) and opt-outs (config-api's DNC list). The voice pipeline talks to this
// interface; the worker passes the gRPC implementation, benchmarks may pass their own.
//
//   GrpcConversationRecorder recorder(&state_client, &config_client);
//   PARLEY_RETURN_IF_ERROR(recorder.UpdateState(call_id, attempt, {{"verified", true}}));
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "parley/v1/state.pb.h"

namespace parley::worker {

class ConfigClient;
class StateClient;

class ConversationRecorder {
 public:
  virtual ~ConversationRecorder() = default;
  // Deep-merges `patch` (a JSON object) into the call's conversation state.
  virtual absl::Status UpdateState(const std::string& call_id, int attempt,
                                   const nlohmann::json& patch) = 0;
  // Appends transcript turns (idempotent by Turn.seq).
  virtual absl::Status AppendTurns(const std::string& call_id, int attempt,
                                   std::vector<parley::v1::Turn> turns) = 0;
  // Puts `number` on the DNC list (campaign "" = global) because of this call.
  virtual absl::Status AddDnc(const std::string& number, const std::string& campaign,
                              const std::string& reason, const std::string& call_id) = 0;
};

// The recorder over the state service and config-api. Thread-safe.
class GrpcConversationRecorder final : public ConversationRecorder {
 public:
  // Both clients must outlive the recorder.
  GrpcConversationRecorder(StateClient* state, ConfigClient* config)
      : state_(state), config_(config) {}

  absl::Status UpdateState(const std::string& call_id, int attempt,
                           const nlohmann::json& patch) override;
  absl::Status AppendTurns(const std::string& call_id, int attempt,
                           std::vector<parley::v1::Turn> turns) override;
  absl::Status AddDnc(const std::string& number, const std::string& campaign,
                      const std::string& reason, const std::string& call_id) override;

 private:
  StateClient* const state_;
  ConfigClient* const config_;
};

}  // namespace parley::worker
