// ConfigClient: what the dispatcher asks config-api (parley.v1.ConfigService) while admitting a
// call — does the agent exist, what does the campaign say (agent, region, calling window, retry
// policy, limits), is the number on the do-not-call list, do the per-call overrides validate.
//
// Every RPC carries the service token and a deadline (grpcx::MakeContext). Agent and campaign
// specs are cached for a short TTL (default 5 s, at most `cache_capacity` entries), so a burst of
// calls for one campaign costs one lookup, and a change in config-api reaches new calls within the
// TTL; while config-api cannot be reached, an expired spec is served for up to
// `serve_stale_for` more. Not cached, on purpose:
//   - NOT_FOUND answers: an agent created a moment ago must be callable at once;
//   - DNC checks: a number put on the list must be refused by the very next CreateCall. CheckDnc
//     is the fallback only: admission normally checks the DNC index config-api keeps in Redis,
//     inside the Create script (common/calls/dnc_index.h), and asks here only while that index
//     is not built.
//
//   ConfigClient config(channel, {.rpc = {.token = service_token}});
//   PARLEY_ASSIGN_OR_RETURN(ConfigClient::Spec campaign,
//   config.GetCampaign("payment-reminders-us")); std::string agent = (*campaign)["agent"];
//   PARLEY_ASSIGN_OR_RETURN(DncCheck dnc, config.CheckDnc("+14155552671", "payment-reminders-us"));
//
// Thread-safe.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc/client.h"
#include "parley/v1/config.grpc.pb.h"

namespace parley::dispatcher {

struct ConfigClientOptions {
  // Token and per-call deadline; `address` is not used (the channel is given).
  grpcx::ClientOptions rpc{.deadline = absl::Seconds(2)};
  // How long an agent/campaign spec is reused; 0 disables the cache.
  absl::Duration cache_ttl = absl::Seconds(5);
  // Bound on cached specs (agents and campaigns together).
  size_t cache_capacity = 1024;
  // While config-api cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED), a spec whose TTL ran out
  // less than this long ago is still served: an outage of config-api or its Postgres does not
  // stop calls to agents and campaigns that were in use.
  absl::Duration serve_stale_for = absl::Minutes(10);
};

// Where a campaign's webhook goes (config.proto Webhook), with its HMAC key resolved.
struct WebhookTarget {
  std::string url;
  // The decrypted secret of the credential the webhook names. Held in memory only, never logged.
  std::string secret;
  bool status_events = true;  // "status": every status change
  bool reports = true;        // "report": the end-of-call report
};

// Result of a DNC check.
struct DncCheck {
  bool blocked = false;
  // "" for a global entry, else the campaign the entry belongs to.
  std::string campaign;
  // The entry's reason ("opt_out", …).
  std::string reason;
};

class ConfigClient final {
 public:
  // A resource's spec as stored in config-api (a JSON object), shared with the cache.
  using Spec = std::shared_ptr<const nlohmann::json>;

  ConfigClient(std::shared_ptr<grpc::Channel> channel, ConfigClientOptions options = {});

  // The agent's spec (AgentSpec JSON). NOT_FOUND `agent: agent "x" not found`; UNAVAILABLE when
  // config-api cannot be reached or does not answer in time; INTERNAL for any other failure
  // (e.g. config-api refusing the service token).
  absl::StatusOr<Spec> GetAgent(std::string_view name);

  // The campaign's spec (CampaignSpec JSON). Fails like GetAgent, naming `campaign`.
  absl::StatusOr<Spec> GetCampaign(std::string_view name);

  // The cached spec of an agent / a campaign while it is fresh, else null. Never blocks, never
  // asks config-api (for callers that must not wait: they fall back to GetAgent/GetCampaign
  // elsewhere).
  Spec CachedAgent(std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  Spec CachedCampaign(std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  // Asks config-api, every time (Postgres), whether `e164` may not be called for `campaign`
  // ("" = global list only). UNAVAILABLE/INTERNAL as GetAgent: a call is never admitted unchecked.
  absl::StatusOr<DncCheck> CheckDnc(std::string_view e164, std::string_view campaign);

  // Resolves the runtime config with `overrides` applied last, to validate them before the call is
  // admitted. INVALID_ARGUMENT "overrides: <config-api's reason>" when the merged template does not
  // validate; otherwise fails like GetAgent.
  absl::Status ValidateOverrides(std::string_view agent, std::string_view campaign,
                                 const google::protobuf::Struct& overrides);

  // The campaign's webhook, nullopt when it has none. Cached like specs. The secret comes from
  // GetRuntimeConfig, which decrypts credentials only for the `service` scope:
  // FAILED_PRECONDITION "webhook: …" when the dispatcher's token lacks it or the credential is
  // missing; otherwise fails like GetCampaign.
  absl::StatusOr<std::optional<WebhookTarget>> GetWebhook(std::string_view campaign);

 private:
  struct Entry {
    Spec spec;
    absl::Time expires;
  };

  absl::StatusOr<Spec> GetSpec(parley::v1::ResourceKind kind, std::string_view field,
                               std::string_view name);
  void Put(std::string key, Spec spec) ABSL_LOCKS_EXCLUDED(mu_);
  Spec Cached(std::string_view field, std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  std::unique_ptr<parley::v1::ConfigService::Stub> stub_;
  ConfigClientOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  struct WebhookEntry {
    std::optional<WebhookTarget> target;
    absl::Time expires;
  };
  absl::flat_hash_map<std::string, WebhookEntry> webhooks_ ABSL_GUARDED_BY(mu_);
};

// Converts a status received from config-api into what the dispatcher reports: UNAVAILABLE for
// transport trouble (unreachable, deadline, overload), NOT_FOUND as is, INTERNAL "config-api
// <method>: …" for anything else (never passed through: a PERMISSION_DENIED about the service's
// own token must not look like the client's). Exposed for tests.
absl::Status FromConfigStatus(const grpc::Status& status, std::string_view method);

}  // namespace parley::dispatcher
