#include "tests/chaos/chaos_stack.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/grpc/client.h"
#include "common/pg/testing/scratch_database.h"
#include "parley/v1/dispatcher.grpc.pb.h"

namespace parley::chaos {
namespace {

namespace fs = std::filesystem;
using parley::testing::BinaryPath;
using parley::testing::FreePort;
using parley::testing::RequireEnv;
using parley::testing::Subprocess;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "chaos stack: " << what << std::endl;
  std::abort();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::atomic<int> next_number{0};

constexpr char kFixture[] = R"(kind: trunk
name: sim-phone
spec:
  description: The chaos test's callee.
  kind: grpc
  grpc:
    address: "$PHONE"
---
kind: campaign
name: chaos
spec:
  description: Chaos and soak calls; one attempt each, so any second Invite is a duplicate dial.
  agent: lead-qualifier
  region: US
  max_concurrent_calls: $SLOTS
  retry_policy:
    max_attempts: 1
)";

}  // namespace

namespace {

// Runs `scripts/infra <args>` and returns its stdout; aborts when it fails.
std::string RunInfra(const std::string& args, const std::string& log) {
  const std::string cmd =
      absl::StrCat(RequireEnv("PARLEY_SOURCE_DIR"), "/scripts/infra ", args, " 2>>", log);
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) Die(absl::StrCat(cmd, ": popen failed"));
  char buffer[512];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  if (pclose(pipe) != 0) Die(absl::StrCat(cmd, " failed:\n", ReadFile(log)));
  return out;
}

}  // namespace

PrivateInfra::PrivateInfra() {
  dir_ = (fs::path(::testing::TempDir()) / absl::StrCat("chaos-infra-", getpid())).string();
  setenv("PARLEY_INFRA_DIR", dir_.c_str(), 1);
  // `up` prints `export NAME=value` lines.
  for (absl::string_view line : absl::StrSplit(RunInfra("up", dir_ + ".log"), '\n')) {
    if (!absl::ConsumePrefix(&line, "export ")) continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    setenv(kv.first.c_str(), kv.second.c_str(), 1);
  }
  if (!absl::StartsWith(RequireEnv("PARLEY_REDIS_URL"), "redis://")) Die("infra up: no Redis URL");
}

PrivateInfra::~PrivateInfra() {
  RunInfra("down", dir_ + ".log");
  unsetenv("PARLEY_INFRA_DIR");
  fs::remove(dir_ + ".lock");
  if (!::testing::Test::HasFailure()) fs::remove(dir_ + ".log");
}

ChaosStack::ChaosStack(StackOptions options) : options_(std::move(options)) {
  const std::string redis_url = RequireEnv("PARLEY_REDIS_URL");
  const std::string source = RequireEnv("PARLEY_SOURCE_DIR");
  dir_ = (fs::path(::testing::TempDir()) /
          absl::StrCat("chaos-", getpid(), "-", absl::ToUnixMillis(absl::Now())))
             .string();
  fs::create_directories(dir_);
  prefix_ = absl::StrCat("chaos", getpid(), ":");
  db_ = std::make_unique<pg::testing::ScratchDatabase>();
  auto pg = pg::PgPool::Create({.url = db_->url(), .size = 4});
  if (!pg.ok()) Die(absl::StrCat("postgres: ", pg.status().ToString()));
  pg_ = *std::move(pg);
  auto redis = redis::RedisPool::Create({.url = redis_url, .max_connections = 8});
  if (!redis.ok()) Die(absl::StrCat("redis: ", redis.status().ToString()));
  redis_ = *std::move(redis);
  store_ = std::make_unique<calls::CallStore>(redis_.get(), calls::StoreOptions{.prefix = prefix_});

  const auto address = [] { return absl::StrCat("127.0.0.1:", FreePort()); };
  std::map<std::string, std::string> common = {{"PARLEY_PG_URL", db_->url()},
                                               {"PARLEY_REDIS_URL", redis_url},
                                               {"PARLEY_REDIS_PREFIX", prefix_},
                                               {"PARLEY_API_TOKENS", ""},
                                               {"PARLEY_LOG_LEVEL", "info"}};
  const std::string config_addr = address();
  const std::string state_addr = address();
  common["PARLEY_CONFIG_ADDR"] = config_addr;
  common["PARLEY_STATE_ADDR"] = state_addr;
  const auto service = [&](const std::string& dir, const std::string& binary,
                           const std::string& addr) {
    Service s;
    s.binary = BinaryPath(absl::StrCat("services/", dir, "/", binary));
    s.address = addr;
    s.env = common;
    s.args = {"--metrics_listen=off"};
    return s;
  };
  services_["config-api"] = service("config-api", "parley-config-api", config_addr);
  services_["config-api"].env["PARLEY_MASTER_KEY"] = std::string(64, 'a');
  services_["state"] = service("state", "parley-state", state_addr);
  services_["dispatcher"] = service("dispatcher", "parley-dispatcher", address());
  for (int i = 0; i < options_.workers; ++i) {
    Service w = service("worker", "parley-worker", address());
    w.args.push_back(absl::StrCat("--max-calls=", options_.max_calls));
    w.args.push_back(absl::StrCat("--lease=", absl::FormatDuration(options_.lease)));
    w.args.push_back("--pipeline=" + options_.pipeline);
    w.args.push_back(absl::StrCat("--config_ttl=", absl::FormatDuration(options_.config_ttl)));
    w.args.push_back("--drain_deadline=20s");
    services_[absl::StrCat("worker-", i)] = std::move(w);
  }
  Service phone;
  phone.binary = BinaryPath("cli/parleyctl/parleyctl");
  phone.address = address();
  const std::string personas = source + "/tests/chaos/personas";
  phone.args = {"-o",         "json",  "phone", "--persona", personas + "/listener.yaml",
                "--personas", personas};
  services_["phone"] = std::move(phone);

  for (const char* name : {"phone", "config-api", "state"}) Start(name);
  ApplyFixture();
  Start("dispatcher");
  for (const std::string& w : Workers()) Start(w);
}

ChaosStack::~ChaosStack() {
  for (auto& [name, s] : services_) s.process.reset();  // SIGKILL and reap
  // Leave no keys behind in the shared Redis (best effort: a failed test may have left it down).
  if (auto keys = redis_->Command({"KEYS", prefix_ + "*"}); keys.ok()) {
    for (const redis::RedisReply& k : keys->elements) (void)redis_->Command({"DEL", k.str});
  }
  pg_.reset();
  db_.reset();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
}

std::vector<std::string> ChaosStack::Services() const {
  std::vector<std::string> names;
  for (const auto& [name, s] : services_) names.push_back(name);
  return names;
}

std::vector<std::string> ChaosStack::Workers() const {
  std::vector<std::string> names;
  for (const auto& [name, s] : services_) {
    if (absl::StartsWith(name, "worker-")) names.push_back(name);
  }
  return names;
}

ChaosStack::Service& ChaosStack::Get(const std::string& name) {
  auto it = services_.find(name);
  if (it == services_.end()) Die("no service " + name);
  return it->second;
}

void ChaosStack::Launch(Service& s) {
  // setpriv (util-linux) execs the service with a parent-death signal: when CTest kills a test
  // that timed out, its services die with it instead of running on against the shared Redis.
  std::vector<std::string> argv;
  if (access("/usr/bin/setpriv", X_OK) == 0) argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL"};
  argv.push_back(s.binary);
  argv.insert(argv.end(), s.args.begin(), s.args.end());
  if (absl::StrContains(s.binary, "parleyctl")) {
    argv.push_back("--listen");
    argv.push_back(s.address);
  } else {
    argv.push_back("--listen=" + s.address);
  }
  if (!s.worker_id.empty()) argv.push_back("--worker_id=" + s.worker_id);
  s.process = std::make_unique<Subprocess>(argv, s.env, s.log);
}

void ChaosStack::Start(const std::string& name) {
  Service& s = Get(name);
  if (s.process != nullptr && s.process->running()) return;
  ++s.generation;
  // Every run of a service appends to one log per service name.
  s.log = absl::StrCat(dir_, "/", name, ".log");
  if (absl::StartsWith(name, "worker-")) s.worker_id = absl::StrCat(name, "-g", s.generation);
  { std::ofstream(s.log, std::ios::app) << "\n===== start " << s.generation << " =====\n"; }
  Launch(s);
  if (absl::StartsWith(name, "worker-")) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      auto got = redis_->Command({"HGET", prefix_ + "worker:" + s.worker_id, "worker_id"});
      if (got.ok() && got->str == s.worker_id) return;
      if (!s.process->running()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << name << " did not register; log:\n" << LogTail(name);
    return;
  }
  if (!WaitServing(name, absl::Seconds(60))) {
    ADD_FAILURE() << name << " not serving; log:\n" << LogTail(name);
  }
}

bool ChaosStack::WaitServing(const std::string& name, absl::Duration timeout) {
  Service& s = Get(name);
  // A fresh channel: one that failed to connect backs off for seconds.
  auto channel = grpcx::MakeChannel({.address = s.address});
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto health = grpcx::CheckHealth(channel, "", absl::Seconds(1));
    if (health.ok() && *health == grpcx::HealthStatus::kServing) return true;
    if (s.process == nullptr || !s.process->running()) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

void ChaosStack::Kill(const std::string& name) {
  Service& s = Get(name);
  if (s.process == nullptr) return;
  s.process->Signal(SIGKILL);
  (void)s.process->WaitExit(absl::Seconds(10));
  s.process.reset();
}

int ChaosStack::Stop(const std::string& name, absl::Duration timeout) {
  Service& s = Get(name);
  if (s.process == nullptr) return 0;
  s.process->Signal(SIGTERM);
  int code = s.process->WaitExit(timeout).value_or(-1);
  s.process.reset();
  return code;
}

bool ChaosStack::Running(const std::string& name) {
  Service& s = Get(name);
  return s.process != nullptr && s.process->running();
}

void ChaosStack::Signal(const std::string& name, int signal) {
  Service& s = Get(name);
  if (s.process != nullptr) s.process->Signal(signal);
}

std::map<std::string, parley::v1::CallStatus> ChaosStack::HeldJobs(const std::string& worker) {
  std::map<std::string, parley::v1::CallStatus> held;
  auto pending = redis_->Command(
      {"XPENDING", prefix_ + "jobs", "workers", "-", "+", "1000", Get(worker).worker_id});
  if (!pending.ok()) return held;
  for (const redis::RedisReply& entry : pending->elements) {
    if (entry.elements.empty()) continue;
    const std::string& id = entry.elements[0].str;
    auto range = redis_->Command({"XRANGE", prefix_ + "jobs", id, id});
    if (!range.ok() || range->elements.empty() || range->elements[0].elements.size() < 2) continue;
    const std::vector<redis::RedisReply>& fields = range->elements[0].elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str != "call_id") continue;
      absl::StatusOr<calls::CallRecord> call = store_->Get(fields[i + 1].str);
      if (call.ok()) held[call->call_id] = call->status;
    }
  }
  return held;
}

pid_t ChaosStack::Pid(const std::string& name) {
  Service& s = Get(name);
  return s.process == nullptr ? -1 : s.process->pid();
}

void ChaosStack::Infra(const std::string& command) {
  const std::string log = absl::StrCat(dir_, "/infra.log");
  const std::string cmd = absl::StrCat(RequireEnv("PARLEY_SOURCE_DIR"), "/scripts/infra ", command,
                                       " >>", log, " 2>&1");
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << cmd << "\n" << ReadFile(log);
}

void ChaosStack::ApplyFixture() {
  std::string yaml = kFixture;
  yaml.replace(yaml.find("$PHONE"), 6, Get("phone").address);
  yaml.replace(yaml.find("$SLOTS"), 6, absl::StrCat(options_.campaign_slots));
  const std::string fixture = dir_ + "/fixture.yaml";
  std::ofstream(fixture) << yaml;
  const std::string log = dir_ + "/apply.log";
  const std::string parleyctl = BinaryPath("cli/parleyctl/parleyctl");
  for (const std::string& what :
       {absl::StrCat(RequireEnv("PARLEY_SOURCE_DIR"), "/deploy/examples"), fixture}) {
    const std::string cmd = absl::StrCat(parleyctl, " --config-addr ", Get("config-api").address,
                                         " apply -f ", what, " >>", log, " 2>&1");
    if (std::system(cmd.c_str()) != 0) Die(absl::StrCat(cmd, " failed:\n", ReadFile(log)));
  }
}

absl::StatusOr<std::string> ChaosStack::CreateCall(const CallSpec& spec, absl::Duration deadline) {
  static thread_local std::shared_ptr<grpc::Channel> channel;
  static thread_local std::string channel_address;
  const std::string& address = Get("dispatcher").address;
  if (channel == nullptr || channel_address != address) {
    channel = grpcx::MakeChannel({.address = address});
    channel_address = address;
  }
  auto stub = parley::v1::DispatcherService::NewStub(channel);
  parley::v1::CreateCallRequest request;
  request.set_to(absl::StrCat("+1415", 5550000 + next_number.fetch_add(1) % 10000));
  request.set_agent("lead-qualifier");
  if (spec.campaign) request.set_campaign("chaos");
  auto& context = *request.mutable_context()->mutable_fields();
  context["persona"].set_string_value(spec.persona);
  context["test_prompt_ms"].set_number_value(spec.tone_ms);
  if (!spec.overrides_json.empty()) {
    nlohmann::json overrides = nlohmann::json::parse(spec.overrides_json);
    for (auto& [section, fields] : overrides.items()) {
      auto& s = *(*request.mutable_overrides()->mutable_fields())[section]
                     .mutable_struct_value()
                     ->mutable_fields();
      for (auto& [k, v] : fields.items()) s[k].set_number_value(v.get<double>());
    }
  }
  auto ctx = grpcx::MakeContext({.address = address}, deadline);
  parley::v1::Call call;
  grpc::Status status = stub->CreateCall(ctx.get(), request, &call);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return call.call_id();
}

std::map<std::string, int> ChaosStack::DialsPerCall() {
  std::map<std::string, int> dials;
  std::istringstream log(ReadFile(Get("phone").log));
  for (std::string line; std::getline(log, line);) {
    if (line.empty() || line[0] != '{') continue;
    nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (event.is_object() && event.value("event", "") == "ringing") {
      ++dials[event.value("call_id", "")];
    }
  }
  return dials;
}

EndState ChaosStack::WaitEnd(const std::vector<std::string>& ids, absl::Duration timeout) {
  EndState end;
  const absl::Time deadline = absl::Now() + timeout;
  for (const std::string& id : ids) {
    for (;;) {
      absl::StatusOr<calls::CallRecord> record = store_->Get(id);
      if (record.ok() && calls::IsTerminal(record->status)) {
        end.calls[id].redis = *record;
        break;
      }
      if (absl::Now() >= deadline) {
        end.not_terminal.push_back(id);
        if (record.ok()) end.calls[id].redis = *record;
        break;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  // The history row is written just before the terminal event; give the last one a moment.
  absl::SleepFor(absl::Seconds(1));
  std::map<std::string, int> dials = DialsPerCall();
  for (auto& [id, call] : end.calls) {
    call.dials = dials[id];
    absl::StatusOr<std::vector<calls::CallEvent>> events = store_->ReadEvents(id, "0", 1000, 0);
    for (const calls::CallEvent& e : events.ok() ? *events : std::vector<calls::CallEvent>{}) {
      if (e.type == "status" && e.status == parley::v1::CALL_STATUS_ASSIGNED) ++call.assignments;
      if (e.type == "turn") ++call.turn_events;
    }
  }
  absl::Status read = pg_->Transact([&](pqxx::work& tx) {
    for (const auto& row :
         tx.exec("SELECT call_id, status, ended_reason FROM conversation.calls")) {
      auto it = end.calls.find(row[0].as<std::string>());
      if (it != end.calls.end()) {
        it->second.history.emplace_back(row[1].as<std::string>(), row[2].as<std::string>());
      }
    }
    for (const auto& row : tx.exec("SELECT call_id, count(*) FROM conversation.turns GROUP BY 1")) {
      auto it = end.calls.find(row[0].as<std::string>());
      if (it != end.calls.end()) it->second.turns = row[1].as<int>();
    }
    end.active_state_rows =
        tx.exec1("SELECT count(*) FROM conversation.conversation_state WHERE active")[0].as<int>();
  });
  EXPECT_TRUE(read.ok()) << read;
  auto slots = redis_->Command({"ZCARD", prefix_ + "campaign:chaos:active"});
  if (slots.ok()) end.active_slots = static_cast<int>(slots->integer);
  auto pending = redis_->Command({"XPENDING", prefix_ + "jobs", "workers"});
  if (pending.ok() && pending->is_array() && !pending->elements.empty()) {
    end.pending_jobs = static_cast<int>(pending->elements[0].integer);
  }
  return end;
}

ProcessSample ChaosStack::Sample(const std::string& name) {
  ProcessSample sample;
  const pid_t pid = Pid(name);
  if (pid <= 0) return sample;
  std::istringstream status(ReadFile(absl::StrCat("/proc/", pid, "/status")));
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "VmRSS:")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2) (void)absl::SimpleAtoi(parts[1], &sample.rss_kb);
    }
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++sample.fds;
  }
  return sample;
}

int ChaosStack::NonCallRedisKeys() {
  auto keys = redis_->Command({"KEYS", prefix_ + "*"});
  if (!keys.ok()) return -1;
  int n = 0;
  for (const redis::RedisReply& k : keys->elements) {
    const std::string key = k.str.substr(prefix_.size());
    if (absl::StartsWith(key, "call:") || absl::StartsWith(key, "conv:") ||
        absl::StartsWith(key, "idem:")) {
      continue;
    }
    ++n;
  }
  return n;
}

int ChaosStack::PgConnections() {
  absl::StatusOr<int> n = pg_->Transact([&](pqxx::work& tx) {
    return tx
        .exec_params1("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", db_->name())[0]
        .as<int>();
  });
  return n.ok() ? *n : -1;
}

std::string ChaosStack::LogTail(const std::string& name, size_t bytes) {
  std::string text = ReadFile(Get(name).log);
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace parley::chaos
