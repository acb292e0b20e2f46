// What worker_bench and sip_bench share: both measure how many concurrent calls one in-process
// worker carries before its audio frames run late, and differ only in the telephony the worker
// dials through and the callees on the far side. Here: their common flags, the config-api and
// state services around the worker, deploy/examples applied with the sim-phone trunk pointed at
// the callees, the worker assembled as services/worker/main.cc does, one level's run (queue N
// calls, measure a window once all are answered, read back every call's leg statistics) and the
// JSON line each level prints.
//
//   bench::CallBenchFlags flags = bench::ParseCallBenchFlags(argc, argv, "180");
//   bench::Services services(bench::BuildDir(), logs + ".", prefix);
//   bench::ApplyExamples(services.config_address(), [&](nlohmann::json& spec) { … });
//   bench::WorkerStack stack({.services = &services, .flags = &flags, .telephony = &telephony, …});
//   std::vector<bench::Level> results;
//   for (int n : flags.levels) {
//     results.push_back(stack.RunLevel(n, {.call_id_prefix = "wb-1-", …}));
//     std::printf("%s\n", bench::LevelJson(results.back(), {.bench = "worker", …}).c_str());
//   }
//   return bench::FinishLevels(stack, results, ok, {.bench = "worker", …});
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/pg/testing/scratch_database.h"
#include "common/redis/redis_pool.h"
#include "common/testing/subprocess.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/worker/config_cache.h"
#include "services/worker/service_clients.h"
#include "services/worker/telephony.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/provider_registry.h"
#include "services/worker/voice/voice_pipeline.h"
#include "services/worker/worker.h"

namespace parley::bench {

// The flags both benchmarks take, with their defaults: --providers=instant|embedded,
// --levels (10,25,50,100,150,200 | 2,4,8,12), --max (200 | 12), --window_s=15, --call_timeout_s,
// --keep_going=false, --recorder=grpc|null.
struct CallBenchFlags {
  std::string providers;
  int max = 0;
  std::vector<int> levels;
  absl::Duration window_max;
  absl::Duration call_timeout;
  bool keep_going = false;
  bool null_recorder = false;
};

// The flags above from the command line; `call_timeout_s` is --call_timeout_s's default. Dies
// for a --providers other than instant or embedded.
CallBenchFlags ParseCallBenchFlags(int argc, char** argv, const char* call_timeout_s);

// A scratch Postgres database with parley-config-api and parley-state over it (state's keys in
// the shared Redis under `redis_prefix` + "state:"), their logs at `log_prefix` + "config-api.log"
// and "state.log". Waits for neither: see WaitAllServing.
class Services {
 public:
  Services(const std::string& build, const std::string& log_prefix,
           const std::string& redis_prefix);
  const std::string& config_address() const { return config_address_; }
  const std::string& state_address() const { return state_address_; }

 private:
  pg::testing::ScratchDatabase db_;
  std::string config_address_;
  std::string state_address_;
  parley::testing::Subprocess config_api_;
  parley::testing::Subprocess state_;
};

// Waits for each (name, address) to report SERVING within 30 s; dies naming the first that does
// not (and `logs`, where to look).
void WaitAllServing(const std::vector<std::pair<std::string, std::string>>& servers,
                    const std::string& logs);

// Applies deploy/examples as shipped (DNC entries left out) through the config API at
// `config_address`, with `sim_phone` called on the sim-phone trunk's spec first. Dies on failure.
void ApplyExamples(const std::string& config_address,
                   const std::function<void(nlohmann::json& spec)>& sim_phone);

// Per-turn measurements of the level being run.
class Timings {
 public:
  void Add(std::string_view name, double ms);
  // What was added since the last Take, by name.
  std::map<std::string, std::vector<double>> Take();

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<double>> by_name_ ABSL_GUARDED_BY(mu_);
};

// One level's numbers.
struct Level {
  int n = 0;
  bool all_live = false;  // all n calls were answered together
  int completed = 0;
  int canceled = 0;  // canceled by RunLevel past the call timeout (LevelOptions.cancel_reason)
  int failed = 0;
  double cores = 0;
  double callee_cores = 0;
  double window_s = 0;
  double late_pct = 0;
  double max_late_ms = 0;
  double rss_per_call_kb = 0;
  double turn_overhead_p99 = 0;
  double turn_overhead_p50 = 0;
  double first_audio_p95 = 0;
  int64_t frames = 0;
  int turns = 0;
  int64_t threads = 0;                  // the process's, at most, during the window
  std::map<std::string, int> outcomes;  // "<status>/<ended_reason>" (or "missing") → calls
  std::map<std::string, std::vector<double>> timings;  // the level's Timings
};

// " <outcome>×<count>" for each outcome of `level`.
std::string OutcomeText(const Level& level);

struct LevelOptions {
  std::string call_id_prefix;                  // call i is <prefix><n>-<i>
  absl::Duration ramp = absl::ZeroDuration();  // queue the calls spread over this long
  absl::Duration window_max;
  absl::Duration call_timeout;
  // Calls still up past call_timeout: left alone when empty, else canceled with this reason
  // (and counted as canceled).
  std::string cancel_reason;
  // Whether a call counts as completed only when it ended by its graph ("graph_end").
  bool completed_needs_graph_end = false;
  pid_t callee_pid = 0;  // for callee_cores
};

struct WorkerStackOptions {
  const Services* services = nullptr;  // required
  // Required: --providers ("instant" or "embedded", see worker_bench.cc), --recorder, and --max
  // as the worker's capacity.
  const CallBenchFlags* flags = nullptr;
  std::string redis_url;
  std::string prefix;  // of the calls' keys in Redis
  std::string worker_id;
  worker::Telephony* telephony = nullptr;  // required
};

// The worker, assembled as services/worker/main.cc does, with the given telephony; `instant`
// providers are ListSpeechToText with the cooperative-lead persona's replies and ToneSpeech in
// place of pocketsphinx and espeak. The constructor dies when Redis, the persona or the worker's
// start fails.
class WorkerStack {
 public:
  explicit WorkerStack(const WorkerStackOptions& options);
  ~WorkerStack();

  // Queues n calls (distinct numbers), waits for all to be answered, measures the window (until
  // the first ends, at most window_max), waits for every call's end and reads its leg statistics
  // back from the state service.
  Level RunLevel(int n, const LevelOptions& options);
  // Drains the worker and deletes the keys under the prefix.
  void Finish();

 private:
  WorkerStackOptions options_;
  std::string state_address_;
  std::unique_ptr<redis::RedisPool> redis_;
  std::unique_ptr<calls::CallStore> store_;
  std::unique_ptr<worker::ConfigClient> config_;
  std::unique_ptr<worker::StateClient> state_client_;
  std::unique_ptr<worker::RuntimeConfigCache> configs_;
  std::unique_ptr<worker::ProviderRegistry> registry_;
  std::unique_ptr<worker::ConversationRecorder> recorder_;
  Timings timings_;
  std::unique_ptr<worker::VoicePipelineFactory> pipelines_;
  std::unique_ptr<worker::Worker> pool_;
  std::unique_ptr<parley::v1::StateService::Stub> state_stub_;
  int next_number_ = 0;
};

struct JsonOptions {
  std::string bench;  // "worker", "sip"
  std::string providers;
  bool summary = false;   // "concurrent_calls" in place of "n"
  bool failures = false;  // also "canceled", "failed" and "threads"
};

// The level's JSON line (without newline).
std::string LevelJson(const Level& l, const JsonOptions& options);

// After the last level: finishes `stack`, prints the summary line (LevelJson with .summary) of
// the last level for which `ok` holds, else of the first, and returns the exit code: 0 when that
// level is ok, 1 when not or when there are no results.
int FinishLevels(WorkerStack& stack, const std::vector<Level>& results,
                 const std::function<bool(const Level&)>& ok, JsonOptions json);

}  // namespace parley::bench
