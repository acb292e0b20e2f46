// Resolution of the runtime config a worker runs a call with (ConfigService.GetRuntimeConfig).
//
// agent → its template → the campaign's overrides → the call's overrides, merged as JSON merge
// patches (RFC 7386) and validated after merging; plus the graph, the prompt versions in force,
// the trunk and the credentials the result refers to.
//
//   RuntimeConfigResolver resolver(&store, &secret_box);
//   absl::StatusOr<parley::v1::RuntimeConfig> config =
//       resolver.Resolve({.agent = "payment-reminder", .campaign = "q4", .include_secrets = true});
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/secret_box.h"
#include "parley/v1/config.pb.h"
#include "services/config-api/config_store.h"

namespace parley::config {

struct ResolveRequest {
  std::string agent;
  std::string campaign;  // "" for none
  nlohmann::json call_overrides = nlohmann::json::object();
  // Decrypted secrets (callers with the `service` scope) or masked hints (everyone else).
  bool include_secrets = false;
  // Stop after the merged template validates: no prompts, credentials or secrets.
  bool validate_only = false;
};

class RuntimeConfigResolver final {
 public:
  RuntimeConfigResolver(ConfigStore* store, const crypto::SecretBox* secrets)
      : store_(store), secrets_(secrets) {}

  // NOT_FOUND naming the missing resource ("agent \"x\" not found", "template \"t\"
  // (agent.template) not found"); INVALID_ARGUMENT when the campaign belongs to another agent or
  // the merged template does not validate (field path "template.…"); FAILED_PRECONDITION when no
  // trunk is set; DATA_LOSS when a secret cannot be decrypted (wrong PARLEY_MASTER_KEY).
  absl::StatusOr<parley::v1::RuntimeConfig> Resolve(const ResolveRequest& request) const;

 private:
  ConfigStore* store_;
  const crypto::SecretBox* secrets_;
};

}  // namespace parley::config
