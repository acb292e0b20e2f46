// RedisPool against a private redis-server child that the tests kill, restart, flush and
// reconfigure — things never done to the shared server other suites use in parallel. Needs
// redis-server on PATH (as the `redis` label implies), not PARLEY_REDIS_URL.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis/redis_pool.h"
#include "common/redis/testing/redis_server_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace parley::redis {
namespace {

using ::testing::HasSubstr;
using testing::RedisServerProcess;

class RedisRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status() << " (is redis-server installed?)";
    server_ = *std::move(server);
  }

  std::unique_ptr<RedisPool> NewPool(int max_connections) {
    auto pool = RedisPool::Create({.url = server_->url(),
                                   .max_connections = max_connections,
                                   .connect_timeout = absl::Seconds(1),
                                   .command_timeout = absl::Seconds(1)});
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  // Runs `calls` commands from `threads` threads at once, so that several connections get opened.
  static int ConcurrentIncrs(RedisPool& pool, int threads, int calls) {
    std::atomic<int> ok{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int i = 0; i < calls; ++i) ok += pool.Command({"INCR", "counter"}).ok() ? 1 : 0;
      });
    }
    for (std::thread& w : workers) w.join();
    return ok.load();
  }

  std::unique_ptr<RedisServerProcess> server_;
};

TEST_F(RedisRestartTest, PoolSurvivesRedisRestart) {
  std::unique_ptr<RedisPool> pool = NewPool(4);
  ASSERT_NE(pool, nullptr);
  ASSERT_EQ(ConcurrentIncrs(*pool, 8, 50), 400);  // leaves up to 4 idle connections behind

  server_->Kill();
  for (int i = 0; i < 6; ++i) {  // more calls than idle connections: stale ones, then refusals
    absl::Time start = absl::Now();
    absl::Status status = pool->Command({"GET", "counter"}).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), HasSubstr("redis: "));
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(500)) << "call " << i << " hung";
  }
  absl::StatusOr<std::vector<RedisReply>> piped = pool->Pipeline({{"PING"}, {"PING"}});
  EXPECT_EQ(piped.status().code(), absl::StatusCode::kUnavailable) << piped.status();

  ASSERT_TRUE(server_->Restart().ok());
  // The same pool, not recreated; the very first call already succeeds.
  absl::Status first = pool->Ping();
  EXPECT_TRUE(first.ok()) << first;
  EXPECT_EQ(ConcurrentIncrs(*pool, 8, 25), 200);
  EXPECT_EQ(pool->Command({"GET", "counter"})->AsInt().value(), 200);  // data did not persist
}

TEST_F(RedisRestartTest, IdleConnectionsSurviveRestartWithoutAFailedCall) {
  std::unique_ptr<RedisPool> pool = NewPool(4);
  ASSERT_NE(pool, nullptr);
  ASSERT_EQ(ConcurrentIncrs(*pool, 4, 20), 80);

  // Redis restarts while the pool is idle: each stale connection is noticed before use.
  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_EQ(ConcurrentIncrs(*pool, 4, 20), 80);
}

TEST_F(RedisRestartTest, EvalReloadsScriptAfterFlushAndRestart) {
  static const RedisScript kIncr("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  std::unique_ptr<RedisPool> pool = NewPool(2);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->Eval(kIncr, {"n"}, {"1"})->integer, 1);  // first run: NOSCRIPT, load, retry

  ASSERT_TRUE(pool->Command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_EQ(pool->Command({"SCRIPT", "EXISTS", kIncr.sha1()})->elements[0].integer, 0);
  absl::StatusOr<RedisReply> after_flush = pool->Eval(kIncr, {"n"}, {"2"});
  ASSERT_TRUE(after_flush.ok()) << after_flush.status();
  EXPECT_EQ(after_flush->integer, 3);
  EXPECT_EQ(pool->Command({"SCRIPT", "EXISTS", kIncr.sha1()})->elements[0].integer, 1);

  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  absl::StatusOr<RedisReply> after_restart = pool->Eval(kIncr, {"n"}, {"5"});
  ASSERT_TRUE(after_restart.ok()) << after_restart.status();
  EXPECT_EQ(after_restart->integer, 5);
}

TEST_F(RedisRestartTest, NeverOpensMoreThanMaxConnections) {
  std::unique_ptr<RedisPool> pool = NewPool(4);
  ASSERT_NE(pool, nullptr);
  std::atomic<long long> peak{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<RedisReply> info = pool->Command({"INFO", "clients"});
        if (!info.ok()) {
          ++failures;
          continue;
        }
        // "connected_clients:N" counts every client, this pool's connections included.
        size_t at = info->str.find("connected_clients:");
        long long n = std::atoll(info->str.c_str() + at + 18);
        for (long long p = peak.load(); n > p && !peak.compare_exchange_weak(p, n);) {
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(peak.load(), 2);
  EXPECT_LE(peak.load(), 4);
}

TEST_F(RedisRestartTest, PasswordAndDatabaseFromUrl) {
  std::unique_ptr<RedisPool> admin = NewPool(1);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Command({"CONFIG", "SET", "requirepass", "p@ss:word"}).ok());

  const std::string base = absl::StrCat("127.0.0.1:", server_->port());
  auto db2 = RedisPool::Create({.url = absl::StrCat("redis://:p%40ss%3Aword@", base, "/2")});
  ASSERT_TRUE(db2.ok()) << db2.status();
  ASSERT_TRUE((*db2)->Command({"SET", "where", "db2"}).ok());
  auto db0 = RedisPool::Create({.url = absl::StrCat("redis://default:p%40ss%3Aword@", base, "/0")});
  ASSERT_TRUE(db0.ok()) << db0.status();
  EXPECT_TRUE((*db0)->Command({"GET", "where"})->is_nil());
  EXPECT_EQ((*db2)->Command({"GET", "where"})->str, "db2");

  auto wrong = RedisPool::Create({.url = absl::StrCat("redis://:nope@", base)});
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  absl::Status denied = (*wrong)->Ping();
  EXPECT_EQ(denied.code(), absl::StatusCode::kFailedPrecondition) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("AUTH"));
}

}  // namespace
}  // namespace parley::redis
