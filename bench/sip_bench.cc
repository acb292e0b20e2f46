// How many concurrent SIP calls one worker carries before its audio frames run late: the SIP
// variant of worker_bench (issue 10), with the same fields.
//
// This process hosts only the worker (Worker + VoicePipelineFactory + SipTelephony behind
// TelephonyByKind, as services/worker/main.cc assembles them), so its getrusage is the worker's
// CPU. Around it, as real processes: parley-config-api and parley-state over a scratch Postgres
// database and the shared Redis (their own key prefix), and the callees — one sipp (Debian's
// sip-tester) UAS process (bench/sipp/uas_stream.xml) that answers every INVITE with PCMU and
// streams a generated "callee" sound as RTP (sipp's rtp_stream, looped): a burst of a voiced tone
// every --callee_period_ms, silence between, so the worker's VAD hears a turn each period.
// deploy/examples is applied as shipped, with the sim-phone trunk turned into a `sip` trunk to
// that sipp (codec pcmu). Providers are as worker_bench's `instant` (ListSpeechToText giving the
// cooperative-lead persona's replies in order, ToneSpeech) or `embedded`.
//
//   eval "$(scripts/infra up)"
//   build/bench/sip_bench [--providers=instant|embedded] [--levels=10,25,50,100,150,200]
//                         [--max=200] [--window_s=15] [--call_timeout_s=150] [--keep_going=true]
//                         [--callee_period_ms=8000] [--callee_speech_ms=1000]
//
// Per level N: N calls are queued at once; once all N are answered, a window (until the first
// call ends, at most --window_s) measures the worker's CPU time over wall time (`cores`), its
// VmRSS and thread count; every call then runs to its end (calls still up after
// --call_timeout_s are canceled) and its leg statistics are read back from the state service
// (CompleteCall metrics: frames_sent, late_frames_pct, first_audio_ms). Levels rise until frames
// run late (≥ 0.1 %) or a call fails, or --max. One JSON line per level and a summary line for
// the highest level that kept frames on time (or the first level), as worker_bench prints:
//   {"bench":"sip","providers":"instant","concurrent_calls":…,"cores":…,"calls_per_core":…,
//    "late_frames_pct":…,"rss_per_call_kb":…,"turn_overhead_p99_ms":…,"first_audio_p95_ms":…,…}
// Progress goes to stderr; the services' and sipp's logs to /tmp/sip_bench.<pid>.*.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "bench/call_bench.h"
#include "common/log/log.h"
#include "common/testing/subprocess.h"
#include "services/worker/sip/rtp_packet.h"
#include "services/worker/sip/sip_telephony.h"

namespace {

using namespace parley;
using bench::Die;
using bench::Flag;
using parley::testing::FreePort;
using parley::testing::Subprocess;

// The callee's side of every call, as raw 8 kHz μ-law for sipp's rtp_stream: `speech_ms` of a
// voiced sound (a 150 Hz tone with its first harmonics, about -20 dBFS, a 4 Hz syllable
// envelope), then silence to the end of `period_ms`.
void WriteCalleeAudio(const std::string& path, int period_ms, int speech_ms) {
  constexpr int kRate = 8000;
  std::vector<int16_t> pcm(static_cast<size_t>(kRate) * period_ms / 1000, 0);
  const size_t voiced = std::min(pcm.size(), static_cast<size_t>(kRate) * speech_ms / 1000);
  for (size_t i = 0; i < voiced; ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double envelope = 0.6 + 0.4 * std::sin(2 * M_PI * 4 * t);
    double s = 0;
    for (int h = 1; h <= 4; ++h) s += std::sin(2 * M_PI * 150 * h * t) / h;
    pcm[i] = static_cast<int16_t>(4000 * envelope * s);
  }
  std::ofstream(path, std::ios::binary) << sip::EncodeG711(pcm, /*alaw=*/false);
}

// A free loopback port for sipp's SIP side; even, so that its media port (-mp, two up) is even
// too, as RTP ports are.
int FreeSippPort() {
  for (;;) {
    const int port = FreePort();
    if (port % 2 == 0) return port;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // As the services' main() does: Debian's abseil has mutex deadlock detection on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const bench::CallBenchFlags flags = bench::ParseCallBenchFlags(argc, argv, "150");
  const int period_ms = std::atoi(Flag(argc, argv, "callee_period_ms", "8000").c_str());
  const int speech_ms = std::atoi(Flag(argc, argv, "callee_speech_ms", "1000").c_str());
  log::Init({.level = log::Level::kError});

  const std::string redis_url = bench::InfraRedisUrl();
  // The service binaries sit beside this one in the build tree (<build>/bench/sip_bench).
  const std::string build = bench::BuildDir();
  const std::string logs = absl::StrCat("/tmp/sip_bench.", getpid());
  const std::string prefix = absl::StrCat("sb", getpid(), ":");
  mkdir(logs.c_str(), 0755);

  // The callees: the scenario with the audio file's path filled in (sipp reads rtp_stream's
  // file name from the scenario as written, -key values do not reach it).
  const std::string audio_path = logs + "/callee.ul";
  WriteCalleeAudio(audio_path, period_ms, speech_ms);
  std::string scenario;
  {
    std::ifstream in(std::string(PARLEY_SOURCE_DIR) + "/bench/sipp/uas_stream.xml");
    std::stringstream text;
    text << in.rdbuf();
    scenario = absl::StrReplaceAll(text.str(), {{"{{audio_file}}", audio_path}});
  }
  std::ofstream(logs + "/uas_stream.xml") << scenario;
  const int sipp_port = FreeSippPort();
  Subprocess sipp({"/usr/bin/sipp", "-sf", logs + "/uas_stream.xml", "-i", "127.0.0.1", "-mi",
                   "127.0.0.1", "-p", absl::StrCat(sipp_port), "-mp", absl::StrCat(sipp_port + 2),
                   "-nostdin", "-trace_err", "-error_file", logs + "/sipp.errors.log"},
                  {}, logs + "/sipp.log");

  bench::Services services(build, logs + "/", prefix);
  bench::WaitAllServing(
      {{"config-api", services.config_address()}, {"state", services.state_address()}},
      logs + "/*.log");
  if (!sipp.running()) Die("sipp", absl::UnavailableError("exited; see " + logs + "/sipp.log"));
  // The sim-phone trunk becomes a SIP trunk to sipp.
  bench::ApplyExamples(services.config_address(), [&](nlohmann::json& spec) {
    spec = {{"kind", "sip"},
            {"sip",
             {{"host", "127.0.0.1"},
              {"port", sipp_port},
              {"codecs", {"pcmu"}},
              {"rtp_port_min", 40000},
              {"rtp_port_max", 50000}}}};
  });

  auto sip = sip::SipTelephony::Create(
      {.sip_address = "127.0.0.1", .sip_port = 0, .rtp_address = "127.0.0.1"});
  if (!sip.ok()) Die("sip", sip.status());
  worker::TelephonyByKind telephony({{"sip", sip->get()}});
  bench::WorkerStack stack({.services = &services,
                            .flags = &flags,
                            .redis_url = redis_url,
                            .prefix = prefix,
                            .worker_id = absl::StrCat("sip-bench-", getpid()),
                            .telephony = &telephony});

  auto ok = [](const bench::Level& l) { return l.all_live && l.failed == 0 && l.late_pct < 0.1; };
  const bench::JsonOptions json{.bench = "sip", .providers = flags.providers, .failures = true};
  std::vector<bench::Level> results;
  for (int n : flags.levels) {
    // Calls still up past --call_timeout_s are canceled (counted as "canceled").
    bench::Level level = stack.RunLevel(n, {.call_id_prefix = absl::StrCat("sb-", getpid(), "-"),
                                            .window_max = flags.window_max,
                                            .call_timeout = flags.call_timeout,
                                            .cancel_reason = "sip_bench: call timeout",
                                            .callee_pid = sipp.pid()});
    std::fprintf(stderr, "sip_bench: N=%d outcomes:%s; threads %lld\n", n,
                 bench::OutcomeText(level).c_str(), static_cast<long long>(level.threads));
    std::printf("%s\n", bench::LevelJson(level, json).c_str());
    std::fflush(stdout);
    results.push_back(level);
    if (!ok(level) && !flags.keep_going) break;
  }
  return bench::FinishLevels(stack, results, ok, json);
}
