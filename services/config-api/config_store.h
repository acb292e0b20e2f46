// ConfigStore: configuration resources and the DNC list in Postgres schema `config`.
//
// The store knows rows, versions, etags and references; it does not validate specs (validate.h)
// nor encrypt secrets (the handler seals them before they get here).
//
//   ConfigStore store(pg_pool);
//   PARLEY_RETURN_IF_ERROR(store.Migrate());
//   PARLEY_ASSIGN_OR_RETURN(StoredResource agent, store.Create(resource, ReferencesOf(kind,
//   spec))); absl::StatusOr<StoredResource> r = store.Update(changed, agent.etag, refs, false);  //
//   ABORTED if stale
//
// Every write keeps the `refs` table in step with the spec, so a delete of something still
// referenced is refused with FAILED_PRECONDITION naming the referrer, even under races (the
// foreign key is the last line of defence).
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/time/time.h"
#include "common/pg/pg_pool.h"
#include "parley/v1/config.pb.h"
#include "services/config-api/references.h"

namespace parley::config {

// One stored resource (for prompts: one version).
struct StoredResource {
  parley::v1::ResourceKind kind = parley::v1::RESOURCE_KIND_UNSPECIFIED;
  std::string name;
  nlohmann::json spec = nlohmann::json::object();
  std::map<std::string, std::string> labels;
  int version = 0;
  std::string etag;
  absl::Time create_time;
  absl::Time update_time;
  // Credentials only: the sealed secret (binary). Empty on Update keeps the stored one.
  std::string sealed_secret;
};

struct ListQuery {
  parley::v1::ResourceKind kind = parley::v1::RESOURCE_KIND_UNSPECIFIED;
  std::string name_prefix;                    // "" = any
  std::optional<std::string> name_exact;      // set = only this name
  std::map<std::string, std::string> labels;  // all must match
  bool all_versions = false;                  // prompts: every version
  int page_size = 50;
  std::string page_token;  // from the previous page
};

struct ListPage {
  std::vector<StoredResource> items;
  std::string next_page_token;  // empty on the last page
};

struct DncPage {
  std::vector<parley::v1::DncEntry> entries;
  std::string next_page_token;
};

// Parses a ListResourcesRequest.filter ("name=pay* labels.team=billing") into `query`.
// INVALID_ARGUMENT "filter: …" naming the bad term.
absl::Status ParseFilter(std::string_view filter, ListQuery* query);

class ConfigStore final {
 public:
  explicit ConfigStore(pg::PgPool* pg);

  // Creates or updates schema `config` (idempotent, safe with concurrent replicas).
  absl::Status Migrate();

  // Inserts a new resource (version 1). ALREADY_EXISTS "template \"x\" already exists";
  // INVALID_ARGUMENT "<field>: <kind> \"<name>\" does not exist" for a dangling reference.
  absl::StatusOr<StoredResource> Create(const StoredResource& resource,
                                        const std::vector<Reference>& refs);

  // Replaces spec and labels (and the secret when `sealed_secret` is set); prompts get a new
  // version. ABORTED when `expected_etag` is non-empty and stale; NOT_FOUND when absent unless
  // `allow_missing` (then it creates). Reference errors as for Create.
  absl::StatusOr<StoredResource> Update(const StoredResource& resource,
                                        std::string_view expected_etag,
                                        const std::vector<Reference>& refs, bool allow_missing);

  // The resource (for prompts: the latest version, or `version`). NOT_FOUND when absent.
  absl::StatusOr<StoredResource> Get(parley::v1::ResourceKind kind, std::string_view name,
                                     std::optional<int> version = std::nullopt);

  // Several resources in one round trip; absent ones are left out. Prompts: latest versions.
  absl::StatusOr<std::vector<StoredResource>> GetMany(
      const std::vector<std::pair<parley::v1::ResourceKind, std::string>>& keys);

  // Specific prompt versions in one round trip: (name, version) pairs; absent ones left out.
  absl::StatusOr<std::vector<StoredResource>> GetPromptVersions(
      const std::vector<std::pair<std::string, int>>& versions);

  // Deletes a resource (prompts: every version). NOT_FOUND; ABORTED on a stale etag;
  // FAILED_PRECONDITION "agent/payment-reminder references template/default (agent.template)".
  absl::Status Delete(parley::v1::ResourceKind kind, std::string_view name,
                      std::string_view expected_etag);

  // One page, ordered by name (and version for all_versions). INVALID_ARGUMENT for a bad token.
  absl::StatusOr<ListPage> List(const ListQuery& query);

  // Records a credential test result in its spec (`last_tested_ok`, and `last_tested_time` as
  // RFC 3339 UTC). NOT_FOUND when absent.
  absl::Status SetCredentialTested(std::string_view name, bool ok, absl::Time when);

  // DNC. Add is idempotent (an existing entry is returned unchanged). `before_commit`, when set,
  // runs inside the transaction after the row is written and before COMMIT (also for an entry
  // that existed); its error rolls the write back and is returned. It may run more than once (a
  // transaction retried after a serialization failure), so it must be idempotent.
  // DNC writes hold a shared advisory lock that SnapshotDnc takes exclusively.
  using DncHook = std::function<absl::Status()>;
  absl::StatusOr<parley::v1::DncEntry> AddDnc(const parley::v1::DncEntry& entry,
                                              const DncHook& before_commit = nullptr);
  // NOT_FOUND when there is no entry for exactly (number, campaign); `before_commit` as for AddDnc
  // (run only when a row was deleted).
  absl::Status RemoveDnc(std::string_view number, std::string_view campaign,
                         const DncHook& before_commit = nullptr);
  // Every entry as (number, campaign), handed to `with` while an exclusive advisory lock holds off
  // AddDnc/RemoveDnc (on every replica sharing the database), so what `with` derives from the
  // snapshot cannot miss a write that commits meanwhile. Returns `with`'s error, or UNAVAILABLE.
  absl::Status SnapshotDnc(
      absl::FunctionRef<absl::Status(const std::vector<std::pair<std::string, std::string>>&)>
          with);
  // The blocking entry (global preferred), or nullopt when the number may be called.
  absl::StatusOr<std::optional<parley::v1::DncEntry>> CheckDnc(std::string_view number,
                                                               std::string_view campaign);
  // Newest first. `campaign` empty and !global_only: every entry.
  absl::StatusOr<DncPage> ListDnc(std::string_view campaign, bool global_only, int page_size,
                                  std::string_view page_token);

 private:
  pg::PgPool* pg_;
};

}  // namespace parley::config
