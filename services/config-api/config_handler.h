// parley.v1.ConfigService: templates, prompts, graphs, agents, campaigns, trunks, credentials and
// the DNC list, stored in Postgres schema `config` (DESIGN.md, "Configuration model").
//
// The handler takes its dependencies in the constructor and reads no flags, env or files; main.cc
// wires it. RPCs not overridden here answer UNIMPLEMENTED.
#pragma once

#include "common/grpc/auth.h"
#include "common/pg/pg_pool.h"
#include "parley/v1/config.grpc.pb.h"

namespace parley::config {

class ConfigHandler final : public parley::v1::ConfigService::Service {
 public:
  ConfigHandler(pg::PgPool* pg, grpcx::TokenAuth auth) : pg_(pg), auth_(std::move(auth)) {}

 private:
  [[maybe_unused]] pg::PgPool* pg_;
  [[maybe_unused]] grpcx::TokenAuth auth_;
};

}  // namespace parley::config
