// Migrate against the shared local Postgres (PARLEY_PG_URL). Each test migrates a fresh schema of
// its own and drops it at the end.
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/migrate.h"
#include "common/pg/testing/scratch_schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace parley::pg::testing {
const std::vector<Migration>& WidgetMigrations();  // testdata/migrations, via ParleyEmbed.cmake
}  // namespace parley::pg::testing

namespace parley::pg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::ScratchSchema;
using testing::WidgetMigrations;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = testing::PgUrlFromEnv();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    auto pool = PgPool::Create({.url = url_, .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    schema_ = std::make_unique<ScratchSchema>(*pool_, "migrate");
  }

  void TearDown() override { schema_.reset(); }

  const std::string& schema() const { return schema_->name(); }

  // (version, name) rows of schema_migrations, in version order.
  std::vector<std::pair<int, std::string>> Applied() {
    return pool_
        ->Transact([&](pqxx::work& tx) {
          std::vector<std::pair<int, std::string>> rows;
          for (const auto& row :
               tx.exec("SELECT version, name FROM " + schema() + ".schema_migrations ORDER BY 1")) {
            rows.emplace_back(row[0].as<int>(), row[1].as<std::string>());
          }
          return rows;
        })
        .value();
  }

  long long Count(const std::string& table) {
    return pool_
        ->Transact([&](pqxx::work& tx) {
          return tx.exec1("SELECT count(*) FROM " + schema() + "." + table)[0].as<long long>();
        })
        .value();
  }

  bool SchemaExists() {
    return pool_
        ->Transact([&](pqxx::work& tx) {
          return !tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema()).empty();
        })
        .value();
  }

  std::string url_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<ScratchSchema> schema_;
};

TEST_F(MigrateTest, EmbeddedMigrationsAreSortedByVersionAndVerbatim) {
  const std::vector<Migration>& m = WidgetMigrations();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].version, 1);
  EXPECT_EQ(m[0].name, "create_widgets");
  EXPECT_EQ(m[1].version, 2);
  EXPECT_EQ(m[2].version, 10);  // after 2, although "010" < "002" is false and "10" < "2" is true
  EXPECT_EQ(m[2].name, "add_color");
  EXPECT_THAT(m[2].sql, HasSubstr(R"("comment" \ with @at@ and ${dollar}';)"));
}

TEST_F(MigrateTest, AppliesInOrderThenNothingOnRerun) {
  absl::Status status = Migrate(*pool_, schema(), WidgetMigrations());
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(Applied(), ElementsAre(Pair(1, "create_widgets"), Pair(2, "seed_widgets"),
                                     Pair(10, "add_color")));
  EXPECT_EQ(Count("widgets"), 1);
  absl::StatusOr<std::string> color = pool_->Transact([&](pqxx::work& tx) {
    return tx.exec1("SELECT color FROM " + schema() + ".widgets")[0].as<std::string>();
  });
  EXPECT_EQ(color.value(), "grey");  // 10 ran after 1 and 2

  status = Migrate(*pool_, schema(), WidgetMigrations());
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(Applied().size(), 3u);
  EXPECT_EQ(Count("widgets"), 1);  // the seed did not run again
}

TEST_F(MigrateTest, AppliesOnlyNewMigrations) {
  std::vector<Migration> first(WidgetMigrations().begin(), WidgetMigrations().begin() + 2);
  ASSERT_TRUE(Migrate(*pool_, schema(), first).ok());
  EXPECT_EQ(Applied().size(), 2u);
  ASSERT_TRUE(Migrate(*pool_, schema(), WidgetMigrations()).ok());
  EXPECT_EQ(Applied().size(), 3u);
  EXPECT_EQ(Count("widgets"), 1);
  // An older binary (fewer migrations) starting later is fine with the newer schema.
  EXPECT_TRUE(Migrate(*pool_, schema(), first).ok());
}

TEST_F(MigrateTest, ConcurrentReplicasApplyEachMigrationOnce) {
  for (int round = 0; round < 3; ++round) {
    ScratchSchema fresh(*pool_, "migrate_race");
    constexpr int kReplicas = 8;
    std::barrier start(kReplicas);
    std::vector<absl::Status> results(kReplicas);
    std::vector<std::thread> replicas;
    for (int r = 0; r < kReplicas; ++r) {
      replicas.emplace_back([&, r] {
        auto pool = PgPool::Create({.url = url_, .size = 1});  // each replica its own pool
        if (!pool.ok()) {
          results[r] = pool.status();
          start.arrive_and_drop();
          return;
        }
        start.arrive_and_wait();
        results[r] = Migrate(**pool, fresh.name(), WidgetMigrations());
      });
    }
    for (std::thread& t : replicas) t.join();
    for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
    absl::StatusOr<std::pair<long long, long long>> counts = pool_->Transact([&](pqxx::work& tx) {
      return std::pair{
          tx.exec1("SELECT count(*) FROM " + fresh.name() + ".widgets")[0].as<long long>(),
          tx.exec1("SELECT count(*) FROM " + fresh.name() + ".schema_migrations")[0]
              .as<long long>()};
    });
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->first, 1) << "the seed migration ran more than once";
    EXPECT_EQ(counts->second, 3);
  }
}

TEST_F(MigrateTest, FailingMigrationLeavesNothingBehindAndIsNamed) {
  std::vector<Migration> migrations = {
      {1, "create_a", "CREATE TABLE a (id int PRIMARY KEY)"},
      {2, "fill_a", "INSERT INTO a VALUES (1), (2)"},
      {3, "broken", "CREATE TABLE b (id int PRIMARY KEY); CREATE TABLE c (oops"},
  };
  absl::Status status = Migrate(*pool_, schema(), migrations);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("migration 3 (broken) in schema " + schema() + ": postgres: "));
  EXPECT_FALSE(SchemaExists()) << "the failed run left the schema behind";

  // With 1 and 2 applied earlier, a failing 3 keeps them and adds nothing.
  std::vector<Migration> good(migrations.begin(), migrations.begin() + 2);
  ASSERT_TRUE(Migrate(*pool_, schema(), good).ok());
  migrations.push_back({4, "dup", "INSERT INTO a VALUES (1)"});
  migrations[2].sql = "CREATE TABLE b (id int PRIMARY KEY)";
  status = Migrate(*pool_, schema(), migrations);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_THAT(status.message(), HasSubstr("migration 4 (dup)"));
  EXPECT_THAT(Applied(), ElementsAre(Pair(1, "create_a"), Pair(2, "fill_a")));
  absl::StatusOr<bool> b_exists = pool_->Transact([&](pqxx::work& tx) {
    return !tx.exec_params("SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'b'",
                           schema())
                .empty();
  });
  EXPECT_FALSE(b_exists.value()) << "migration 3 was kept although 4 failed";

  migrations.pop_back();
  ASSERT_TRUE(Migrate(*pool_, schema(), migrations).ok());
  EXPECT_EQ(Applied().size(), 3u);
}

TEST_F(MigrateTest, RejectsBadVersionListsAndSchemaNames) {
  auto code = [&](std::vector<Migration> m, const std::string& s) {
    return Migrate(*pool_, s, m).code();
  };
  const Migration one{1, "one", "SELECT 1"}, two{2, "two", "SELECT 1"};
  EXPECT_EQ(code({one, one}, schema()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({two, one}, schema()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{0, "zero", "SELECT 1"}}, schema()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({one}, "Config"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({one}, "config; DROP TABLE x"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({one}, ""), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SchemaExists());
  EXPECT_TRUE(Migrate(*pool_, schema(), {}).ok());  // nothing to apply still sets up the table
  EXPECT_TRUE(Applied().empty());
}

TEST_F(MigrateTest, RenumberedMigrationIsRefused) {
  ASSERT_TRUE(Migrate(*pool_, schema(), {{1, "create_a", "CREATE TABLE a (id int)"}}).ok());
  absl::Status status = Migrate(*pool_, schema(), {{1, "create_b", "CREATE TABLE b (id int)"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"create_a\""));
}

TEST(MigrateUnreachableTest, ClosedPortIsUnavailable) {
  auto pool = PgPool::Create({.url = "postgresql://postgres@127.0.0.1:1/parley"});
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(Migrate(**pool, "config", WidgetMigrations()).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::pg
