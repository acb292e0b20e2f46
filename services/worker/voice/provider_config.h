// What every network provider factory of the worker does with a template section before it
// builds a client: find the endpoint and API key, read the extra options, and reuse one client
// per distinct configuration (so its warm connections serve every call that uses it).
//
//   ClientCache<speech::TextToSpeech> cache;
//   PARLEY_ASSIGN_OR_RETURN(Endpoint e, ResolveEndpoint(ProviderKind::kTts, config, credentials));
//   return cache.Get(key, [&] { return MakeClient(e.base_url, e.api_key, OptionsJson(...)); });
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/json/struct_convert.h"
#include "common/providers/registry.h"
#include "common/status/status.h"
#include "services/worker/voice/provider_registry.h"

namespace parley::worker {

// One shared client per key; a failed `make` is not cached. The key may include the secret: the
// map is in memory only and never logged.
template <typename T>
class ClientCache {
 public:
  template <typename Make>
  absl::StatusOr<std::shared_ptr<T>> Get(const std::string& key, Make make) {
    absl::MutexLock lock(&mu_);
    auto found = clients_.find(key);
    if (found != clients_.end()) return found->second;
    absl::StatusOr<std::shared_ptr<T>> made = make();
    if (made.ok()) clients_.emplace(key, *made);
    return made;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<T>> clients_ ABSL_GUARDED_BY(mu_);
};

struct Endpoint {
  std::string base_url;
  std::string api_key;
};

// The provider's endpoint and key for a template section: base_url or the registry default; the
// key of the named credential, else the one named like the provider. INVALID_ARGUMENT for a
// provider the registry does not know; FAILED_PRECONDITION when the provider needs a key and
// there is none.
template <typename Config>
absl::StatusOr<Endpoint> ResolveEndpoint(providers::ProviderKind kind, const Config& config,
                                         const Credentials& credentials) {
  std::string_view kind_name = providers::KindName(kind);
  const providers::ProviderInfo* info = providers::FindProvider(kind, config.provider());
  if (info == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(kind_name), ".provider: unknown \"", config.provider(), "\""));
  }
  Endpoint endpoint;
  endpoint.base_url = config.base_url().empty() ? info->default_base_url : config.base_url();
  std::string credential = config.credential().empty() ? config.provider() : config.credential();
  auto secret = credentials.find(credential);
  if (secret != credentials.end()) endpoint.api_key = secret->second;
  if (info->needs_credential && endpoint.api_key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(AbslView(kind_name), " ", config.provider(),
                                                      ": no credential \"", credential, "\""));
  }
  return endpoint;
}

// A section's `options` as a JSON object (an empty one when unset or not an object).
inline nlohmann::json OptionsJson(const google::protobuf::Struct& options) {
  nlohmann::json out = json::StructToJson(options);
  return out.is_object() ? out : nlohmann::json::object();
}

}  // namespace parley::worker
