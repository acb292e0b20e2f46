// The runtime-config cache: TTL, LRU bound, single flight, stale and default configs when
// config-api is unreachable, definite errors passed through, and the hit/miss metrics.
#include "services/worker/config_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/metrics/metrics.h"

namespace parley::worker {
namespace {

class FakeConfigApi {
 public:
  absl::StatusOr<parley::v1::RuntimeConfig> Fetch(const ConfigKey& key) {
    ++calls;
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    if (!status.ok()) return status;
    parley::v1::RuntimeConfig config;
    config.set_etag(
        absl::StrCat(key.agent, "/", key.campaign, "/", key.overrides_json, "#", version.load()));
    return config;
  }
  std::atomic<int> calls{0};
  std::atomic<int> version{1};
  absl::Status status;
  absl::Duration delay = absl::ZeroDuration();
};

class ConfigCacheTest : public ::testing::Test {
 protected:
  RuntimeConfigCache Make(size_t capacity = 10) {
    return RuntimeConfigCache([this](const ConfigKey& k) { return api_.Fetch(k); },
                              {.ttl = absl::Minutes(5),
                               .capacity = capacity,
                               .retry_after = absl::Seconds(10),
                               .defaults = SystemDefaultConfig("127.0.0.1:50060"),
                               .now = [this] { return now_; },
                               .metrics = metrics_.get()});
  }
  double Counter(const std::string& result) {
    std::string text = metrics_->Scrape();
    std::string needle = "parley_worker_config_cache_total{result=\"" + result + "\"} ";
    size_t at = text.find(needle);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + needle.size()));
  }

  FakeConfigApi api_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::unique_ptr<metrics::Metrics> metrics_ = metrics::Metrics::Local();
};

TEST_F(ConfigCacheTest, HitsUntilTheTtlThenRefreshes) {
  auto cache = Make();
  auto first = cache.Get({.agent = "sales"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->source, ConfigSource::kFresh);
  EXPECT_EQ(first->config->etag(), "sales//{}#1");
  // Overrides are compared as JSON, not as text.
  auto again = cache.Get({.agent = "sales", .overrides_json = " { } "});
  EXPECT_EQ(again->source, ConfigSource::kCached);
  EXPECT_EQ(api_.calls, 1);
  api_.version = 2;
  now_ += absl::Minutes(4);
  EXPECT_EQ(cache.Get({.agent = "sales"})->config->etag(), "sales//{}#1");
  now_ += absl::Minutes(2);
  auto refreshed = cache.Get({.agent = "sales"});
  EXPECT_EQ(refreshed->source, ConfigSource::kFresh);
  EXPECT_EQ(refreshed->config->etag(), "sales//{}#2");
  EXPECT_EQ(api_.calls, 2);
  EXPECT_EQ(Counter("hit"), 2);
  EXPECT_EQ(Counter("miss"), 2);
  // Campaign and overrides are part of the key.
  EXPECT_EQ(cache.Get({.agent = "sales", .campaign = "q4"})->source, ConfigSource::kFresh);
  EXPECT_EQ(cache.Get({.agent = "sales", .overrides_json = R"({"b":1,"a":2})"})->config->etag(),
            R"(sales//{"a":2,"b":1}#2)");
}

TEST_F(ConfigCacheTest, EvictsTheLeastRecentlyUsed) {
  auto cache = Make(/*capacity=*/2);
  cache.Get({.agent = "a"}).IgnoreError();
  cache.Get({.agent = "b"}).IgnoreError();
  cache.Get({.agent = "a"}).IgnoreError();  // a is now the most recent
  cache.Get({.agent = "c"}).IgnoreError();  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Get({.agent = "a"})->source, ConfigSource::kCached);
  EXPECT_EQ(cache.Get({.agent = "b"})->source, ConfigSource::kFresh);
}

TEST_F(ConfigCacheTest, ConcurrentMissesShareOneRequest) {
  auto cache = Make();
  api_.delay = absl::Milliseconds(200);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = cache.Get({.agent = "busy"});
      if (r.ok() && r->config->etag() == "busy//{}#1") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(api_.calls, 1);
}

TEST_F(ConfigCacheTest, ServesStaleWhenConfigApiIsDownAndDefaultsWhenNothingIsCached) {
  auto cache = Make();
  ASSERT_TRUE(cache.Get({.agent = "sales"}).ok());
  api_.status = absl::UnavailableError("config-api down");
  now_ += absl::Minutes(6);
  auto stale = cache.Get({.agent = "sales"});
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->source, ConfigSource::kStale);
  EXPECT_EQ(stale->config->etag(), "sales//{}#1");
  // Within retry_after config-api is not asked again.
  int calls = api_.calls;
  EXPECT_EQ(cache.Get({.agent = "sales"})->source, ConfigSource::kStale);
  EXPECT_EQ(api_.calls, calls);
  now_ += absl::Seconds(11);
  EXPECT_EQ(cache.Get({.agent = "sales"})->source, ConfigSource::kStale);
  EXPECT_EQ(api_.calls, calls + 1);
  // Nothing cached for this agent: the system defaults, with the default trunk.
  auto defaults = cache.Get({.agent = "never-seen"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->source, ConfigSource::kDefaults);
  EXPECT_EQ(defaults->config->etag(), "system-defaults");
  EXPECT_EQ(defaults->config->trunk().name(), "default");
  // Back up: fresh again.
  api_.status = absl::OkStatus();
  now_ += absl::Seconds(11);
  EXPECT_EQ(cache.Get({.agent = "sales"})->source, ConfigSource::kFresh);
  EXPECT_EQ(Counter("stale"), 3);
  EXPECT_EQ(Counter("default"), 1);
}

TEST_F(ConfigCacheTest, DefiniteErrorsPassThroughAndDropTheEntry) {
  auto cache = Make();
  ASSERT_TRUE(cache.Get({.agent = "gone"}).ok());
  api_.status = absl::NotFoundError("agent \"gone\" not found");
  now_ += absl::Minutes(6);
  EXPECT_EQ(cache.Get({.agent = "gone"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(Counter("error"), 1);
}

}  // namespace
}  // namespace parley::worker
