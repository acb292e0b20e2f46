// How many concurrent calls one worker carries before its audio frames run late.
//
// This process hosts only the worker (Worker + VoicePipelineFactory + GrpcTelephony, as
// services/worker/main.cc assembles them), so its getrusage is the worker's CPU. Around it, as
// real processes: parley-config-api and parley-state over a scratch Postgres database and the
// shared Redis (their own key prefix), and the callees — `parleyctl phone` with the
// cooperative-lead persona, whose replies walk the lead-qualifier example agent's graph to a
// booking (greet → verify → qualify → answer → book → exit). deploy/examples is applied as shipped
// with the sim-phone trunk pointed at that phone.
//
//   eval "$(scripts/infra up)"
//   build/bench/worker_bench [--providers=instant|embedded] [--levels=10,25,50,100,150,200]
//                            [--max=200] [--window_s=15] [--call_timeout_s=180] [--keep_going=true]
//                            [--ramp_ms=0]
//                            [--recorder=grpc|null]
//                            [--opus_complexity=1] [--opus_cache_mb=16]   (as the worker's flags)
//                            [--mutex_deadlock_detection=false]
//                            [--malloc_arenas=2] [--keep_pcm_frames=25] [--encode_ahead=3]
//                                                                  (as the worker's flags)
//
// Providers: `instant` (the default) replaces the template's pocketsphinx and espeak with
// zero-latency stand-ins — ListSpeechToText giving the persona's replies in order, ToneSpeech with
// a tone per word (the same line sounds the same on every call, as with espeak, so the Opus packet
// cache sees what it would in production with the same variables) — and keeps the real engine
// with the scripted policy; `embedded` runs pocketsphinx and espeak-ng in this process, as
// production does.
//
// Per level N: N calls are queued at once (distinct numbers); once all N are answered, a window
// (until the first call ends, at most --window_s) measures the worker's CPU time over wall time
// (`cores`) and its VmRSS; then every call's leg statistics are read back from the state service
// (CompleteCall metrics: frames_sent, late_frames_pct, first_audio_ms). Levels rise until frames
// run late (≥ 0.1 %) or a call does not complete, or --max. One JSON line per level:
//   {"bench":"worker","providers":"instant","n":50,"completed":50,"cores":…,"calls_per_core":…,
//    "late_frames_pct":…,"max_late_ms":…,"rss_per_call_kb":…,"turn_overhead_p99_ms":…,
//    "first_audio_p95_ms":…,"callee_cores":…,"window_s":…}
// (--recorder=null: the pipeline's state and transcript writes go nowhere, see NullRecorder) and
// a summary line for the highest level that kept frames on time (or the first level, when
// none did):
//   {"bench":"worker","concurrent_calls":…,"cores":…,"late_frames_pct":…,"rss_per_call_kb":…,
//    "turn_overhead_p99_ms":…,"first_audio_p95_ms":…, …}
// Progress goes to stderr; the services' and the phone's logs to /tmp/worker_bench.<pid>.*.log.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/callee/persona.h"
#include "common/calls/call_store.h"
#include "common/docs/resource_docs.h"
#include "common/grpc/client.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/pg/testing/scratch_database.h"
#include "common/redis/redis_pool.h"
#include "common/testing/subprocess.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/config-api/resource_kind.h"
#include "services/worker/config_cache.h"
#include "services/worker/malloc_tuning.h"
#include "services/worker/media_leg.h"
#include "services/worker/service_clients.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/testing/instant_providers.h"
#include "services/worker/voice/voice_pipeline.h"
#include "services/worker/worker.h"

namespace {

using namespace parley;
using parley::testing::FreePort;
using parley::testing::Subprocess;

std::string Flag(int argc, char** argv, const char* name, const std::string& fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "worker_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// CPU seconds (user + system) this process has used.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of another process (utime + stime of /proc/<pid>/stat); 0 when unreadable.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(in, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14 || i == 15) ticks += std::atof(f.c_str());
    if (i == 15) break;
  }
  return ticks / sysconf(_SC_CLK_TCK);
}

// VmRSS of this process in KiB.
// A field of /proc/self/status ("VmRSS:", "Threads:"), as a number.
int64_t StatusField(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0) return std::atoll(line.c_str() + len);
  }
  return 0;
}

int64_t RssKb() { return StatusField("VmRSS:"); }

bool WaitServing(const std::string& address, absl::Duration timeout) {
  auto channel = grpcx::MakeChannel({.address = address});
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto h = grpcx::CheckHealth(channel, "", absl::Milliseconds(500));
    if (h.ok() && *h == grpcx::HealthStatus::kServing) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

// deploy/examples as shipped (DNC entries left out), the sim-phone trunk dialing `phone`.
void ApplyExamples(const std::string& config_address, const std::string& phone) {
  auto stub = parley::v1::ConfigService::NewStub(grpcx::MakeChannel({.address = config_address}));
  auto docs = docs::LoadResourceDocs(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples");
  if (!docs.ok()) Die("deploy/examples", docs.status());
  for (docs::ResourceDoc& doc : docs::OrderForApply(std::move(*docs))) {
    if (doc.kind == "dnc") continue;
    if (doc.kind == "trunk" && doc.name == "sim-phone") doc.spec["grpc"]["address"] = phone;
    std::optional<parley::v1::ResourceKind> kind = config::ParseKind(doc.kind);
    if (!kind.has_value()) Die(doc.kind, absl::InvalidArgumentError("unknown kind"));
    parley::v1::UpdateResourceRequest request;
    request.set_allow_missing(true);
    request.mutable_resource()->set_kind(*kind);
    request.mutable_resource()->set_name(doc.name);
    *request.mutable_resource()->mutable_spec() = *json::JsonToStruct(doc.spec);
    parley::v1::Resource out;
    auto context = grpcx::MakeContext({.address = config_address});
    grpc::Status s = stub->UpdateResource(context.get(), request, &out);
    if (!s.ok()) Die("apply " + doc.name, absl::UnknownError(s.error_message()));
  }
}

// Writes nothing (--recorder=null): separates the worker's own turn overhead from the state
// service's write latency, which the engine's set_state tools wait for inside a reply.
class NullRecorder final : public worker::ConversationRecorder {
 public:
  absl::Status UpdateState(const std::string&, int, const nlohmann::json&) override {
    return absl::OkStatus();
  }
  absl::Status AppendTurns(const std::string&, int, std::vector<parley::v1::Turn>) override {
    return absl::OkStatus();
  }
  absl::Status AddDnc(const std::string&, const std::string&, const std::string&,
                      const std::string&) override {
    return absl::OkStatus();
  }
};

// Per-turn measurements of the level being run.
class Timings {
 public:
  void Add(std::string_view name, double ms) {
    absl::MutexLock lock(&mu_);
    by_name_[std::string(name)].push_back(ms);
  }
  std::map<std::string, std::vector<double>> Take() {
    absl::MutexLock lock(&mu_);
    return std::exchange(by_name_, {});
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<double>> by_name_ ABSL_GUARDED_BY(mu_);
};

struct Level {
  int n = 0;
  int completed = 0;
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
  int64_t threads = 0;  // the process's, at most, during the window
  bool ok() const { return failed == 0 && completed == n && late_pct < 0.1; }
};

std::string Json(const Level& l, const std::string& providers, bool summary) {
  const double per_core = l.cores > 0 ? l.n / l.cores : 0;
  return absl::StrCat(
      "{\"bench\":\"worker\",\"providers\":\"", providers, "\",",
      summary ? absl::StrCat("\"concurrent_calls\":", l.n) : absl::StrCat("\"n\":", l.n),
      ",\"cores\":", absl::StrFormat("%.3f", l.cores),
      ",\"calls_per_core\":", absl::StrFormat("%.1f", per_core),
      ",\"late_frames_pct\":", absl::StrFormat("%.4f", l.late_pct),
      ",\"max_late_ms\":", absl::StrFormat("%.1f", l.max_late_ms),
      ",\"rss_per_call_kb\":", absl::StrFormat("%.0f", l.rss_per_call_kb),
      ",\"turn_overhead_p99_ms\":", absl::StrFormat("%.2f", l.turn_overhead_p99),
      ",\"turn_overhead_p50_ms\":", absl::StrFormat("%.2f", l.turn_overhead_p50),
      ",\"first_audio_p95_ms\":", absl::StrFormat("%.2f", l.first_audio_p95),
      ",\"completed\":", l.completed, ",\"frames_sent\":", l.frames, ",\"turns\":", l.turns,
      ",\"callee_cores\":", absl::StrFormat("%.3f", l.callee_cores),
      ",\"window_s\":", absl::StrFormat("%.1f", l.window_s), "}");
}

}  // namespace

int main(int argc, char** argv) {
  // As the services' main() does (common/grpc/service_flags.cc): Debian's abseil is built with
  // mutex deadlock detection on, which costs every lock a graph update.
  // (--mutex_deadlock_detection=true keeps it, to compare with runs made before this was set.)
  if (Flag(argc, argv, "mutex_deadlock_detection", "false") != "true") {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  // As the worker's main() does (--malloc_arenas, default 2), before any thread starts.
  worker::LimitMallocArenas(std::atoi(Flag(argc, argv, "malloc_arenas", "2").c_str()));
  const std::string providers = Flag(argc, argv, "providers", "instant");
  if (providers != "instant" && providers != "embedded") {
    Die("--providers", absl::InvalidArgumentError("instant or embedded"));
  }
  const std::string default_levels = providers == "instant" ? "10,25,50,100,150,200" : "2,4,8,12";
  const int max = std::atoi(Flag(argc, argv, "max", providers == "instant" ? "200" : "12").c_str());
  const absl::Duration window_max =
      absl::Seconds(std::atoi(Flag(argc, argv, "window_s", "15").c_str()));
  const absl::Duration call_timeout =
      absl::Seconds(std::atoi(Flag(argc, argv, "call_timeout_s", "180").c_str()));
  // Queue a level's calls spread over this long instead of all at once.
  const absl::Duration ramp =
      absl::Milliseconds(std::atoi(Flag(argc, argv, "ramp_ms", "0").c_str()));
  // Run every level, late frames or not (to see how the numbers scale).
  const bool keep_going = Flag(argc, argv, "keep_going", "false") == "true";
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(Flag(argc, argv, "levels", default_levels), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n > 0 && n <= max) levels.push_back(n);
  }
  log::Init({.level = log::Level::kError});

  const char* redis_url = std::getenv("PARLEY_REDIS_URL");
  if (redis_url == nullptr || std::getenv("PARLEY_PG_URL") == nullptr) {
    Die("PARLEY_PG_URL / PARLEY_REDIS_URL",
        absl::FailedPreconditionError("unset: eval \"$(scripts/infra up)\" first"));
  }
  // The service binaries sit beside this one in the build tree (<build>/bench/worker_bench).
  char exe[4096] = {};
  if (readlink("/proc/self/exe", exe, sizeof(exe) - 1) <= 0) {
    Die("/proc/self/exe", absl::InternalError("unreadable"));
  }
  std::string build = exe;
  build = build.substr(0, build.rfind('/'));
  build = build.substr(0, build.rfind('/'));
  const std::string logs = absl::StrCat("/tmp/worker_bench.", getpid());
  const std::string prefix = absl::StrCat("wb", getpid(), ":");

  pg::testing::ScratchDatabase db;
  const std::string config_address = absl::StrCat("127.0.0.1:", FreePort());
  const std::string state_address = absl::StrCat("127.0.0.1:", FreePort());
  const std::string phone_address = absl::StrCat("127.0.0.1:", FreePort());
  Subprocess config_api({build + "/services/config-api/parley-config-api",
                         "--listen=" + config_address, "--metrics_listen=off"},
                        {{"PARLEY_PG_URL", db.url()}, {"PARLEY_API_TOKENS", ""}},
                        logs + ".config-api.log");
  Subprocess state({build + "/services/state/parley-state", "--listen=" + state_address,
                    "--metrics_listen=off", "--redis_prefix=" + prefix + "state:"},
                   {{"PARLEY_PG_URL", db.url()}, {"PARLEY_API_TOKENS", ""}}, logs + ".state.log");
  Subprocess phone(
      {build + "/cli/parleyctl/parleyctl", "phone", "--listen", phone_address, "--persona",
       std::string(PARLEY_SOURCE_DIR) + "/deploy/examples/personas/cooperative-lead.yaml"},
      {}, logs + ".phone.log");
  for (const auto& [name, address] : {std::pair{"config-api", config_address},
                                      {"state", state_address},
                                      {"phone", phone_address}}) {
    if (!WaitServing(address, absl::Seconds(30))) {
      Die(name, absl::UnavailableError(
                    absl::StrCat("not serving on ", address, "; see ", logs, ".*.log")));
    }
  }
  ApplyExamples(config_address, phone_address);

  // The worker, assembled as main.cc does.
  auto redis = redis::RedisPool::Create({.url = redis_url, .max_connections = 32});
  if (!redis.ok()) Die("redis", redis.status());
  calls::CallStore store(redis->get(), {.prefix = prefix});
  worker::ConfigClient config({.address = config_address, .deadline = absl::Seconds(3)});
  worker::StateClient state_client({.address = state_address});
  worker::RuntimeConfigCache configs(
      [&](const worker::ConfigKey& key) { return config.GetRuntimeConfig(key); },
      worker::RuntimeConfigCache::Options{.defaults = worker::SystemDefaultConfig("")});
  // As the worker's flags default: --opus_complexity=1 --opus_cache_mb=16.
  worker::GrpcTelephony telephony(
      {.opus = {.complexity = std::atoi(Flag(argc, argv, "opus_complexity", "1").c_str())},
       .opus_cache_bytes =
           static_cast<size_t>(std::atoi(Flag(argc, argv, "opus_cache_mb", "16").c_str())) << 20,
       .queue = {.keep_pcm_frames = std::atoi(Flag(argc, argv, "keep_pcm_frames", "25").c_str()),
                 .encode_ahead = std::atoi(Flag(argc, argv, "encode_ahead", "3").c_str())}});
  worker::ProviderRegistry registry;
  worker::RegisterEmbeddedProviders(registry, {});  // `scripted`; and the real speech engines
  if (providers == "instant") {
    auto persona = callee::LoadPersonaFile(std::string(PARLEY_SOURCE_DIR) +
                                           "/deploy/examples/personas/cooperative-lead.yaml");
    if (!persona.ok()) Die("persona", persona.status());
    std::vector<std::string> replies;
    for (const callee::Reply& r : persona->replies) replies.push_back(r.say);
    auto stt = std::make_shared<worker::testing::ListSpeechToText>(replies, /*cycle=*/true);
    auto tts = std::make_shared<worker::testing::ToneSpeech>(
        worker::testing::ToneSpeechOptions{.ms_per_word = 250, .pitch_per_word = true});
    registry.AddStt("pocketsphinx", [stt](auto&, auto&) {
      return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(stt);
    });
    registry.AddTts("espeak", [tts](auto&, auto&) {
      return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(tts);
    });
  }
  worker::GrpcConversationRecorder grpc_recorder(&state_client, &config);
  NullRecorder null_recorder;
  const bool null = Flag(argc, argv, "recorder", "grpc") == "null";
  Timings timings;
  worker::VoicePipelineFactory pipelines(worker::VoicePipelineOptions{
      .providers = &registry,
      .recorder =
          null ? static_cast<worker::ConversationRecorder*>(&null_recorder) : &grpc_recorder,
      .dialogues = worker::MakeEngineDialogue,
      .on_timing = [&](std::string_view name, double ms) { timings.Add(name, ms); }});
  worker::Worker pool(
      worker::WorkerOptions{.identity = {.worker_id = absl::StrCat("bench-", getpid()),
                                         .host = "bench",
                                         .pid = static_cast<int>(getpid()),
                                         .capacity = max,
                                         .version = "bench",
                                         .start_time = absl::Now()},
                            .redis_url = redis_url},
      worker::WorkerDeps{.store = &store,
                         .redis = redis->get(),
                         .configs = &configs,
                         .state = &state_client,
                         .telephony = &telephony,
                         .pipelines = &pipelines});
  if (absl::Status s = pool.Start(); !s.ok()) Die("worker", s);
  auto state_stub =
      parley::v1::StateService::NewStub(grpcx::MakeChannel({.address = state_address}));

  int next_number = 0;
  std::vector<Level> results;
  for (int n : levels) {
    timings.Take();
    const int64_t rss_before = RssKb();
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      calls::CallRecord call;
      call.call_id = absl::StrCat("wb-", getpid(), "-", n, "-", i);
      call.to = absl::StrCat("+1415", 5550000 + next_number++);
      call.agent = "lead-qualifier";
      auto created = store.Create(call, absl::ToUnixMillis(absl::Now()));
      if (!created.ok()) Die("create call", created.status());
      ids.push_back(call.call_id);
      if (ramp > absl::ZeroDuration()) absl::SleepFor(ramp / n);
    }
    const absl::Time queued = absl::Now();
    // Wait for all N answered (or ended: a failure), then measure until the first one ends.
    auto statuses = [&] {
      std::vector<calls::CallRecord> out;
      for (const std::string& id : ids) {
        auto c = store.Get(id);
        out.push_back(c.ok() ? *c : calls::CallRecord{});
      }
      return out;
    };
    bool all_live = false;
    while (absl::Now() - queued < absl::Seconds(60)) {
      int live = 0, ended = 0;
      for (const auto& c : statuses()) {
        if (c.status == parley::v1::CALL_STATUS_IN_PROGRESS) ++live;
        if (calls::IsTerminal(c.status)) ++ended;
      }
      if (live == n) {
        all_live = true;
        break;
      }
      if (ended > 0) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    Level level{.n = n};
    if (all_live) {
      const absl::Time w0 = absl::Now();
      const double cpu0 = CpuSeconds();
      const double callee0 = ProcessCpuSeconds(phone.pid());
      int64_t rss_max = RssKb();
      struct mallinfo2 at_max = mallinfo2();
      for (;;) {
        absl::SleepFor(absl::Milliseconds(250));
        if (const int64_t rss = RssKb(); rss > rss_max) {
          rss_max = rss;
          at_max = mallinfo2();  // what malloc holds then: in use vs free but resident
        }
        level.threads = std::max(level.threads, StatusField("Threads:"));
        if (absl::Now() - w0 >= window_max) break;
        bool any_ended = false;
        for (const auto& c : statuses()) any_ended |= calls::IsTerminal(c.status);
        if (any_ended) break;
      }
      level.window_s = absl::ToDoubleSeconds(absl::Now() - w0);
      level.cores = (CpuSeconds() - cpu0) / level.window_s;
      level.callee_cores = (ProcessCpuSeconds(phone.pid()) - callee0) / level.window_s;
      level.rss_per_call_kb = static_cast<double>(rss_max - rss_before) / n;
      std::fprintf(stderr,
                   "worker_bench: N=%d at the RSS peak (%lld KiB): malloc in use %zu KiB, free "
                   "%zu KiB (arenas %zu KiB, mmap %zu KiB)\n",
                   n, static_cast<long long>(rss_max), at_max.uordblks >> 10, at_max.fordblks >> 10,
                   at_max.arena >> 10, at_max.hblkhd >> 10);
    } else {
      std::fprintf(stderr, "worker_bench: N=%d: not all calls were answered together\n", n);
    }
    // Every call to its end, then its leg statistics from the state service.
    const absl::Time deadline = absl::Now() + call_timeout;
    for (;;) {
      int ended = 0;
      for (const auto& c : statuses()) ended += calls::IsTerminal(c.status) ? 1 : 0;
      if (ended == n || absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(250));
    }
    double late_frames = 0;
    std::vector<double> first_audio;
    std::map<std::string, int> outcomes;
    for (const std::string& id : ids) {
      auto c = store.Get(id);
      std::string outcome =
          c.ok() ? absl::StrCat(std::string(calls::StatusName(c->status)), "/", c->ended_reason)
                 : "missing";
      ++outcomes[outcome];
      if (c.ok() && c->status == parley::v1::CALL_STATUS_COMPLETED &&
          c->ended_reason == "graph_end") {
        ++level.completed;
      } else {
        ++level.failed;
      }
      parley::v1::GetCallRecordRequest request;
      request.set_call_id(id);
      request.set_attempt(1);
      parley::v1::CallRecord record;
      auto context = grpcx::MakeContext({.address = state_address});
      if (!state_stub->GetCall(context.get(), request, &record).ok()) continue;
      const auto& m = record.metrics();
      double frames = m.count("frames_sent") ? m.at("frames_sent") : 0;
      level.frames += static_cast<int64_t>(frames);
      if (m.count("late_frames_pct")) late_frames += frames * m.at("late_frames_pct") / 100;
      if (m.count("max_late_ms"))
        level.max_late_ms = std::max(level.max_late_ms, m.at("max_late_ms"));
      if (m.count("first_audio_ms")) first_audio.push_back(m.at("first_audio_ms"));
    }
    level.late_pct = level.frames > 0 ? 100.0 * late_frames / level.frames : 0;
    level.first_audio_p95 = Percentile(first_audio, 0.95);
    std::map<std::string, std::vector<double>> t = timings.Take();
    level.turns = static_cast<int>(t["turn_overhead"].size());
    level.turn_overhead_p99 = Percentile(t["turn_overhead"], 0.99);
    level.turn_overhead_p50 = Percentile(t["turn_overhead"], 0.5);
    std::string outcome_text;
    for (const auto& [k, v] : outcomes) absl::StrAppend(&outcome_text, " ", k, "×", v);
    std::fprintf(stderr,
                 "worker_bench: N=%d outcomes:%s; first_tts_audio p99 %.2f ms, stt_final p99 %.2f "
                 "ms, first_token p99 %.2f ms\n",
                 n, outcome_text.c_str(), Percentile(t["first_tts_audio"], 0.99),
                 Percentile(t["stt_final"], 0.99), Percentile(t["first_token"], 0.99));
    const audio::OpusPacketCacheStats cache = telephony.CacheStats();
    std::fprintf(
        stderr,
        "worker_bench: N=%d threads %lld; opus cache (so far): %.1f %% hits, %lld "
        "packets, %lld KiB\n",
        n, static_cast<long long>(level.threads),
        cache.hits + cache.misses > 0 ? 100.0 * cache.hits / (cache.hits + cache.misses) : 0.0,
        static_cast<long long>(cache.entries), static_cast<long long>(cache.bytes / 1024));
    std::printf("%s\n", Json(level, providers, false).c_str());
    std::fflush(stdout);
    results.push_back(level);
    if (!level.ok() && !keep_going) break;
  }
  pool.Drain(absl::ZeroDuration());
  pool.WaitDrained();
  // Clean up our keys in the shared Redis.
  if (auto keys = (*redis)->Command({"KEYS", prefix + "*"}); keys.ok()) {
    for (const std::string& key : keys->AsStrings().value_or(std::vector<std::string>{})) {
      (void)(*redis)->Command({"DEL", key});
    }
  }
  if (results.empty()) return 1;
  const Level* best = &results.front();
  for (const Level& l : results) {
    if (l.ok()) best = &l;
  }
  std::printf("%s\n", Json(*best, providers, true).c_str());
  return best->ok() ? 0 : 1;
}
