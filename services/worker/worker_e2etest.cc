// The parley-worker binary as a process, against config-api, state and the scripted callee
// served by this test: kill -9 of a worker with live and queued calls (nothing lost, nothing
// dialed twice, every slot freed), and a graceful drain on SIGTERM and on WorkerAdmin.Drain.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"
#include "common/testing/subprocess.h"
#include "parley/v1/worker.grpc.pb.h"
#include "services/worker/testing/worker_env.h"

namespace parley::worker {
namespace {

using parley::testing::BinaryPath;
using parley::testing::FreePort;
using parley::testing::Subprocess;
using testing::CallsEnv;
using testing::NewNumber;
using testing::ServicesEnv;

class WorkerProcessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    services_ = new ServicesEnv();
    services_->MakeAgent("runner");
    services_->MakeCampaign("crowd", R"({"agent": "runner", "max_concurrent_calls": 10,
                                        "retry_policy": {"max_attempts": 1}})");
  }
  static void TearDownTestSuite() { delete services_; }

  struct Process {
    std::unique_ptr<Subprocess> process;
    std::string id;
    std::string admin;
    std::string log;
  };

  // Starts parley-worker and waits until it registered itself.
  Process StartWorker(CallsEnv& calls, const std::string& id, int max_calls,
                      const std::vector<std::string>& extra = {}) {
    Process p;
    p.id = id;
    p.admin = absl::StrCat("127.0.0.1:", FreePort());
    p.log = absl::StrCat(::testing::TempDir(), "/", id, ".log");
    std::vector<std::string> argv = {BinaryPath("services/worker/parley-worker"),
                                     "--listen=" + p.admin,
                                     "--metrics_listen=off",
                                     "--worker_id=" + id,
                                     absl::StrCat("--max-calls=", max_calls),
                                     "--lease=2s",
                                     "--pipeline=test-prompt",
                                     "--redis_prefix=" + calls.prefix()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    p.process = std::make_unique<Subprocess>(
        argv,
        std::map<std::string, std::string>{{"PARLEY_CONFIG_ADDR", services_->config_address()},
                                           {"PARLEY_STATE_ADDR", services_->state_address()},
                                           {"PARLEY_API_TOKENS", ""}},
        p.log);
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (absl::Now() < deadline) {
      auto entry = calls.redis()->Command({"HGET", calls.prefix() + "worker:" + id, "worker_id"});
      if (entry.ok() && entry->str == id) return p;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "worker " << id << " did not register; log:\n" << Log(p);
    return p;
  }

  static std::string Log(const Process& p) {
    std::ifstream file(p.log);
    std::stringstream s;
    s << file.rdbuf();
    std::string text = s.str();
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }

  static ServicesEnv* services_;
};

ServicesEnv* WorkerProcessTest::services_ = nullptr;

TEST_F(WorkerProcessTest, KillNineLosesNothingAndDialsNoNumberTwice) {
  CallsEnv calls(services_->redis());
  Process a = StartWorker(calls, "wa", /*max_calls=*/3);
  std::vector<std::string> live;
  std::vector<std::string> live_numbers;
  for (int i = 0; i < 3; ++i) {
    live_numbers.push_back(NewNumber());
    live.push_back(calls.CreateCall({.agent = "runner",
                                     .campaign = "crowd",
                                     .to = live_numbers.back(),
                                     .context_json = R"({"test_prompt_ms": 60000})"}));
  }
  for (const std::string& id : live) calls.WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS);
  std::vector<std::string> queued;
  std::vector<std::string> queued_numbers;
  for (int i = 0; i < 20; ++i) {
    queued_numbers.push_back(NewNumber());
    queued.push_back(calls.CreateCall({.agent = "runner",
                                       .campaign = "crowd",
                                       .to = queued_numbers.back(),
                                       .context_json = R"({"test_prompt_ms": 400})"}));
  }
  absl::SleepFor(absl::Milliseconds(500));
  for (const std::string& id : queued) {
    EXPECT_EQ(calls.store().Get(id)->status, parley::v1::CALL_STATUS_QUEUED);  // A is full
  }

  a.process->Signal(SIGKILL);
  ASSERT_TRUE(a.process->WaitExit(absl::Seconds(5)).has_value());
  Process b = StartWorker(calls, "wb", /*max_calls=*/10);

  for (const std::string& id : queued) {
    calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(60));
    EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << id;
    EXPECT_EQ(done.ended_reason, "agent_hangup");
    EXPECT_EQ(done.attempt, 1);
  }
  for (const std::string& id : live) {
    calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
    EXPECT_EQ(done.status, parley::v1::CALL_STATUS_FAILED) << id;
    EXPECT_EQ(done.ended_reason, "worker_lost");
    EXPECT_EQ(calls.StatusTrail(id).back(), "failed");
    // Closed in the call history too, by the worker that found it.
    auto record = services_->StateRecord(id, 1);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(record->status(), parley::v1::CALL_STATUS_FAILED);
    EXPECT_EQ(record->ended_reason(), "worker_lost");
  }
  for (const std::string& n : live_numbers) EXPECT_EQ(services_->endpoint().InvitesTo(n), 1) << n;
  for (const std::string& n : queued_numbers) {
    EXPECT_EQ(services_->endpoint().InvitesTo(n), 1) << n;
  }
  for (const std::string& id : queued) {
    EXPECT_EQ(services_->endpoint().InvitesFor(id), 1);
    EXPECT_EQ(calls.store().Get(id)->owner, "");
  }
  EXPECT_EQ(*calls.store().ActiveSlots("crowd", absl::ToUnixMillis(absl::Now())), 0);
  auto slots = calls.redis()->Command({"ZCARD", calls.prefix() + "campaign:crowd:active"});
  EXPECT_EQ(slots->integer, 0);
  EXPECT_EQ(calls.PendingJobs(), 0);
  EXPECT_EQ(calls.JobsInStream(), 0);
  // The dead worker's registry entry goes away by its TTL; the live one is there.
  auto ttl = calls.redis()->Command({"PTTL", calls.prefix() + "worker:wa"});
  EXPECT_LE(ttl->integer, 15000);
  auto b_entry = calls.redis()->Command({"HGETALL", calls.prefix() + "worker:wb"});
  auto fields = b_entry->AsMap();
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ((*fields)["capacity"], "10");
  EXPECT_EQ((*fields)["draining"], "0");

  b.process->Signal(SIGTERM);
  EXPECT_EQ(b.process->WaitExit(absl::Seconds(20)), 0) << Log(b);
}

TEST_F(WorkerProcessTest, SigtermFinishesLiveCallsThenExitsZero) {
  CallsEnv calls(services_->redis());
  Process c = StartWorker(calls, "wc", 4, {"--drain_deadline=20s"});
  std::string id =
      calls.CreateCall({.agent = "runner", .context_json = R"({"test_prompt_ms": 2500})"});
  calls.WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS);
  c.process->Signal(SIGTERM);
  // Health goes NOT_SERVING at once.
  auto channel = grpcx::MakeChannel({.address = c.admin});
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(*grpcx::CheckHealth(channel), grpcx::HealthStatus::kNotServing);
  // No new work is taken while draining.
  std::string late = calls.CreateCall({.agent = "runner"});
  auto draining = calls.redis()->Command({"HGET", calls.prefix() + "worker:wc", "draining"});
  EXPECT_EQ(draining->str, "1");
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(10));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "agent_hangup");  // finished on its own, not cut off
  EXPECT_EQ(c.process->WaitExit(absl::Seconds(10)), 0) << Log(c);
  EXPECT_EQ(calls.store().Get(late)->status, parley::v1::CALL_STATUS_QUEUED);
  auto gone = calls.redis()->Command({"EXISTS", calls.prefix() + "worker:wc"});
  EXPECT_EQ(gone->integer, 0);
}

TEST_F(WorkerProcessTest, DrainRpcHangsUpPolitelyAtTheDeadline) {
  CallsEnv calls(services_->redis());
  Process d = StartWorker(calls, "wd", 4);
  std::string id =
      calls.CreateCall({.agent = "runner", .context_json = R"({"test_prompt_ms": 60000})"});
  calls.WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS);
  auto stub = parley::v1::WorkerAdmin::NewStub(grpcx::MakeChannel({.address = d.admin}));
  parley::v1::WorkerInfo info;
  auto ctx = grpcx::MakeContext({.address = d.admin});
  ASSERT_TRUE(stub->Status(ctx.get(), {}, &info).ok());
  EXPECT_EQ(info.worker_id(), "wd");
  EXPECT_EQ(info.capacity(), 4);
  EXPECT_EQ(info.active_calls(), 1);
  ASSERT_EQ(info.call_ids_size(), 1);
  EXPECT_EQ(info.call_ids(0), id);
  EXPECT_FALSE(info.draining());

  parley::v1::DrainRequest drain;
  drain.mutable_deadline()->set_seconds(1);
  auto ctx2 = grpcx::MakeContext({.address = d.admin});
  const absl::Time asked = absl::Now();
  ASSERT_TRUE(stub->Drain(ctx2.get(), drain, &info).ok());
  EXPECT_TRUE(info.draining());
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(15));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "worker_draining");
  EXPECT_LT(absl::Now() - asked, absl::Seconds(5));
  EXPECT_EQ(d.process->WaitExit(absl::Seconds(10)), 0) << Log(d);
  auto callee = services_->endpoint().Find(id);
  ASSERT_TRUE(callee.has_value());
  EXPECT_EQ(callee->worker_hangup.detail(), "worker_draining");
}

}  // namespace
}  // namespace parley::worker
