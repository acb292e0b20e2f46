// `parleyctl test` as a subprocess against the whole stack: config-api, state, dispatcher and a
// worker running the offline voice pipeline (the real binaries), with parleyctl playing the callee
// on a free port that the sim-phone trunk is pointed at. Each full conversation takes tens of
// seconds, so the scenarios here are the short ones (an opt-out, a busy line).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/client.h"
#include "common/pg/testing/scratch_database.h"
#include "common/testing/subprocess.h"
#include "parley/v1/dispatcher.grpc.pb.h"

namespace parley::cli {
namespace {

using testing::BinaryPath;
using testing::Subprocess;

struct Result {
  int code;
  std::string output;  // stdout and stderr together
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ScenarioTest : public ::testing::Test {
 protected:
  struct Service {
    std::string address;
    std::unique_ptr<Subprocess> process;
  };

  static Service Start(const std::string& dir, const std::string& binary,
                       std::map<std::string, std::string> env) {
    Service s{.address = absl::StrCat("127.0.0.1:", testing::FreePort()), .process = nullptr};
    env["PARLEY_API_TOKENS"] = "";
    s.process = std::make_unique<Subprocess>(
        std::vector<std::string>{BinaryPath("services/" + dir + "/" + binary),
                                 "--listen=" + s.address, "--metrics_listen=off"},
        env, absl::StrCat(::testing::TempDir(), "/scenario-", binary, ".log"));
    return s;
  }

  static bool Serving(const Service& s) {
    auto channel = grpcx::MakeChannel({.address = s.address});
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!grpcx::ProbeServing(channel).ok() && absl::Now() < deadline)
      absl::SleepFor(absl::Milliseconds(100));
    return grpcx::ProbeServing(channel).ok();
  }

  static void SetUpTestSuite() {
    db_ = new pg::testing::ScratchDatabase();
    const std::string redis = testing::RequireEnv("PARLEY_REDIS_URL");
    config_ =
        new Service(Start("config-api", "parley-config-api", {{"PARLEY_PG_URL", db_->url()}}));
    state_ = new Service(Start("state", "parley-state",
                               {{"PARLEY_PG_URL", db_->url()}, {"PARLEY_REDIS_URL", redis}}));
    ASSERT_TRUE(Serving(*config_)) << "config-api did not become SERVING";
    ASSERT_TRUE(Serving(*state_)) << "state did not become SERVING";

    // The examples, with the sim-phone trunk dialing this test's phone instead of the default
    // port (which a developer's `parleyctl phone` may hold).
    phone_ = new std::string(absl::StrCat("127.0.0.1:", testing::FreePort()));
    std::string trunk = ::testing::TempDir() + "/scenario-trunk.yaml";
    std::ofstream(trunk) << "kind: trunk\nname: sim-phone\nspec:\n  kind: grpc\n  grpc:\n"
                         << "    address: \"" << *phone_ << "\"\n";
    ASSERT_EQ(Run({"apply", "-f", std::string(PARLEY_SOURCE_DIR) + "/deploy/examples"}).code, 0);
    Result applied = Run({"apply", "-f", trunk});
    ASSERT_EQ(applied.code, 0) << applied.output;

    dispatcher_ =
        new Service(Start("dispatcher", "parley-dispatcher",
                          {{"PARLEY_REDIS_URL", redis}, {"PARLEY_CONFIG_ADDR", config_->address}}));
    // An earlier, interrupted run of this test may have left calls queued in its Redis database;
    // a worker dialing them before parleyctl's phone listens would fail them and put its channel
    // to the phone's address in reconnect backoff, failing this run's first calls too. Cancel
    // them first.
    ASSERT_TRUE(Serving(*dispatcher_)) << "dispatcher did not become SERVING";
    CancelQueuedCalls();
    worker_ = new Service(Start("worker", "parley-worker",
                                {{"PARLEY_REDIS_URL", redis},
                                 {"PARLEY_PG_URL", db_->url()},
                                 {"PARLEY_CONFIG_ADDR", config_->address},
                                 {"PARLEY_STATE_ADDR", state_->address}}));
    ASSERT_TRUE(Serving(*dispatcher_)) << "dispatcher did not become SERVING";
    ASSERT_TRUE(Serving(*worker_)) << "worker did not become SERVING";
  }

  static void CancelQueuedCalls() {
    auto stub = parley::v1::DispatcherService::NewStub(
        grpcx::MakeChannel({.address = dispatcher_->address}));
    parley::v1::ListCallsRequest list;
    list.add_statuses(parley::v1::CALL_STATUS_QUEUED);
    list.add_statuses(parley::v1::CALL_STATUS_SCHEDULED);
    list.mutable_page()->set_page_size(1000);
    for (;;) {
      parley::v1::ListCallsResponse page;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status s = stub->ListCalls(&ctx, list, &page);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const parley::v1::Call& call : page.calls()) {
        parley::v1::CancelCallRequest cancel;
        cancel.set_call_id(call.call_id());
        parley::v1::Call canceled;
        grpc::ClientContext cctx;
        cctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        stub->CancelCall(&cctx, cancel, &canceled);
      }
      if (page.next_page_token().empty()) break;
      list.mutable_page()->set_page_token(page.next_page_token());
    }
  }

  static void TearDownTestSuite() {
    delete worker_;
    delete dispatcher_;
    delete state_;
    delete config_;
    delete db_;
    delete phone_;
  }

  static Result Run(std::vector<std::string> args) {
    std::string log =
        absl::StrCat(::testing::TempDir(), "/scenario-parleyctl-", getpid(), "-", runs_++, ".out");
    std::remove(log.c_str());
    std::vector<std::string> argv = {BinaryPath("cli/parleyctl/parleyctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess p(argv,
                 {{"PARLEY_CONFIG_ADDR", config_->address},
                  {"PARLEY_STATE_ADDR", state_ ? state_->address : ""},
                  {"PARLEY_DISPATCHER_ADDR", dispatcher_ ? dispatcher_->address : ""}},
                 log);
    int code = p.WaitExit(absl::Minutes(4)).value_or(-1);
    return {code, ReadAll(log)};
  }

  static std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  static Result Test(const std::string& file, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {
        "test",  file,         "--phone-listen",
        *phone_, "--personas", std::string(PARLEY_SOURCE_DIR) + "/deploy/examples/personas"};
    args.insert(args.end(), more.begin(), more.end());
    return Run(args);
  }

  static inline pg::testing::ScratchDatabase* db_ = nullptr;
  static inline Service* config_ = nullptr;
  static inline Service* state_ = nullptr;
  static inline Service* dispatcher_ = nullptr;
  static inline Service* worker_ = nullptr;
  static inline std::string* phone_ = nullptr;
  static inline int runs_ = 0;
};

TEST_F(ScenarioTest, PassingScenariosPrintPassAndExitZero) {
  // The shipped opt-out and busy scenarios, run together (--parallel 2), checking nodes, state,
  // transcript and the DNC list of a real call.
  Result r = Test(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples/tests/lead-qualifier.yaml",
                  {"--run", "lead-opts-out"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("PASS lead-opts-out ("), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 passed, 0 failed"), std::string::npos) << r.output;

  // A persona given as a path is read relative to the scenario file.
  WriteFile("decliner.yaml",
            "kind: persona\nname: decliner\nspec: {answer: decline, ring_ms: 200}\n");
  std::string two = WriteFile("two.yaml", R"(
kind: scenario
name: busy-is-busy
agent: lead-qualifier
persona: busy-line
expect: {outcome: busy, nodes: []}
---
kind: scenario
name: declined-by-file
agent: payment-reminder
persona: decliner.yaml
expect: {outcome: declined}
)");
  r = Test(two, {"--parallel", "2", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["passed"], 2) << r.output;
  EXPECT_EQ(j["failed"], 0) << r.output;
}

TEST_F(ScenarioTest, AFailedExpectationPrintsFailAndExitsNonZero) {
  std::string path = WriteFile("fails.yaml", R"(
kind: scenario
name: busy-cannot-complete
agent: lead-qualifier
persona: busy-line
expect:
  outcome: completed
  nodes_include: [greet]
  dnc: true
)");
  Result r = Test(path);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL busy-cannot-complete: outcome: want completed, got busy"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("nodes_include: want [greet] in this order, got []"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("dnc: the number is not on the DNC list"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 passed, 1 failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("parleyctl: 1 of 1 scenarios failed"), std::string::npos) << r.output;
}

TEST_F(ScenarioTest, BadScenarioFilesFailBeforeAnyCall) {
  std::string unknown = WriteFile("unknown-persona.yaml",
                                  "kind: scenario\nname: x\nagent: lead-qualifier\n"
                                  "persona: nobody\nexpect: {outcome: busy}\n");
  Result r = Test(unknown);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("persona: no persona \"nobody\""), std::string::npos) << r.output;
  std::string bad = WriteFile("bad-outcome.yaml",
                              "kind: scenario\nname: x\nagent: lead-qualifier\n"
                              "persona: busy-line\nexpect: {outcome: finished}\n");
  r = Test(bad);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("bad-outcome.yaml: scenario x: expect.outcome: unknown status"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace parley::cli
