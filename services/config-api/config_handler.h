// parley.v1.ConfigService: templates, prompts, graphs, agents, campaigns, trunks, credentials and
// the DNC list, stored in Postgres schema `config` (DESIGN.md, "Configuration model").
//
// The handler takes its dependencies in the constructor and reads no flags, env or files; main.cc
// wires it. Every RPC needs the `config` scope (or `service`); decrypted secrets go only to
// `service` callers.
//
// `secrets` may be null (no PARLEY_MASTER_KEY): everything works but storing or decrypting a
// credential, which fails with FAILED_PRECONDITION.
//
// `dnc_index` (may be null: no Redis) is the Redis copy of the DNC list that the dispatcher checks
// inside its Create script (common/calls/dnc_index.h). AddDnc/ImportDnc/RemoveDnc change it inside
// the Postgres transaction, before COMMIT, so a number is refused by every CreateCall that starts
// after AddDnc returned; when Redis cannot be written the write fails with UNAVAILABLE and
// Postgres is left unchanged (retry). DncReconciler rebuilds the index from Postgres.
//
//   ConfigStore store(pg);
//   ConfigHandler handler(&store, &secret_box, auth);
//   server.AddService(&handler, "parley.v1.ConfigService");
#pragma once

#include "common/calls/dnc_index.h"
#include "common/crypto/secret_box.h"
#include "common/grpc/auth.h"
#include "parley/v1/config.grpc.pb.h"
#include "services/config-api/config_store.h"
#include "services/config-api/credential_probe.h"
#include "services/config-api/runtime_config.h"

namespace parley::config {

class ConfigHandler final : public parley::v1::ConfigService::Service {
 public:
  // `prober` (may be null: TestCredential is then UNIMPLEMENTED) makes TestCredential's
  // provider request (credential_probe.h).
  ConfigHandler(ConfigStore* store, const crypto::SecretBox* secrets, grpcx::TokenAuth auth,
                calls::DncIndex* dnc_index = nullptr, CredentialProber* prober = nullptr);

  grpc::Status CreateResource(grpc::ServerContext* context,
                              const parley::v1::CreateResourceRequest* request,
                              parley::v1::Resource* response) override;
  grpc::Status GetResource(grpc::ServerContext* context,
                           const parley::v1::GetResourceRequest* request,
                           parley::v1::Resource* response) override;
  grpc::Status ListResources(grpc::ServerContext* context,
                             const parley::v1::ListResourcesRequest* request,
                             parley::v1::ListResourcesResponse* response) override;
  grpc::Status UpdateResource(grpc::ServerContext* context,
                              const parley::v1::UpdateResourceRequest* request,
                              parley::v1::Resource* response) override;
  grpc::Status DeleteResource(grpc::ServerContext* context,
                              const parley::v1::DeleteResourceRequest* request,
                              google::protobuf::Empty* response) override;
  grpc::Status GetRuntimeConfig(grpc::ServerContext* context,
                                const parley::v1::GetRuntimeConfigRequest* request,
                                parley::v1::RuntimeConfig* response) override;
  grpc::Status TestCredential(grpc::ServerContext* context,
                              const parley::v1::TestCredentialRequest* request,
                              parley::v1::TestCredentialResponse* response) override;
  grpc::Status AddDnc(grpc::ServerContext* context, const parley::v1::AddDncRequest* request,
                      parley::v1::DncEntry* response) override;
  grpc::Status RemoveDnc(grpc::ServerContext* context, const parley::v1::RemoveDncRequest* request,
                         google::protobuf::Empty* response) override;
  grpc::Status CheckDnc(grpc::ServerContext* context, const parley::v1::CheckDncRequest* request,
                        parley::v1::CheckDncResponse* response) override;
  grpc::Status ImportDnc(grpc::ServerContext* context, const parley::v1::ImportDncRequest* request,
                         parley::v1::ImportDncResponse* response) override;
  grpc::Status ListDnc(grpc::ServerContext* context, const parley::v1::ListDncRequest* request,
                       parley::v1::ListDncResponse* response) override;

 private:
  // Validates a Create/Update request and turns it into what the store writes (secret sealed,
  // hint set). `current` is the stored credential on update, if any.
  absl::StatusOr<StoredResource> Prepare(const parley::v1::Resource& resource,
                                         const StoredResource* current) const;
  absl::StatusOr<parley::v1::Resource> Write(const parley::v1::Resource& resource, bool create,
                                             bool allow_missing);
  // INVALID_ARGUMENT naming inbound_route.number when another route has `route`'s number (a
  // check before the write: two concurrent writes of one number may both pass).
  absl::Status CheckRouteNumberFree(const StoredResource& route);

  // AddDnc with the index kept in step.
  absl::StatusOr<parley::v1::DncEntry> AddDncEntry(const parley::v1::DncEntry& entry);

  ConfigStore* store_;
  const crypto::SecretBox* secrets_;
  calls::DncIndex* dnc_index_;
  CredentialProber* prober_;
  grpcx::TokenAuth auth_;
  RuntimeConfigResolver resolver_;
};

}  // namespace parley::config
