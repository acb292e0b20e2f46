// The worker's cache of resolved runtime configs (config-api GetRuntimeConfig), so that placing a
// call costs no round trip in the common case and config-api being down does not stop calls
// (DESIGN.md, "Configuration model").
//
// - Entries live `ttl` (default 5 min) and the cache holds at most `capacity` of them, evicting
//   the least recently used.
// - Single flight: concurrent misses for one key make one request; the others wait for it.
// - config-api unreachable (UNAVAILABLE, DEADLINE_EXCEEDED, auth errors, …): the expired entry is
//   served (kStale) and config-api is not asked again for that key for `retry_after`; with no
//   entry at all the system defaults are served (kDefaults).
// - A definite answer (NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION: the agent was deleted
//   or its config no longer validates) is returned as the error and drops the entry.
// - Metrics: parley_worker_config_cache_total{result="hit|miss|stale|default|error"}.
//
//   RuntimeConfigCache cache(fetch_from_config_api, {.defaults = SystemDefaults(trunk)});
//   PARLEY_ASSIGN_OR_RETURN(CachedConfig c, cache.Get({.agent = "sales", .campaign = "q4"}));
//   const parley::v1::RuntimeConfig& config = *c.config;
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "parley/v1/config.pb.h"

namespace prometheus {
class Counter;
}
namespace parley::metrics {
class Metrics;
}

namespace parley::worker {

struct ConfigKey {
  std::string agent;
  std::string campaign;               // "" for none
  std::string overrides_json = "{}";  // per-call template overrides (JSON merge patch)
};

enum class ConfigSource {
  kFresh,     // just fetched from config-api
  kCached,    // a live cache entry
  kStale,     // an expired entry, served because config-api is unreachable
  kDefaults,  // the system defaults: config-api unreachable and nothing cached
};
const char* ConfigSourceName(ConfigSource source);

struct CachedConfig {
  std::shared_ptr<const parley::v1::RuntimeConfig> config;
  ConfigSource source = ConfigSource::kFresh;
};

// The runtime config used when nothing better exists: the system template defaults (embedded
// providers, 30 s ring timeout, 10 min max duration) and, when `default_trunk_address` is not
// empty, a "grpc" trunk to it; no agent, graph or campaign. A call run on it can only dial when a
// default trunk is configured.
parley::v1::RuntimeConfig SystemDefaultConfig(const std::string& default_trunk_address);

class RuntimeConfigCache final {
 public:
  // Asks config-api; must be thread-safe.
  using Fetcher = std::function<absl::StatusOr<parley::v1::RuntimeConfig>(const ConfigKey&)>;

  struct Options {
    absl::Duration ttl = absl::Minutes(5);
    size_t capacity = 1000;
    absl::Duration retry_after = absl::Seconds(10);
    parley::v1::RuntimeConfig defaults;
    std::function<absl::Time()> now = [] { return absl::Now(); };  // injectable for tests
    metrics::Metrics* metrics = nullptr;                           // optional
  };

  RuntimeConfigCache(Fetcher fetcher, Options options);

  // The config for `key` as the file comment describes. Fails only with a definite config-api
  // answer (NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION, DATA_LOSS, OUT_OF_RANGE).
  absl::StatusOr<CachedConfig> Get(const ConfigKey& key);

  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const parley::v1::RuntimeConfig> config;
    absl::Time fetched_at;
    std::optional<absl::Time> failed_at;  // last refresh that could not reach config-api
    std::list<std::string>::iterator lru;
  };
  struct Flight {
    bool done = false;
    absl::StatusOr<CachedConfig> result = absl::UnknownError("pending");
  };

  // Runs the fetch for `id` (the caller leads the flight) and records its outcome.
  absl::StatusOr<CachedConfig> Fetch(const std::string& id, const ConfigKey& key,
                                     const std::shared_ptr<Flight>& flight);
  void Touch(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Count(const char* result);

  Fetcher fetcher_;
  Options options_;
  std::shared_ptr<const parley::v1::RuntimeConfig> defaults_;
  std::map<std::string, prometheus::Counter*> counters_;  // by result; fixed after construction

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  std::map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::worker
