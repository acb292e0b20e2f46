// The Redis DNC index that config-api keeps beside Postgres: written in the same request as the
// row, rebuilt by the reconcile, never missing a write that races a rebuild. Real Postgres (a
// scratch database) and the shared Redis (a key of this process's own).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/calls/dnc_index.h"
#include "common/pg/testing/scratch_database.h"
#include "common/redis/testing/redis_server_process.h"
#include "services/config-api/config_handler.h"
#include "services/config-api/dnc_reconciler.h"

namespace parley::config {
namespace {

class DncIndexTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new pg::testing::ScratchDatabase();
    pool_ = pg::PgPool::Create({.url = db_->url()})->release();
    store_ = new ConfigStore(pool_);
    ASSERT_TRUE(store_->Migrate().ok());
    // Campaign entries must name a campaign that exists (the store alone: the handler's spec
    // checks and references are not what these tests are about).
    StoredResource spring;
    spring.kind = parley::v1::RESOURCE_KIND_CAMPAIGN;
    spring.name = "spring";
    spring.spec = {{"agent", "spring-agent"}};
    ASSERT_TRUE(store_->Create(spring, {}).ok());
    const char* url = std::getenv("PARLEY_REDIS_URL");
    ASSERT_NE(url, nullptr) << "run through scripts/test";
    redis_ = redis::RedisPool::Create({.url = url})->release();
  }
  static void TearDownTestSuite() {
    delete redis_;
    delete store_;
    delete pool_;
    delete db_;
  }

  void SetUp() override {
    key_ = absl::StrCat("t", getpid(), "_dnc_", counter_++, ":dnc");
    index_ = std::make_unique<calls::DncIndex>(redis_, key_);
    handler_ = std::make_unique<ConfigHandler>(store_, nullptr, grpcx::TokenAuth::Disabled(),
                                               index_.get());
    reconciler_ = std::make_unique<DncReconciler>(store_, index_.get());
  }
  void TearDown() override {
    // Leave Postgres empty for the next test.
    ASSERT_TRUE(pool_->Transact([](pqxx::work& tx) { tx.exec("DELETE FROM config.dnc"); }).ok());
    (void)redis_->Command({"DEL", key_});
  }

  grpc::Status Add(const std::string& number, const std::string& campaign = "") {
    parley::v1::AddDncRequest r;
    r.set_number(number);
    r.set_campaign(campaign);
    r.set_reason("opt_out");
    grpc::ServerContext context;
    parley::v1::DncEntry out;
    return handler_->AddDnc(&context, &r, &out);
  }
  grpc::Status Remove(const std::string& number, const std::string& campaign = "") {
    parley::v1::RemoveDncRequest r;
    r.set_number(number);
    r.set_campaign(campaign);
    grpc::ServerContext context;
    google::protobuf::Empty out;
    return handler_->RemoveDnc(&context, &r, &out);
  }
  bool InIndex(const std::string& number, const std::string& campaign = "") {
    absl::StatusOr<bool> in = index_->Contains(number, campaign);
    EXPECT_TRUE(in.ok()) << in.status();
    return in.ok() && *in;
  }
  bool InPostgres(const std::string& number, const std::string& campaign = "") {
    auto page = store_->ListDnc(campaign, campaign.empty(), 1000, "");
    EXPECT_TRUE(page.ok()) << page.status();
    for (const auto& e : page->entries) {
      if (e.number() == number && e.campaign() == campaign) return true;
    }
    return false;
  }

  static pg::testing::ScratchDatabase* db_;
  static pg::PgPool* pool_;
  static ConfigStore* store_;
  static redis::RedisPool* redis_;
  static int counter_;
  std::string key_;
  std::unique_ptr<calls::DncIndex> index_;
  std::unique_ptr<ConfigHandler> handler_;
  std::unique_ptr<DncReconciler> reconciler_;
};

pg::testing::ScratchDatabase* DncIndexTest::db_;
pg::PgPool* DncIndexTest::pool_;
ConfigStore* DncIndexTest::store_;
redis::RedisPool* DncIndexTest::redis_;
int DncIndexTest::counter_ = 0;

TEST_F(DncIndexTest, AddAndRemoveChangeTheIndexBeforeReturning) {
  ASSERT_TRUE(Add("+14155550100").ok());
  ASSERT_TRUE(Add("+14155550101", "spring").ok());
  EXPECT_TRUE(InIndex("+14155550100"));
  EXPECT_TRUE(InIndex("+14155550101", "spring"));
  // Global and per-campaign entries are distinct members.
  EXPECT_FALSE(InIndex("+14155550101"));
  EXPECT_FALSE(InIndex("+14155550100", "spring"));
  // Idempotent add; remove takes exactly one entry out.
  ASSERT_TRUE(Add("+14155550100").ok());
  ASSERT_TRUE(Remove("+14155550100").ok());
  EXPECT_FALSE(InIndex("+14155550100"));
  EXPECT_TRUE(InIndex("+14155550101", "spring"));
  EXPECT_EQ(Remove("+14155550100").error_code(), grpc::StatusCode::NOT_FOUND);

  // ImportDnc writes the index too.
  parley::v1::ImportDncRequest import;
  for (const char* n : {"+14155550110", "+14155550111"}) import.add_entries()->set_number(n);
  import.mutable_entries(1)->set_campaign("spring");
  grpc::ServerContext context;
  parley::v1::ImportDncResponse imported;
  ASSERT_TRUE(handler_->ImportDnc(&context, &import, &imported).ok());
  EXPECT_EQ(imported.imported(), 2);
  EXPECT_TRUE(InIndex("+14155550110"));
  EXPECT_TRUE(InIndex("+14155550111", "spring"));
}

TEST_F(DncIndexTest, ReconcileRebuildsAWipedIndexFromPostgres) {
  ASSERT_TRUE(Add("+14155550100").ok());
  ASSERT_TRUE(Add("+14155550101", "spring").ok());
  // Until a rebuild the index is not complete, whatever it holds.
  EXPECT_FALSE(*index_->Complete());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_TRUE(*index_->Complete());

  // Redis loses it (restart without persistence, a stray DEL): not complete, so the dispatcher
  // cannot mistake "missing" for "not listed".
  ASSERT_TRUE(redis_->Command({"DEL", key_}).ok());
  EXPECT_FALSE(*index_->Complete());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_TRUE(*index_->Complete());
  EXPECT_TRUE(InIndex("+14155550100"));
  EXPECT_TRUE(InIndex("+14155550101", "spring"));
  EXPECT_FALSE(InIndex("+14155550101"));

  // An entry only in Redis (its Postgres write rolled back after the index write) goes away.
  ASSERT_TRUE(index_->Add("+14155550199", "").ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_FALSE(InIndex("+14155550199"));
  // The index key carries no TTL from the scratch set it was built in.
  EXPECT_EQ(redis_->Command({"TTL", key_})->integer, -1);

  // An empty list is a complete index, not a missing one.
  ASSERT_TRUE(Remove("+14155550100").ok());
  ASSERT_TRUE(Remove("+14155550101", "spring").ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_TRUE(*index_->Complete());
  EXPECT_EQ(redis_->Command({"SCARD", key_})->integer, 1);
}

TEST_F(DncIndexTest, TheLoopBuildsTheIndexAtStart) {
  ASSERT_TRUE(Add("+14155550100").ok());
  DncReconciler loop(store_, index_.get(), {.period = absl::Hours(1)});
  loop.Start();
  for (int i = 0; i < 500 && !*index_->Complete(); ++i) absl::SleepFor(absl::Milliseconds(10));
  loop.Stop();
  EXPECT_TRUE(*index_->Complete());
  EXPECT_TRUE(InIndex("+14155550100"));
}

TEST_F(DncIndexTest, TheLoopRebuildsAtOnceAfterRedisRestarts) {
  // A private Redis (restarting the shared one would disturb other tests), without persistence:
  // a restart loses the index, as a crash of a Redis without AOF would.
  auto server = redis::testing::RedisServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto pool = redis::RedisPool::Create({.url = (*server)->url()});
  ASSERT_TRUE(pool.ok());
  calls::DncIndex index(pool->get(), "dnc");
  ASSERT_TRUE(Add("+14155550100").ok());
  // The period is an hour: only the restart can trigger the second rebuild.
  DncReconciler loop(store_, &index, {.period = absl::Hours(1), .watch = absl::Milliseconds(20)});
  loop.Start();
  auto wait_complete = [&] {
    for (int i = 0; i < 500; ++i) {
      absl::StatusOr<bool> complete = index.Complete();
      if (complete.ok() && *complete) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  };
  ASSERT_TRUE(wait_complete());
  (*server)->Kill();
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_TRUE(wait_complete());
  EXPECT_TRUE(*index.Contains("+14155550100", ""));
  loop.Stop();
}

TEST_F(DncIndexTest, RebuildsRacingWritesLoseNoEntry) {
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  std::atomic<bool> stop{false};
  std::thread rebuilds([&] {
    while (!stop) {
      absl::Status s = reconciler_->Reconcile();
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) return;
    }
  });
  constexpr int kNumbers = 150;
  for (int i = 0; i < kNumbers; ++i) {
    EXPECT_TRUE(Add(absl::StrCat("+1415556", 1000 + i)).ok());
    if (i % 3 == 0) {
      EXPECT_TRUE(Remove(absl::StrCat("+1415556", 1000 + i)).ok());
    }
  }
  stop = true;
  rebuilds.join();
  // Every entry that AddDnc reported is in the index, every removed one is gone: no rebuild
  // overwrote a write with a stale snapshot.
  for (int i = 0; i < kNumbers; ++i) {
    EXPECT_EQ(InIndex(absl::StrCat("+1415556", 1000 + i)), i % 3 != 0) << i;
  }
  EXPECT_TRUE(*index_->Complete());
}

TEST_F(DncIndexTest, AFailedIndexWriteLeavesPostgresUnchanged) {
  // A pool to a port nothing listens on: every Redis write fails.
  auto dead = redis::RedisPool::Create(
      {.url = "redis://127.0.0.1:1", .connect_timeout = absl::Milliseconds(200)});
  ASSERT_TRUE(dead.ok());
  calls::DncIndex dead_index(dead->get(), key_);
  ConfigHandler handler(store_, nullptr, grpcx::TokenAuth::Disabled(), &dead_index);
  parley::v1::AddDncRequest r;
  r.set_number("+14155550100");
  grpc::ServerContext context;
  parley::v1::DncEntry out;
  EXPECT_EQ(handler.AddDnc(&context, &r, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(InPostgres("+14155550100"));

  // And a failed removal leaves the entry in both.
  ASSERT_TRUE(Add("+14155550100").ok());
  parley::v1::RemoveDncRequest rm;
  rm.set_number("+14155550100");
  google::protobuf::Empty empty;
  grpc::ServerContext context2;
  EXPECT_EQ(handler.RemoveDnc(&context2, &rm, &empty).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(InPostgres("+14155550100"));
  EXPECT_TRUE(InIndex("+14155550100"));
}

}  // namespace
}  // namespace parley::config
