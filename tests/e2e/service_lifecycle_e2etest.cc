// Every service binary: NOT_SERVING until its dependencies answer, SERVING once they do, and a
// clean exit (status 0) on SIGTERM. Runs the real binaries against the local Postgres and Redis.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/client.h"
#include "common/testing/subprocess.h"

namespace parley {
namespace {

using grpcx::HealthStatus;
using testing::BinaryPath;
using testing::FreePort;
using testing::RequireEnv;
using testing::Subprocess;

struct Service {
  std::string address;
  std::unique_ptr<Subprocess> process;
  std::shared_ptr<grpc::Channel> channel;
};

// Starts services/<dir>/<binary> listening on `address` (a free port when empty).
Service Start(const std::string& binary, std::map<std::string, std::string> env,
              std::string address = "") {
  Service s;
  s.address = address.empty() ? absl::StrCat("127.0.0.1:", FreePort()) : address;
  std::string log =
      absl::StrCat(::testing::TempDir(), "/", binary, ".", s.address.substr(10), ".log");
  s.process = std::make_unique<Subprocess>(
      std::vector<std::string>{BinaryPath(absl::StrCat("services/", binary.substr(7), "/", binary)),
                               "--listen=" + s.address, "--metrics_listen=off"},
      env, log);
  s.channel = grpcx::MakeChannel({.address = s.address});
  return s;
}

// Polls health until it equals `want` (an unreachable server counts as kUnknown).
bool WaitForHealth(const Service& s, HealthStatus want,
                   absl::Duration timeout = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<HealthStatus> h = grpcx::CheckHealth(s.channel, "", absl::Milliseconds(500));
    if (h.ok() && *h == want) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// Never reports anything but `want` during `period` (checked repeatedly; a check that times out
// on a loaded machine says nothing either way).
bool StaysHealth(const Service& s, HealthStatus want, absl::Duration period) {
  absl::Time end = absl::Now() + period;
  while (absl::Now() < end) {
    absl::StatusOr<HealthStatus> h = grpcx::CheckHealth(s.channel, "", absl::Milliseconds(500));
    if (h.ok() && *h != want) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

int StopWithSigterm(Service& s) {
  // Close our connection first: an idle client channel reads the server's GOAWAY only when gRPC's
  // backup poller runs (every 5 s), and the server's drain waits for it.
  s.channel.reset();
  s.process->Signal(SIGTERM);
  return s.process->WaitExit(absl::Seconds(20)).value_or(-1);  // drain deadline is 10 s
}

TEST(ServiceLifecycleTest, EachServiceServesOnceItsDependenciesAnswerAndStopsOnSigterm) {
  std::string pg = RequireEnv("PARLEY_PG_URL");
  std::string redis = RequireEnv("PARLEY_REDIS_URL");
  std::string config_addr = absl::StrCat("127.0.0.1:", FreePort());
  std::string state_addr = absl::StrCat("127.0.0.1:", FreePort());

  // The worker and dispatcher start first: config-api and state are not there yet.
  Service worker = Start("parley-worker", {{"PARLEY_REDIS_URL", redis},
                                           {"PARLEY_CONFIG_ADDR", config_addr},
                                           {"PARLEY_STATE_ADDR", state_addr}});
  Service dispatcher = Start("parley-dispatcher",
                             {{"PARLEY_REDIS_URL", redis}, {"PARLEY_CONFIG_ADDR", config_addr}});
  ASSERT_TRUE(WaitForHealth(worker, HealthStatus::kNotServing));
  ASSERT_TRUE(WaitForHealth(dispatcher, HealthStatus::kNotServing));
  EXPECT_TRUE(StaysHealth(dispatcher, HealthStatus::kNotServing, absl::Seconds(2)));

  // config-api comes up: it and the dispatcher serve; the worker still waits for state.
  Service config_api = Start("parley-config-api", {{"PARLEY_PG_URL", pg}}, config_addr);
  ASSERT_TRUE(WaitForHealth(config_api, HealthStatus::kServing));
  ASSERT_TRUE(WaitForHealth(dispatcher, HealthStatus::kServing));
  EXPECT_TRUE(StaysHealth(worker, HealthStatus::kNotServing, absl::Seconds(2)));

  Service state =
      Start("parley-state", {{"PARLEY_PG_URL", pg}, {"PARLEY_REDIS_URL", redis}}, state_addr);
  ASSERT_TRUE(WaitForHealth(state, HealthStatus::kServing));
  ASSERT_TRUE(WaitForHealth(worker, HealthStatus::kServing));

  // A dependency going away flips its dependants back to NOT_SERVING.
  EXPECT_EQ(StopWithSigterm(config_api), 0);
  EXPECT_TRUE(WaitForHealth(dispatcher, HealthStatus::kNotServing));
  EXPECT_TRUE(WaitForHealth(worker, HealthStatus::kNotServing));

  EXPECT_EQ(StopWithSigterm(worker), 0);
  EXPECT_EQ(StopWithSigterm(dispatcher), 0);
  EXPECT_EQ(StopWithSigterm(state), 0);
}

TEST(ServiceLifecycleTest, ConfigApiStaysNotServingWhilePostgresIsUnreachable) {
  int closed_port = FreePort();
  Service config = Start(
      "parley-config-api",
      {{"PARLEY_PG_URL", absl::StrCat("postgresql://parley@127.0.0.1:", closed_port, "/parley")}});
  ASSERT_TRUE(WaitForHealth(config, HealthStatus::kNotServing));
  EXPECT_TRUE(StaysHealth(config, HealthStatus::kNotServing, absl::Seconds(3)));
  EXPECT_EQ(StopWithSigterm(config), 0);
}

TEST(ServiceLifecycleTest, MissingRequiredEnvironmentExitsWithStatus2) {
  Subprocess state({BinaryPath("services/state/parley-state"), "--metrics_listen=off"},
                   {{"PARLEY_PG_URL", ""}, {"PARLEY_REDIS_URL", ""}},
                   absl::StrCat(::testing::TempDir(), "/state-noenv.log"));
  EXPECT_EQ(state.WaitExit(absl::Seconds(10)), 2);
}

}  // namespace
}  // namespace parley
