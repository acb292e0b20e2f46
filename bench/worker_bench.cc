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
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "bench/call_bench.h"
#include "common/log/log.h"
#include "common/testing/subprocess.h"
#include "services/worker/malloc_tuning.h"
#include "services/worker/media_leg.h"

namespace {

using namespace parley;
using bench::Flag;
using bench::Percentile;
using parley::testing::FreePort;
using parley::testing::Subprocess;

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
  const bench::CallBenchFlags flags = bench::ParseCallBenchFlags(argc, argv, "180");
  // Queue a level's calls spread over this long instead of all at once.
  const absl::Duration ramp =
      absl::Milliseconds(std::atoi(Flag(argc, argv, "ramp_ms", "0").c_str()));
  log::Init({.level = log::Level::kError});

  const std::string redis_url = bench::InfraRedisUrl();
  // The service binaries sit beside this one in the build tree (<build>/bench/worker_bench).
  const std::string build = bench::BuildDir();
  const std::string logs = absl::StrCat("/tmp/worker_bench.", getpid());
  const std::string prefix = absl::StrCat("wb", getpid(), ":");

  bench::Services services(build, logs + ".", prefix);
  const std::string phone_address = absl::StrCat("127.0.0.1:", FreePort());
  Subprocess phone(
      {build + "/cli/parleyctl/parleyctl", "phone", "--listen", phone_address, "--persona",
       std::string(PARLEY_SOURCE_DIR) + "/deploy/examples/personas/cooperative-lead.yaml"},
      {}, logs + ".phone.log");
  bench::WaitAllServing({{"config-api", services.config_address()},
                         {"state", services.state_address()},
                         {"phone", phone_address}},
                        logs + ".*.log");
  // The sim-phone trunk dials `parleyctl phone`.
  bench::ApplyExamples(services.config_address(),
                       [&](nlohmann::json& spec) { spec["grpc"]["address"] = phone_address; });

  // As the worker's flags default: --opus_complexity=1 --opus_cache_mb=16.
  worker::GrpcTelephony telephony(
      {.opus = {.complexity = std::atoi(Flag(argc, argv, "opus_complexity", "1").c_str())},
       .opus_cache_bytes =
           static_cast<size_t>(std::atoi(Flag(argc, argv, "opus_cache_mb", "16").c_str())) << 20,
       .queue = {.keep_pcm_frames = std::atoi(Flag(argc, argv, "keep_pcm_frames", "25").c_str()),
                 .encode_ahead = std::atoi(Flag(argc, argv, "encode_ahead", "3").c_str())}});
  bench::WorkerStack stack({.services = &services,
                            .flags = &flags,
                            .redis_url = redis_url,
                            .prefix = prefix,
                            .worker_id = absl::StrCat("bench-", getpid()),
                            .telephony = &telephony});

  auto ok = [](const bench::Level& l) {
    return l.failed == 0 && l.completed == l.n && l.late_pct < 0.1;
  };
  const bench::JsonOptions json{.bench = "worker", .providers = flags.providers};
  std::vector<bench::Level> results;
  for (int n : flags.levels) {
    bench::Level level = stack.RunLevel(n, {.call_id_prefix = absl::StrCat("wb-", getpid(), "-"),
                                            .ramp = ramp,
                                            .window_max = flags.window_max,
                                            .call_timeout = flags.call_timeout,
                                            .completed_needs_graph_end = true,
                                            .callee_pid = phone.pid()});
    auto& t = level.timings;
    std::fprintf(stderr,
                 "worker_bench: N=%d outcomes:%s; first_tts_audio p99 %.2f ms, stt_final p99 %.2f "
                 "ms, first_token p99 %.2f ms\n",
                 n, bench::OutcomeText(level).c_str(), Percentile(t["first_tts_audio"], 0.99),
                 Percentile(t["stt_final"], 0.99), Percentile(t["first_token"], 0.99));
    const audio::OpusPacketCacheStats cache = telephony.CacheStats();
    std::fprintf(
        stderr,
        "worker_bench: N=%d threads %lld; opus cache (so far): %.1f %% hits, %lld "
        "packets, %lld KiB\n",
        n, static_cast<long long>(level.threads),
        cache.hits + cache.misses > 0 ? 100.0 * cache.hits / (cache.hits + cache.misses) : 0.0,
        static_cast<long long>(cache.entries), static_cast<long long>(cache.bytes / 1024));
    std::printf("%s\n", bench::LevelJson(level, json).c_str());
    std::fflush(stdout);
    results.push_back(level);
    if (!ok(level) && !flags.keep_going) break;
  }
  return bench::FinishLevels(stack, results, ok, json);
}
