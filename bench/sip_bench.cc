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

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "common/callee/persona.h"
#include "common/calls/call_store.h"
#include "common/docs/resource_docs.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/pg/testing/scratch_database.h"
#include "common/redis/redis_pool.h"
#include "common/testing/subprocess.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/state.grpc.pb.h"
#include "services/config-api/resource_kind.h"
#include "services/worker/config_cache.h"
#include "services/worker/service_clients.h"
#include "services/worker/sip/rtp_packet.h"
#include "services/worker/sip/sip_telephony.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/testing/instant_providers.h"
#include "services/worker/voice/voice_pipeline.h"
#include "services/worker/worker.h"

namespace {

using namespace parley;
using bench::Flag;
using bench::Percentile;
using parley::testing::FreePort;
using parley::testing::Subprocess;

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "sip_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

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

// Writes nothing (--recorder=null), as in worker_bench.
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
  bool all_live = false;
  int completed = 0;  // ended COMPLETED (by the graph or the callee)
  int canceled = 0;   // still up at --call_timeout_s
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
  bool ok() const { return all_live && failed == 0 && late_pct < 0.1; }
};

std::string Json(const Level& l, const std::string& providers, bool summary) {
  const double per_core = l.cores > 0 ? l.n / l.cores : 0;
  return absl::StrCat(
      "{\"bench\":\"sip\",\"providers\":\"", providers, "\",",
      summary ? absl::StrCat("\"concurrent_calls\":", l.n) : absl::StrCat("\"n\":", l.n),
      ",\"cores\":", absl::StrFormat("%.3f", l.cores),
      ",\"calls_per_core\":", absl::StrFormat("%.1f", per_core),
      ",\"late_frames_pct\":", absl::StrFormat("%.4f", l.late_pct),
      ",\"max_late_ms\":", absl::StrFormat("%.1f", l.max_late_ms),
      ",\"rss_per_call_kb\":", absl::StrFormat("%.0f", l.rss_per_call_kb),
      ",\"turn_overhead_p99_ms\":", absl::StrFormat("%.2f", l.turn_overhead_p99),
      ",\"turn_overhead_p50_ms\":", absl::StrFormat("%.2f", l.turn_overhead_p50),
      ",\"first_audio_p95_ms\":", absl::StrFormat("%.2f", l.first_audio_p95),
      ",\"completed\":", l.completed, ",\"canceled\":", l.canceled, ",\"failed\":", l.failed,
      ",\"frames_sent\":", l.frames, ",\"turns\":", l.turns, ",\"threads\":", l.threads,
      ",\"callee_cores\":", absl::StrFormat("%.3f", l.callee_cores),
      ",\"window_s\":", absl::StrFormat("%.1f", l.window_s), "}");
}

// deploy/examples as shipped (DNC entries left out), the sim-phone trunk a SIP trunk to sipp.
void ApplyExamples(const std::string& config_address, int sipp_port) {
  auto stub = parley::v1::ConfigService::NewStub(grpcx::MakeChannel({.address = config_address}));
  auto docs = docs::LoadResourceDocs(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples");
  if (!docs.ok()) Die("deploy/examples", docs.status());
  for (docs::ResourceDoc& doc : docs::OrderForApply(std::move(*docs))) {
    if (doc.kind == "dnc") continue;
    if (doc.kind == "trunk" && doc.name == "sim-phone") {
      doc.spec = {{"kind", "sip"},
                  {"sip",
                   {{"host", "127.0.0.1"},
                    {"port", sipp_port},
                    {"codecs", {"pcmu"}},
                    {"rtp_port_min", 40000},
                    {"rtp_port_max", 50000}}}};
    }
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
  const std::string providers = Flag(argc, argv, "providers", "instant");
  if (providers != "instant" && providers != "embedded") {
    Die("--providers", absl::InvalidArgumentError("instant or embedded"));
  }
  const std::string default_levels = providers == "instant" ? "10,25,50,100,150,200" : "2,4,8,12";
  const int max = std::atoi(Flag(argc, argv, "max", providers == "instant" ? "200" : "12").c_str());
  const absl::Duration window_max =
      absl::Seconds(std::atoi(Flag(argc, argv, "window_s", "15").c_str()));
  const absl::Duration call_timeout =
      absl::Seconds(std::atoi(Flag(argc, argv, "call_timeout_s", "150").c_str()));
  const bool keep_going = Flag(argc, argv, "keep_going", "false") == "true";
  const int period_ms = std::atoi(Flag(argc, argv, "callee_period_ms", "8000").c_str());
  const int speech_ms = std::atoi(Flag(argc, argv, "callee_speech_ms", "1000").c_str());
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
  // The service binaries sit beside this one in the build tree (<build>/bench/sip_bench).
  char exe[4096] = {};
  if (readlink("/proc/self/exe", exe, sizeof(exe) - 1) <= 0) {
    Die("/proc/self/exe", absl::InternalError("unreadable"));
  }
  std::string build = exe;
  build = build.substr(0, build.rfind('/'));
  build = build.substr(0, build.rfind('/'));
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

  pg::testing::ScratchDatabase db;
  const std::string config_address = absl::StrCat("127.0.0.1:", FreePort());
  const std::string state_address = absl::StrCat("127.0.0.1:", FreePort());
  Subprocess config_api({build + "/services/config-api/parley-config-api",
                         "--listen=" + config_address, "--metrics_listen=off"},
                        {{"PARLEY_PG_URL", db.url()}, {"PARLEY_API_TOKENS", ""}},
                        logs + "/config-api.log");
  Subprocess state({build + "/services/state/parley-state", "--listen=" + state_address,
                    "--metrics_listen=off", "--redis_prefix=" + prefix + "state:"},
                   {{"PARLEY_PG_URL", db.url()}, {"PARLEY_API_TOKENS", ""}}, logs + "/state.log");
  for (const auto& [name, address] :
       {std::pair{"config-api", config_address}, {"state", state_address}}) {
    if (!bench::WaitServing(address, absl::Seconds(30))) {
      Die(name, absl::UnavailableError(
                    absl::StrCat("not serving on ", address, "; see ", logs, "/*.log")));
    }
  }
  if (!sipp.running()) Die("sipp", absl::UnavailableError("exited; see " + logs + "/sipp.log"));
  ApplyExamples(config_address, sipp_port);

  // The worker, assembled as main.cc does.
  auto redis = redis::RedisPool::Create({.url = redis_url, .max_connections = 32});
  if (!redis.ok()) Die("redis", redis.status());
  calls::CallStore store(redis->get(), {.prefix = prefix});
  worker::ConfigClient config({.address = config_address, .deadline = absl::Seconds(3)});
  worker::StateClient state_client({.address = state_address});
  worker::RuntimeConfigCache configs(
      [&](const worker::ConfigKey& key) { return config.GetRuntimeConfig(key); },
      worker::RuntimeConfigCache::Options{.defaults = worker::SystemDefaultConfig("")});
  auto sip = sip::SipTelephony::Create(
      {.sip_address = "127.0.0.1", .sip_port = 0, .rtp_address = "127.0.0.1"});
  if (!sip.ok()) Die("sip", sip.status());
  worker::TelephonyByKind telephony({{"sip", sip->get()}});
  worker::ProviderRegistry registry;
  worker::RegisterEmbeddedProviders(registry, {});
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
      worker::WorkerOptions{.identity = {.worker_id = absl::StrCat("sip-bench-", getpid()),
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
    const int64_t rss_before = bench::StatusField("VmRSS:");
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      calls::CallRecord call;
      call.call_id = absl::StrCat("sb-", getpid(), "-", n, "-", i);
      call.to = absl::StrCat("+1415", 5550000 + next_number++);
      call.agent = "lead-qualifier";
      auto created = store.Create(call, absl::ToUnixMillis(absl::Now()));
      if (!created.ok()) Die("create call", created.status());
      ids.push_back(call.call_id);
    }
    const absl::Time queued = absl::Now();
    auto statuses = [&] {
      std::vector<calls::CallRecord> out;
      for (const std::string& id : ids) {
        auto c = store.Get(id);
        out.push_back(c.ok() ? *c : calls::CallRecord{});
      }
      return out;
    };
    Level level{.n = n};
    while (absl::Now() - queued < absl::Seconds(60)) {
      int live = 0, ended = 0;
      for (const auto& c : statuses()) {
        if (c.status == parley::v1::CALL_STATUS_IN_PROGRESS) ++live;
        if (calls::IsTerminal(c.status)) ++ended;
      }
      if (live == n) {
        level.all_live = true;
        break;
      }
      if (ended > 0) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (level.all_live) {
      const absl::Time w0 = absl::Now();
      const double cpu0 = bench::CpuSeconds();
      const double callee0 = bench::ProcessCpuSeconds(sipp.pid());
      int64_t rss_max = bench::StatusField("VmRSS:");
      for (;;) {
        absl::SleepFor(absl::Milliseconds(250));
        rss_max = std::max(rss_max, bench::StatusField("VmRSS:"));
        level.threads = std::max(level.threads, bench::StatusField("Threads:"));
        if (absl::Now() - w0 >= window_max) break;
        bool any_ended = false;
        for (const auto& c : statuses()) any_ended |= calls::IsTerminal(c.status);
        if (any_ended) break;
      }
      level.window_s = absl::ToDoubleSeconds(absl::Now() - w0);
      level.cores = (bench::CpuSeconds() - cpu0) / level.window_s;
      level.callee_cores = (bench::ProcessCpuSeconds(sipp.pid()) - callee0) / level.window_s;
      level.rss_per_call_kb = static_cast<double>(rss_max - rss_before) / n;
    } else {
      std::fprintf(stderr, "sip_bench: N=%d: not all calls were answered together\n", n);
    }
    // Every call to its end (canceled past --call_timeout_s), then its leg statistics.
    const absl::Time deadline = absl::Now() + call_timeout;
    bool canceled = false;
    for (;;) {
      int ended = 0;
      for (const auto& c : statuses()) ended += calls::IsTerminal(c.status) ? 1 : 0;
      if (ended == n) break;
      if (absl::Now() > deadline) {
        if (canceled) break;
        for (const auto& c : statuses()) {
          if (!calls::IsTerminal(c.status)) {
            (void)store.Cancel(c.call_id, "sip_bench: call timeout",
                               absl::ToUnixMillis(absl::Now()));
          }
        }
        canceled = true;
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    double late_frames = 0;
    std::vector<double> first_audio;
    std::map<std::string, int> outcomes;
    for (const std::string& id : ids) {
      auto c = store.Get(id);
      ++outcomes[c.ok()
                     ? absl::StrCat(std::string(calls::StatusName(c->status)), "/", c->ended_reason)
                     : "missing"];
      if (c.ok() && c->status == parley::v1::CALL_STATUS_COMPLETED) {
        ++level.completed;
      } else if (c.ok() && c->status == parley::v1::CALL_STATUS_CANCELED) {
        ++level.canceled;
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
      const double frames = m.count("frames_sent") ? m.at("frames_sent") : 0;
      level.frames += static_cast<int64_t>(frames);
      if (m.count("late_frames_pct")) late_frames += frames * m.at("late_frames_pct") / 100;
      if (m.count("max_late_ms")) {
        level.max_late_ms = std::max(level.max_late_ms, m.at("max_late_ms"));
      }
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
    std::fprintf(stderr, "sip_bench: N=%d outcomes:%s; threads %lld\n", n, outcome_text.c_str(),
                 static_cast<long long>(level.threads));
    std::printf("%s\n", Json(level, providers, false).c_str());
    std::fflush(stdout);
    results.push_back(level);
    if (!level.ok() && !keep_going) break;
  }
  pool.Drain(absl::ZeroDuration());
  pool.WaitDrained();
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
