// parley.v1.StateService: conversation memory across calls, call history and transcripts in
// Postgres schema `conversation`, live conversation keys in Redis (DESIGN.md, "Conversation
// state").
//
// The handler takes its dependencies in the constructor; main.cc wires it. RPCs not overridden here
// answer UNIMPLEMENTED.
#pragma once

#include "common/grpc/auth.h"
#include "common/pg/pg_pool.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/state.grpc.pb.h"

namespace parley::state {

class StateHandler final : public parley::v1::StateService::Service {
 public:
  StateHandler(pg::PgPool* pg, redis::RedisPool* redis, grpcx::TokenAuth auth)
      : pg_(pg), redis_(redis), auth_(std::move(auth)) {}

 private:
  [[maybe_unused]] pg::PgPool* pg_;
  [[maybe_unused]] redis::RedisPool* redis_;
  [[maybe_unused]] grpcx::TokenAuth auth_;
};

}  // namespace parley::state
