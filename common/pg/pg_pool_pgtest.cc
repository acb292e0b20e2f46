// PgPool against the shared local Postgres (PARLEY_PG_URL). Each test works in its own schema.
#include <atomic>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/pg/pg_pool.h"
#include "common/pg/testing/scratch_schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace parley::pg {
namespace {

using ::testing::HasSubstr;
using testing::ScratchSchema;
using ::testing::StartsWith;

class PgPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = testing::PgUrlFromEnv();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    auto pool = PgPool::Create({.url = url_, .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    ASSERT_TRUE(pool_->Ping().ok()) << "Postgres at " << url_ << " is not answering";
    schema_ = std::make_unique<ScratchSchema>(*pool_, "pgpool");
    s_ = schema_->name() + ".";
    absl::Status created = pool_->Transact([&](pqxx::work& tx) {
      tx.exec("CREATE SCHEMA " + schema_->name());
      tx.exec("CREATE TABLE " + s_ + "parent (id int PRIMARY KEY)");
      tx.exec("CREATE TABLE " + s_ +
              "item (id int PRIMARY KEY, name text NOT NULL UNIQUE, "
              "qty int NOT NULL CHECK (qty >= 0), parent int REFERENCES " +
              s_ + "parent(id))");
      tx.exec("CREATE TABLE " + s_ + "counter (id int PRIMARY KEY, n int NOT NULL)");
      tx.exec("INSERT INTO " + s_ + "counter VALUES (1, 0), (2, 0)");
    });
    ASSERT_TRUE(created.ok()) << created;
  }

  void TearDown() override { schema_.reset(); }

  int Counter(int id = 1) {
    return pool_
        ->Transact([&](pqxx::work& tx) {
          return tx.exec_params1("SELECT n FROM " + s_ + "counter WHERE id = $1", id)[0].as<int>();
        })
        .value();
  }

  std::string url_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<ScratchSchema> schema_;
  std::string s_;  // "<schema>."
};

TEST_F(PgPoolTest, PreparedStatementsReachEveryConnection) {
  pool_->Prepare("test.insert_item",
                 "INSERT INTO " + s_ + "item (id, name, qty) VALUES ($1, $2, $3)");
  pool_->Prepare("test.insert_item",
                 "INSERT INTO " + s_ + "item (id, name, qty) VALUES ($1, $2, $3)");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {  // more threads than connections: all 4 get used
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        int id = t * 100 + i;
        absl::Status s = pool_->Transact([&](pqxx::work& tx) {
          tx.exec_prepared("test.insert_item", id, "item" + std::to_string(id), i);
        });
        if (!s.ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  // Registered after the connections exist: they pick it up on their next use.
  pool_->Prepare("test.count_items", "SELECT count(*) FROM " + s_ + "item WHERE qty >= $1");
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<int> count = pool_->Transact(
        [](pqxx::work& tx) { return tx.exec_prepared1("test.count_items", 5)[0].as<int>(); });
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, 40);
  }
}

TEST_F(PgPoolTest, TransactReturnsWhatTheFunctionReturns) {
  absl::Status void_result = pool_->Transact(
      [&](pqxx::work& tx) { tx.exec("INSERT INTO " + s_ + "item VALUES (1, 'a', 1)"); });
  EXPECT_TRUE(void_result.ok()) << void_result;

  absl::StatusOr<std::string> value = pool_->Transact([&](pqxx::work& tx) {
    return tx.exec1("SELECT name FROM " + s_ + "item WHERE id = 1")[0].as<std::string>();
  });
  EXPECT_EQ(value.value(), "a");

  absl::StatusOr<int> status_or = pool_->Transact([&](pqxx::work& tx) -> absl::StatusOr<int> {
    pqxx::result r = tx.exec("SELECT qty FROM " + s_ + "item WHERE id = 2");
    if (r.empty()) return absl::NotFoundError("item 2");
    return r[0][0].as<int>();
  });
  EXPECT_EQ(status_or.status().code(), absl::StatusCode::kNotFound);

  // A failing status from the function rolls the transaction back and is returned untouched.
  absl::Status refused = pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec("INSERT INTO " + s_ + "item VALUES (2, 'b', 1)");
    return absl::FailedPreconditionError("changed my mind");
  });
  EXPECT_EQ(refused, absl::FailedPreconditionError("changed my mind"));

  // So does an exception, which becomes a status.
  absl::Status thrown = pool_->Transact([&](pqxx::work& tx) {
    tx.exec("INSERT INTO " + s_ + "item VALUES (3, 'c', 1)");
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(thrown.message(), HasSubstr("boom"));

  absl::StatusOr<int> rows = pool_->Transact(
      [&](pqxx::work& tx) { return tx.exec1("SELECT count(*) FROM " + s_ + "item")[0].as<int>(); });
  EXPECT_EQ(rows.value(), 1);
}

TEST_F(PgPoolTest, IsolationLevelIsApplied) {
  for (auto [isolation, expected] : {std::pair{Isolation::kReadCommitted, "read committed"},
                                     std::pair{Isolation::kRepeatableRead, "repeatable read"},
                                     std::pair{Isolation::kSerializable, "serializable"}}) {
    absl::StatusOr<std::string> level = pool_->Transact(
        [](pqxx::work& tx) { return tx.exec1("SHOW transaction_isolation")[0].as<std::string>(); },
        {.isolation = isolation});
    EXPECT_EQ(level.value(), expected);
  }
}

// Both transactions read the counter before either writes, so under SERIALIZABLE one of them must
// fail and be re-run; the barrier makes that certain on the first attempt.
TEST_F(PgPoolTest, SerializationFailureIsRetried) {
  std::barrier both_read(2);
  std::atomic<int> runs{0};
  auto increment = [&] {
    return pool_->Transact(
        [&](pqxx::work& tx) {
          const bool first = runs.fetch_add(1) < 2;
          int n = tx.exec1("SELECT n FROM " + s_ + "counter WHERE id = 1")[0].as<int>();
          if (first) both_read.arrive_and_wait();
          tx.exec_params("UPDATE " + s_ + "counter SET n = $1 WHERE id = 1", n + 1);
        },
        {.isolation = Isolation::kSerializable});
  };
  absl::Status a, b;
  std::thread ta([&] { a = increment(); });
  std::thread tb([&] { b = increment(); });
  ta.join();
  tb.join();
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;
  EXPECT_EQ(runs.load(), 3);  // the loser ran twice
  EXPECT_EQ(Counter(), 2);    // no lost update
}

TEST_F(PgPoolTest, LoserIsAbortedWhenOutOfAttempts) {
  std::barrier both_read(2);
  auto increment = [&] {
    return pool_->Transact(
        [&](pqxx::work& tx) {
          int n = tx.exec1("SELECT n FROM " + s_ + "counter WHERE id = 1")[0].as<int>();
          both_read.arrive_and_wait();
          tx.exec_params("UPDATE " + s_ + "counter SET n = $1 WHERE id = 1", n + 1);
        },
        {.isolation = Isolation::kSerializable, .max_attempts = 1});
  };
  absl::Status a, b;
  std::thread ta([&] { a = increment(); });
  std::thread tb([&] { b = increment(); });
  ta.join();
  tb.join();
  EXPECT_NE(a.ok(), b.ok()) << a << " / " << b;
  absl::Status loser = a.ok() ? b : a;
  EXPECT_EQ(loser.code(), absl::StatusCode::kAborted) << loser;
  EXPECT_THAT(loser.message(), HasSubstr("gave up after 1 attempts"));
  EXPECT_EQ(Counter(), 1);
}

TEST_F(PgPoolTest, TwentySerializableIncrementsLoseNothing) {
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(20);
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&, t] {
      results[t] = pool_->Transact(
          [&](pqxx::work& tx) {
            int n = tx.exec1("SELECT n FROM " + s_ + "counter WHERE id = 1")[0].as<int>();
            tx.exec_params("UPDATE " + s_ + "counter SET n = $1 WHERE id = 1", n + 1);
          },
          {.isolation = Isolation::kSerializable, .max_attempts = 100});
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Counter(), 20);
}

TEST_F(PgPoolTest, DeadlockIsRetried) {
  std::barrier both_locked(2);
  std::atomic<int> runs{0};
  auto update_both = [&](int first_id, int second_id) {
    return pool_->Transact([&, first_id, second_id](pqxx::work& tx) {
      const bool first_run = runs.fetch_add(1) < 2;
      tx.exec_params("UPDATE " + s_ + "counter SET n = n + 1 WHERE id = $1", first_id);
      if (first_run) both_locked.arrive_and_wait();
      tx.exec_params("UPDATE " + s_ + "counter SET n = n + 1 WHERE id = $1", second_id);
    });
  };
  absl::Status a, b;
  std::thread ta([&] { a = update_both(1, 2); });
  std::thread tb([&] { b = update_both(2, 1); });
  ta.join();
  tb.join();
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;
  // At least the loser's re-run. A re-run can itself deadlock again (it may lock its first row
  // before the winner, woken from its wait, locks it), so more runs are possible.
  EXPECT_GE(runs.load(), 3);
  EXPECT_EQ(Counter(1), 2);
  EXPECT_EQ(Counter(2), 2);
}

TEST_F(PgPoolTest, ConstraintAndDataErrorsMapToCodes) {
  auto run = [&](const std::string& sql) {
    return pool_->Transact([&](pqxx::work& tx) { tx.exec(sql); });
  };
  ASSERT_TRUE(run("INSERT INTO " + s_ + "item VALUES (1, 'a', 1)").ok());

  const std::pair<std::string, absl::StatusCode> cases[] = {
      {"INSERT INTO " + s_ + "item VALUES (1, 'dup id', 1)", absl::StatusCode::kAlreadyExists},
      {"INSERT INTO " + s_ + "item VALUES (2, 'a', 1)", absl::StatusCode::kAlreadyExists},
      {"INSERT INTO " + s_ + "item VALUES (3, 'c', 1, 999)", absl::StatusCode::kFailedPrecondition},
      {"INSERT INTO " + s_ + "item VALUES (4, 'd', -1)", absl::StatusCode::kInvalidArgument},
      {"INSERT INTO " + s_ + "item VALUES (5, NULL, 1)", absl::StatusCode::kInvalidArgument},
      {"SELECT 'abc'::int", absl::StatusCode::kInvalidArgument},
      {"SELECT 1 / 0", absl::StatusCode::kInvalidArgument},
      {"SELEKT 1", absl::StatusCode::kInternal},
      {"SELECT * FROM " + s_ + "no_such_table", absl::StatusCode::kInternal},
  };
  for (const auto& [sql, code] : cases) {
    absl::Status status = run(sql);
    EXPECT_EQ(status.code(), code) << sql << " -> " << status;
    EXPECT_THAT(std::string(status.message()), StartsWith("postgres: ")) << sql;
  }
  EXPECT_TRUE(pool_->Ping().ok());  // errors left the connections usable
}

TEST_F(PgPoolTest, ReconnectsAfterTheServerDropsAConnection) {
  auto pool = PgPool::Create({.url = url_, .size = 1});
  ASSERT_TRUE(pool.ok()) << pool.status();
  (*pool)->Prepare("test.one", "SELECT 1");
  absl::StatusOr<int> pid = (*pool)->Transact(
      [](pqxx::work& tx) { return tx.exec1("SELECT pg_backend_pid()")[0].as<int>(); });
  ASSERT_TRUE(pid.ok()) << pid.status();

  absl::Status killed = pool_->Transact(
      [&](pqxx::work& tx) { tx.exec_params("SELECT pg_terminate_backend($1)", *pid); });
  ASSERT_TRUE(killed.ok()) << killed;
  absl::SleepFor(absl::Milliseconds(100));

  absl::StatusOr<int> again = (*pool)->Transact([](pqxx::work& tx) {
    tx.exec_prepared1("test.one");  // re-registered on the new connection
    return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, *pid);
}

TEST_F(PgPoolTest, BusyPoolMakesCallersWaitThenGiveUp) {
  auto pool = PgPool::Create({.url = url_, .size = 1, .acquire_timeout = absl::Milliseconds(200)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  absl::Notification holding, release;
  std::thread holder([&] {
    (*pool)
        ->Transact([&](pqxx::work&) {
          holding.Notify();
          release.WaitForNotification();
        })
        .IgnoreError();
  });
  holding.WaitForNotification();
  absl::Time start = absl::Now();
  absl::Status busy = (*pool)->Ping();
  EXPECT_EQ(busy.code(), absl::StatusCode::kUnavailable) << busy;
  EXPECT_THAT(busy.message(), HasSubstr("pool exhausted"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));

  std::thread waiter([&] { EXPECT_TRUE((*pool)->Ping().ok()); });  // waits, then gets it
  absl::SleepFor(absl::Milliseconds(50));
  release.Notify();
  holder.join();
  waiter.join();
}

TEST(PgPoolCreateTest, ClosedPortIsUnavailable) {
  auto pool = PgPool::Create({.url = "postgresql://postgres@127.0.0.1:1/parley"});
  ASSERT_TRUE(pool.ok()) << pool.status();  // Create does not connect
  absl::Time start = absl::Now();
  absl::Status ping = (*pool)->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  EXPECT_THAT(std::string(ping.message()), StartsWith("postgres: "));
  absl::StatusOr<int> value = (*pool)->Transact([](pqxx::work&) { return 1; });
  EXPECT_EQ(value.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(PgPoolCreateTest, RejectsBadOptions) {
  EXPECT_EQ(PgPool::Create({.url = "nonsense"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PgPool::Create({.url = "host=x nosuchoption=1"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PgPool::Create({.url = "postgresql://x/db", .size = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::pg
