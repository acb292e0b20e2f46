// RedisPool against the shared local Redis (PARLEY_REDIS_URL). Every key carries a per-process,
// per-test prefix and is deleted afterwards, so these run in parallel with other suites. Tests
// that stop Redis or flush its script cache use a private server: redis_restart_redistest.cc.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis/redis_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace parley::redis {
namespace {

using ::testing::HasSubstr;
using Type = RedisReply::Type;

class RedisPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("PARLEY_REDIS_URL");
    ASSERT_NE(url, nullptr) << "PARLEY_REDIS_URL is not set; run `eval \"$(scripts/infra up)\"` "
                               "or scripts/test, which start the local Redis";
    url_ = url;
    auto pool = RedisPool::Create({.url = url_, .max_connections = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    ASSERT_TRUE(pool_->Ping().ok()) << "Redis at " << url_ << " is not answering";
  }

  void TearDown() override {
    if (pool_ == nullptr || keys_.empty()) return;
    std::vector<std::string> del = {"DEL"};
    del.insert(del.end(), keys_.begin(), keys_.end());
    EXPECT_TRUE(pool_->Command(del).ok());
  }

  // A key unique to this process and test, deleted in TearDown.
  std::string Key(const std::string& name) {
    std::string key =
        absl::StrCat("parley:test:", getpid(), ":",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name(), ":", name);
    keys_.push_back(key);
    return key;
  }

  std::string url_;
  std::unique_ptr<RedisPool> pool_;
  std::vector<std::string> keys_;
};

TEST_F(RedisPoolTest, SetGetIncr) {
  const std::string key = Key("k");
  absl::StatusOr<RedisReply> set = pool_->Command({"SET", key, "hello"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, Type::kStatus);
  EXPECT_EQ(set->AsString().value(), "OK");

  absl::StatusOr<RedisReply> get = pool_->Command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->type, Type::kString);
  EXPECT_EQ(get->AsString().value(), "hello");

  absl::StatusOr<RedisReply> missing = pool_->Command({"GET", Key("missing")});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE(missing->is_nil());

  const std::string counter = Key("counter");
  EXPECT_EQ(pool_->Command({"INCRBY", counter, "41"})->AsInt().value(), 41);
  EXPECT_EQ(pool_->Command({"INCR", counter})->integer, 42);
  EXPECT_EQ(pool_->Command({"GET", counter})->AsInt().value(), 42);
}

TEST_F(RedisPoolTest, ValuesAndKeysAreBinarySafe) {
  const std::string key = Key(std::string("bin\0key", 7));
  const std::string value("a\0b\r\n\xff\0", 7);
  ASSERT_TRUE(pool_->Command({"SET", key, value}).ok());
  absl::StatusOr<RedisReply> get = pool_->Command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->str.size(), 7u);
  EXPECT_EQ(get->str, value);
  EXPECT_EQ(pool_->Command({"STRLEN", key})->integer, 7);
}

TEST_F(RedisPoolTest, ArraysAndHashes) {
  const std::string list = Key("list");
  ASSERT_TRUE(pool_->Command({"RPUSH", list, "a", "b", "c"}).ok());
  absl::StatusOr<RedisReply> range = pool_->Command({"LRANGE", list, "0", "-1"});
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_THAT(range->AsStrings().value(), ::testing::ElementsAre("a", "b", "c"));

  const std::string hash = Key("hash");
  ASSERT_TRUE(pool_->Command({"HSET", hash, "state", "queued", "attempt", "1"}).ok());
  absl::StatusOr<RedisReply> all = pool_->Command({"HGETALL", hash});
  ASSERT_TRUE(all.ok()) << all.status();
  auto map = all->AsMap();
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->at("state"), "queued");
  EXPECT_EQ(map->at("attempt"), "1");
  EXPECT_EQ(all->AsString().status().code(), absl::StatusCode::kInternal);
}

TEST_F(RedisPoolTest, PipelineReturnsOneReplyPerCommandWithErrorsInline) {
  const std::string counter = Key("counter");
  const std::string text = Key("text");
  absl::StatusOr<std::vector<RedisReply>> replies = pool_->Pipeline({
      {"SET", text, "not a number"},
      {"INCR", counter},
      {"INCR", text},  // rejected by Redis; the rest still run
      {"INCR", counter},
      {"GET", counter},
  });
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 5u);
  EXPECT_EQ((*replies)[0].type, Type::kStatus);
  EXPECT_EQ((*replies)[1].integer, 1);
  EXPECT_EQ((*replies)[2].type, Type::kError);
  EXPECT_THAT((*replies)[2].str, HasSubstr("not an integer"));
  EXPECT_EQ((*replies)[3].integer, 2);
  EXPECT_EQ((*replies)[4].AsString().value(), "2");

  EXPECT_TRUE(pool_->Pipeline({})->empty());
  EXPECT_EQ(pool_->Pipeline({{"PING"}, {}}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisPoolTest, MultiExecInsidePipeline) {
  const std::string a = Key("a");
  absl::StatusOr<std::vector<RedisReply>> replies =
      pool_->Pipeline({{"MULTI"}, {"INCR", a}, {"INCR", a}, {"EXEC"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  const RedisReply& exec = (*replies)[3];
  ASSERT_TRUE(exec.is_array());
  ASSERT_EQ(exec.elements.size(), 2u);
  EXPECT_EQ(exec.elements[1].integer, 2);
}

TEST_F(RedisPoolTest, ErrorRepliesMapToStatuses) {
  const std::string text = Key("text");
  ASSERT_TRUE(pool_->Command({"SET", text, "abc"}).ok());

  absl::Status not_int = pool_->Command({"INCR", text}).status();
  EXPECT_EQ(not_int.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(not_int.message(), HasSubstr("redis: ERR value is not an integer"));

  absl::Status wrong_type = pool_->Command({"LPUSH", text, "x"}).status();
  EXPECT_EQ(wrong_type.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(wrong_type.message(), HasSubstr("WRONGTYPE"));

  EXPECT_EQ(pool_->Command({"NOSUCHCOMMAND"}).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(pool_->Command({}).status().code(), absl::StatusCode::kInvalidArgument);

  const std::string stream = Key("stream");
  ASSERT_TRUE(pool_->Command({"XGROUP", "CREATE", stream, "workers", "$", "MKSTREAM"}).ok());
  absl::Status again = pool_->Command({"XGROUP", "CREATE", stream, "workers", "$"}).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;

  // An error reply leaves the connection usable.
  EXPECT_TRUE(pool_->Ping().ok());
}

TEST_F(RedisPoolTest, EvalRunsScriptsWithKeysAndArgs) {
  static const RedisScript kAddAndGet(R"lua(
    redis.call('INCRBY', KEYS[1], ARGV[1])
    return {redis.call('GET', KEYS[1]), ARGV[2]}
  )lua");
  EXPECT_EQ(kAddAndGet.sha1().size(), 40u);
  const std::string key = Key("sum");
  absl::StatusOr<RedisReply> reply = pool_->Eval(kAddAndGet, {key}, {"5", std::string("x\0y", 3)});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(reply->AsStrings().value(), ::testing::ElementsAre("5", std::string("x\0y", 3)));
  reply = pool_->Eval(kAddAndGet, {key}, {"2", ""});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->elements[0].AsInt().value(), 7);

  // The SHA is Redis's own name for the script.
  absl::StatusOr<RedisReply> loaded = pool_->Command({"SCRIPT", "LOAD", kAddAndGet.source()});
  EXPECT_EQ(loaded->str, kAddAndGet.sha1());
}

TEST_F(RedisPoolTest, ScriptErrorsAreInternal) {
  static const RedisScript kFails("return redis.error_reply('CALL_GONE lease lost')");
  absl::Status status = pool_->Eval(kFails, {}, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("CALL_GONE lease lost"));
}

TEST_F(RedisPoolTest, SixteenThreadsShareFourConnections) {
  const std::string counter = Key("counter");
  constexpr int kThreads = 16;
  constexpr int kIncrements = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        if (i % 10 == 0) {
          auto replies = pool_->Pipeline({{"INCR", counter}, {"PING"}});
          if (!replies.ok() || replies->size() != 2) ++failures;
        } else if (!pool_->Command({"INCR", counter}).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pool_->Command({"GET", counter})->AsInt().value(), kThreads * kIncrements);
}

TEST_F(RedisPoolTest, PerCallTimeoutLetsBlockingCommandsWait) {
  auto pool = RedisPool::Create(
      {.url = url_, .max_connections = 2, .command_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  const std::string list = Key("empty");

  // BLPOP for 1 s outlives the 300 ms default, so it needs the override.
  absl::Time start = absl::Now();
  absl::StatusOr<RedisReply> popped = (*pool)->Command({"BLPOP", list, "1"}, absl::Seconds(3));
  ASSERT_TRUE(popped.ok()) << popped.status();
  EXPECT_TRUE(popped->is_nil());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));

  // Without it the call gives up at the default timeout instead of hanging.
  start = absl::Now();
  absl::Status timed_out = (*pool)->Command({"BLPOP", list, "2"}).status();
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kUnavailable) << timed_out;
  EXPECT_THAT(timed_out.message(), HasSubstr("timed out"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));

  // The timed-out connection was dropped (its late reply would desynchronise it); the pool goes on,
  // and the override did not stick to the connection it was set on.
  EXPECT_TRUE((*pool)->Ping().ok());
  EXPECT_EQ((*pool)->Command({"BLPOP", list, "1"}).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisPoolTest, ExhaustedPoolFailsAfterTheTimeout) {
  auto pool = RedisPool::Create(
      {.url = url_, .max_connections = 1, .command_timeout = absl::Milliseconds(200)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  const std::string list = Key("empty");
  std::thread blocker([&] {
    (*pool)->Command({"BLPOP", list, "1"}, absl::Seconds(3)).IgnoreError();
  });
  absl::SleepFor(absl::Milliseconds(200));  // let the blocker take the only connection

  absl::Time start = absl::Now();
  absl::Status status = (*pool)->Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("pool exhausted"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(600));
  blocker.join();
  EXPECT_TRUE((*pool)->Ping().ok());  // the connection came back
}

TEST(RedisPoolCreateTest, RejectsBadOptions) {
  EXPECT_EQ(RedisPool::Create({.url = "http://x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RedisPool::Create({.url = "redis://x", .max_connections = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RedisPoolCreateTest, ClosedPortIsUnavailableAtOnce) {
  auto pool = RedisPool::Create({.url = "redis://127.0.0.1:1"});
  ASSERT_TRUE(pool.ok()) << pool.status();  // Create does not connect
  absl::Time start = absl::Now();
  absl::Status status = (*pool)->Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("redis: connect to 127.0.0.1:1"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace parley::redis
