// CreateCall throughput and latency over gRPC on loopback, side by side with an empty unary
// handler on the same server (grpc.health.v1 Health/Check: a mutex and a map lookup) as the
// baseline, plus latency at a fixed offered rate (open loop).
//
// Self-contained: a config-api in process over a scratch Postgres database with one agent, and a
// dispatcher in process over the shared Redis under a private key prefix (deleted at the end).
// Each CreateCall is a real admission: checks, agent lookup (cached), one Lua script in Redis that
// checks the DNC index config-api keeps there and writes the call. Every call has its own number.
//
//   eval "$(scripts/infra up)"
//   build/bench/dispatch_bench [--threads=16] [--seconds=5] [--rate=1000]
//   build/bench/dispatch_bench --only=1 --seconds=10   # CreateCall alone (2: baseline), for perf
//                                  # (3: CreateCall refused by its first check: no Redis)
//
// Prints one JSON line:
//   {"bench":"dispatch","calls_per_s":…,"p50_ms":…,"p99_ms":…,"baseline_calls_per_s":…,
//    "baseline_p50_ms":…,"baseline_p99_ms":…,"rate":1000,"rate_p50_ms":…,"rate_p99_ms":…,
//    "threads":16,"seconds":5,"cpu_us":…,"redis_cpu_us":…,"baseline_cpu_us":…,"cpu_ratio":…}
// cpu_us / baseline_cpu_us: CPU time of this process (client and server) per CreateCall / per
// empty call in the saturated phases (getrusage); redis_cpu_us: Redis's per CreateCall (INFO cpu).
// cpu_ratio = baseline_cpu_us / (cpu_us + redis_cpu_us): the throughput ratio the two would have
// on cores they had to themselves — steadier than calls/s on a machine shared with other work.
// Open-loop latency is measured from each request's scheduled send time, so a stall shows up in
// the numbers instead of silently lowering the rate.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/client.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/dispatcher/testing/dispatcher_env.h"

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;

int IntFlag(int argc, char** argv, const char* name, int fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0)
      return std::atoi(argv[i] + prefix.size());
  }
  return fallback;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

struct Result {
  double per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int errors = 0;
  int64_t calls = 0;
};

// CPU seconds used so far by this process (client and server) and by Redis (INFO cpu: its main
// thread and its background threads, not forked children).
struct CpuSample {
  double self_s = 0;
  double redis_s = 0;
};

double RedisCpuSeconds(redis::RedisPool& redis) {
  absl::StatusOr<redis::RedisReply> info = redis.Command({"INFO", "cpu"});
  if (!info.ok()) return 0;
  double total = 0;
  for (const char* field : {"used_cpu_sys:", "used_cpu_user:"}) {
    size_t at = info->str.find(field);
    if (at != std::string::npos) total += std::atof(info->str.c_str() + at + std::strlen(field));
  }
  return total;
}

CpuSample SampleCpu(redis::RedisPool& redis) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return {seconds(ru.ru_utime) + seconds(ru.ru_stime), RedisCpuSeconds(redis)};
}

// CPU microseconds per call between two samples: {this process, Redis}.
std::pair<double, double> CpuPerCall(const CpuSample& a, const CpuSample& b, int64_t calls) {
  if (calls <= 0) return {0, 0};
  return {(b.self_s - a.self_s) * 1e6 / calls, (b.redis_s - a.redis_s) * 1e6 / calls};
}

// Channels on separate connections, so client threads do not all queue on one HTTP/2 socket.
std::vector<std::shared_ptr<grpc::Channel>> Channels(const std::string& address, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct args → a connection of its own
    out.push_back(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

// Closed loop: `threads` callers, each calling `call(thread, seq)` back to back for `seconds`.
Result Saturate(int threads, int seconds, const std::function<bool(int, int)>& call) {
  std::vector<std::vector<double>> ms(threads);
  std::atomic<int> errors{0};
  std::atomic<bool> stop{false};
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int seq = 0; !stop; ++seq) {
        auto t0 = Clock::now();
        bool ok = call(t, seq);
        ms[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!ok) ++errors;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : ms) all.insert(all.end(), v.begin(), v.end());
  return {all.size() / elapsed, Percentile(all, 0.5), Percentile(all, 0.99), errors.load(),
          static_cast<int64_t>(all.size())};
}

// Open loop: request i is due at start + i/rate; `senders` threads share them round-robin.
Result OpenLoop(int rate, int seconds, int senders, const std::function<bool(int, int)>& call) {
  const int total = rate * seconds;
  std::vector<std::vector<double>> ms(senders);
  std::atomic<int> errors{0};
  auto start = Clock::now() + std::chrono::milliseconds(50);
  std::vector<std::thread> pool;
  for (int s = 0; s < senders; ++s) {
    pool.emplace_back([&, s] {
      for (int i = s; i < total; i += senders) {
        auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate));
        std::this_thread::sleep_until(due);
        bool ok = call(s, i);
        ms[s].push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
        if (!ok) ++errors;
      }
    });
  }
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : ms) all.insert(all.end(), v.begin(), v.end());
  return {all.size() / elapsed, Percentile(all, 0.5), Percentile(all, 0.99), errors.load()};
}

// A distinct valid US number per sequence number (16 area codes × 9,000 line numbers).
std::string Number(int64_t n) {
  static const char* kAreas[] = {"212", "415", "646", "718", "917", "305", "404", "312",
                                 "617", "206", "303", "512", "602", "702", "713", "214"};
  return absl::StrCat("+1", kAreas[(n / 9000) % 16], "555", 1000 + (n % 9000));
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = IntFlag(argc, argv, "threads", 16);
  const int seconds = IntFlag(argc, argv, "seconds", 5);
  const int rate = IntFlag(argc, argv, "rate", 1000);
  log::Init({.level = log::Level::kError});
  // As the services do (grpcx::ServiceOptionsFromFlags).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  dispatcher::testing::ConfigApiEnv config;
  config.MakeAgent("bench-agent");
  dispatcher::testing::DispatcherEnv env(config.channel());

  auto channels = Channels(env.address(), 4);
  std::vector<std::unique_ptr<parley::v1::DispatcherService::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health;
  for (auto& ch : channels) {
    stubs.push_back(parley::v1::DispatcherService::NewStub(ch));
    health.push_back(grpc::health::v1::Health::NewStub(ch));
  }
  parley::v1::CreateCallRequest base;
  base.set_agent("bench-agent");
  *base.mutable_context() = *json::JsonToStruct(nlohmann::json{{"customer_name", "Jordan Smith"},
                                                               {"invoice_number", "1042"},
                                                               {"amount_due", "$142.50"},
                                                               {"due_date", "March 15"},
                                                               {"company_name", "Acme Utilities"}});
  std::atomic<int64_t> numbers{0};
  std::atomic<int> first_errors{0};
  auto create = [&](int t, int) {
    parley::v1::CreateCallRequest r = base;
    r.set_to(Number(numbers++));
    parley::v1::Call call;
    auto ctx = grpcx::MakeContext({.token = dispatcher::testing::kCallsToken});
    grpc::Status s = stubs[t % stubs.size()]->CreateCall(ctx.get(), r, &call);
    if (!s.ok() && first_errors++ < 3) {
      std::fprintf(stderr, "CreateCall: %s\n", s.error_message().c_str());
    }
    return s.ok();
  };
  auto empty = [&](int t, int) {
    grpc::health::v1::HealthCheckRequest r;
    grpc::health::v1::HealthCheckResponse out;
    auto ctx = grpcx::MakeContext({.token = dispatcher::testing::kCallsToken});
    return health[t % health.size()]->Check(ctx.get(), r, &out).ok();
  };

  // The Redis half of an admission alone: the store's Create (with the DNC check), in process.
  const std::string context_json = json::StructToJson(base.context()).dump();
  auto store_create = [&](int, int) {
    calls::CallRecord c;
    c.call_id = dispatcher::NewCallId();
    c.to = Number(numbers++);
    c.agent = "bench-agent";
    c.context_json = context_json;
    auto r = env.store().Create(std::move(c), absl::ToUnixMillis(absl::Now()), {.dnc = true});
    return r.ok() && r->created;
  };
  if (int only = IntFlag(argc, argv, "only", 0); only > 0) {
    // For profilers: CreateCall (1) or the empty handler (2) alone, saturated, after a warm-up;
    // a "start" line on stderr marks the measured part.
    std::function<bool(int, int)> call = create;
    if (only == 2) call = empty;
    // 3: CreateCall refused by its first check (no `to`): the handler's floor, no Redis.
    auto refused = [&](int t, int) {
      parley::v1::CreateCallRequest r = base;
      parley::v1::Call out;
      auto ctx = grpcx::MakeContext({.token = dispatcher::testing::kCallsToken});
      return stubs[t % stubs.size()]->CreateCall(ctx.get(), r, &out).error_code() ==
             grpc::StatusCode::INVALID_ARGUMENT;
    };
    if (only == 3) call = refused;
    Saturate(threads, 1, call);
    std::fprintf(stderr, "start\n");
    Result r = Saturate(threads, seconds, call);
    std::printf("{\"calls_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", r.per_s, r.p50_ms,
                r.p99_ms);
    return 0;
  }
  Result store_only = Saturate(threads, seconds, store_create);
  std::fprintf(stderr, "CallStore::Create alone: %.0f/s p50 %.3f p99 %.3f\n", store_only.per_s,
               store_only.p50_ms, store_only.p99_ms);

  Saturate(threads, 1, create);  // warm up: connections, caches, scripts
  Saturate(threads, 1, empty);
  CpuSample c0 = SampleCpu(env.redis());
  Result baseline = Saturate(threads, seconds, empty);
  CpuSample c1 = SampleCpu(env.redis());
  Result dispatch = Saturate(threads, seconds, create);
  CpuSample c2 = SampleCpu(env.redis());
  auto [baseline_cpu, baseline_redis] = CpuPerCall(c0, c1, baseline.calls);
  auto [dispatch_cpu, dispatch_redis] = CpuPerCall(c1, c2, dispatch.calls);
  // (baseline_redis is the INFO command's own cost; nothing else touches Redis then.)
  (void)baseline_redis;
  Result paced = OpenLoop(rate, seconds, 64, create);
  if (dispatch.errors + paced.errors + baseline.errors > 0) {
    std::fprintf(stderr, "errors: dispatch %d, open loop %d, baseline %d\n", dispatch.errors,
                 paced.errors, baseline.errors);
  }
  std::printf(
      "{\"bench\":\"dispatch\",\"calls_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"baseline_calls_per_s\":%.0f,\"baseline_p50_ms\":%.3f,\"baseline_p99_ms\":%.3f,"
      "\"rate\":%d,\"rate_p50_ms\":%.3f,\"rate_p99_ms\":%.3f,\"threads\":%d,\"seconds\":%d,"
      "\"cpu_us\":%.1f,\"redis_cpu_us\":%.1f,\"baseline_cpu_us\":%.1f,\"cpu_ratio\":%.3f}\n",
      dispatch.per_s, dispatch.p50_ms, dispatch.p99_ms, baseline.per_s, baseline.p50_ms,
      baseline.p99_ms, rate, paced.p50_ms, paced.p99_ms, threads, seconds, dispatch_cpu,
      dispatch_redis, baseline_cpu,
      dispatch_cpu + dispatch_redis > 0 ? baseline_cpu / (dispatch_cpu + dispatch_redis) : 0);
  return dispatch.errors + paced.errors > 0 ? 1 : 0;
}
