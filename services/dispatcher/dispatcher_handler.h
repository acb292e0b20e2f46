// parley.v1.DispatcherService: the outbound call API — validate, admit, queue, schedule, retry,
// watch, cancel (DESIGN.md, "An outbound call", "Call lifecycle", "Redis layout").
//
// The handler takes its dependencies in the constructor; main.cc wires it. RPCs not overridden here
// answer UNIMPLEMENTED.
#pragma once

#include <memory>

#include "common/grpc/auth.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/dispatcher.grpc.pb.h"

namespace parley::dispatcher {

class DispatcherHandler final : public parley::v1::DispatcherService::Service {
 public:
  DispatcherHandler(redis::RedisPool* redis, std::shared_ptr<grpc::Channel> config,
                    grpcx::TokenAuth auth)
      : redis_(redis), config_(std::move(config)), auth_(std::move(auth)) {}

 private:
  [[maybe_unused]] redis::RedisPool* redis_;
  std::shared_ptr<grpc::Channel> config_;
  [[maybe_unused]] grpcx::TokenAuth auth_;
};

}  // namespace parley::dispatcher
