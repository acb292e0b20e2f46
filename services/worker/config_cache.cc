#include "services/worker/config_cache.h"

#include <nlohmann/json.hpp>

#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"

namespace parley::worker {
namespace {

// Codes that say config-api (or the way to it) is not working, rather than anything about the
// config itself: serve what we have.
bool Unreachable(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
      return false;
    default:
      return true;
  }
}

std::string CanonicalJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || j.is_null()) return "{}";
  return j.dump();  // object keys come out sorted
}

}  // namespace

const char* ConfigSourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kFresh:
      return "fresh";
    case ConfigSource::kCached:
      return "cached";
    case ConfigSource::kStale:
      return "stale";
    case ConfigSource::kDefaults:
      return "defaults";
  }
  return "unknown";
}

parley::v1::RuntimeConfig SystemDefaultConfig(const std::string& default_trunk_address) {
  parley::v1::RuntimeConfig config;
  nlohmann::json tmpl = {
      {"stt", {{"provider", "pocketsphinx"}, {"language", "en-US"}}},
      {"llm", {{"provider", "scripted"}}},
      {"tts", {{"provider", "espeak"}, {"voice", "en-us"}}},
      {"limits", {{"max_duration_s", 600}, {"silence_timeout_s", 10}, {"ring_timeout_s", 30}}},
  };
  *config.mutable_template_() = *json::JsonToStruct(tmpl);
  if (!default_trunk_address.empty()) {
    config.mutable_trunk()->set_kind(parley::v1::RESOURCE_KIND_TRUNK);
    config.mutable_trunk()->set_name("default");
    nlohmann::json trunk = {{"kind", "grpc"}, {"grpc", {{"address", default_trunk_address}}}};
    *config.mutable_trunk()->mutable_spec() = *json::JsonToStruct(trunk);
  }
  config.set_etag("system-defaults");
  return config;
}

RuntimeConfigCache::RuntimeConfigCache(Fetcher fetcher, Options options)
    : fetcher_(std::move(fetcher)),
      options_(std::move(options)),
      defaults_(std::make_shared<parley::v1::RuntimeConfig>(options_.defaults)) {
  if (options_.metrics != nullptr) {
    for (const char* result : {"hit", "miss", "stale", "default", "error"}) {
      counters_[result] =
          &options_.metrics->Counter("parley_worker_config_cache_total",
                                     "Runtime config lookups by result", {{"result", result}});
    }
  }
}

void RuntimeConfigCache::Count(const char* result) {
  auto it = counters_.find(result);
  if (it != counters_.end()) it->second->Increment();
}

void RuntimeConfigCache::Touch(Entry& entry) { lru_.splice(lru_.begin(), lru_, entry.lru); }

size_t RuntimeConfigCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

absl::StatusOr<CachedConfig> RuntimeConfigCache::Get(const ConfigKey& key) {
  std::string id = key.agent;
  id.push_back('\0');
  id += key.campaign;
  id.push_back('\0');
  id += CanonicalJson(key.overrides_json);
  std::shared_ptr<Flight> flight;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.now();
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      Entry& e = it->second;
      if (now < e.fetched_at + options_.ttl) {
        Touch(e);
        Count("hit");
        return CachedConfig{e.config, ConfigSource::kCached};
      }
      if (e.failed_at.has_value() && now < *e.failed_at + options_.retry_after) {
        Touch(e);
        Count("stale");
        return CachedConfig{e.config, ConfigSource::kStale};
      }
    }
    auto f = flights_.find(id);
    if (f != flights_.end()) {
      // Someone is already asking config-api for this key: share their answer.
      std::shared_ptr<Flight> other = f->second;
      mu_.Await(absl::Condition(&other->done));
      return other->result;
    }
    flight = std::make_shared<Flight>();
    flights_[id] = flight;
  }
  return Fetch(id, key, flight);
}

absl::StatusOr<CachedConfig> RuntimeConfigCache::Fetch(const std::string& id, const ConfigKey& key,
                                                       const std::shared_ptr<Flight>& flight) {
  ConfigKey canonical = key;
  canonical.overrides_json = CanonicalJson(key.overrides_json);
  absl::StatusOr<parley::v1::RuntimeConfig> fetched = fetcher_(canonical);
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.now();
  absl::StatusOr<CachedConfig> result;
  auto it = entries_.find(id);
  if (fetched.ok()) {
    auto config = std::make_shared<const parley::v1::RuntimeConfig>(*std::move(fetched));
    if (it == entries_.end()) {
      lru_.push_front(id);
      it = entries_.emplace(id, Entry{config, now, std::nullopt, lru_.begin()}).first;
    } else {
      it->second.config = config;
      it->second.fetched_at = now;
      it->second.failed_at.reset();
      Touch(it->second);
    }
    while (entries_.size() > options_.capacity && !lru_.empty()) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    Count("miss");
    result = CachedConfig{config, ConfigSource::kFresh};
  } else if (Unreachable(fetched.status().code())) {
    if (it != entries_.end()) {
      it->second.failed_at = now;
      Touch(it->second);
      Count("stale");
      log::Warn("config-api unreachable: serving a stale config",
                {{"agent", key.agent},
                 {"campaign", key.campaign},
                 {"error", fetched.status().ToString()}});
      result = CachedConfig{it->second.config, ConfigSource::kStale};
    } else {
      Count("default");
      log::Warn("config-api unreachable and nothing cached: serving system defaults",
                {{"agent", key.agent}, {"error", fetched.status().ToString()}});
      result = CachedConfig{defaults_, ConfigSource::kDefaults};
    }
  } else {
    if (it != entries_.end()) {
      lru_.erase(it->second.lru);
      entries_.erase(it);
    }
    Count("error");
    result = fetched.status();
  }
  flight->result = result;
  flight->done = true;
  flights_.erase(id);
  return result;
}

}  // namespace parley::worker
