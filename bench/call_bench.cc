#include "bench/call_bench.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "common/callee/persona.h"
#include "common/docs/resource_docs.h"
#include "common/grpc/client.h"
#include "common/json/struct_convert.h"
#include "parley/v1/config.grpc.pb.h"
#include "services/config-api/resource_kind.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/testing/instant_providers.h"

namespace parley::bench {
namespace {

using parley::testing::FreePort;

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

}  // namespace

CallBenchFlags ParseCallBenchFlags(int argc, char** argv, const char* call_timeout_s) {
  CallBenchFlags flags;
  flags.providers = Flag(argc, argv, "providers", "instant");
  if (flags.providers != "instant" && flags.providers != "embedded") {
    Die("--providers", absl::InvalidArgumentError("instant or embedded"));
  }
  const bool instant = flags.providers == "instant";
  const std::string default_levels = instant ? "10,25,50,100,150,200" : "2,4,8,12";
  flags.max = std::atoi(Flag(argc, argv, "max", instant ? "200" : "12").c_str());
  flags.window_max = absl::Seconds(std::atoi(Flag(argc, argv, "window_s", "15").c_str()));
  flags.call_timeout =
      absl::Seconds(std::atoi(Flag(argc, argv, "call_timeout_s", call_timeout_s).c_str()));
  // Run every level, late frames or not (to see how the numbers scale).
  flags.keep_going = Flag(argc, argv, "keep_going", "false") == "true";
  flags.levels = Levels(Flag(argc, argv, "levels", default_levels), flags.max);
  flags.null_recorder = Flag(argc, argv, "recorder", "grpc") == "null";
  return flags;
}

Services::Services(const std::string& build, const std::string& log_prefix,
                   const std::string& redis_prefix)
    : config_address_(absl::StrCat("127.0.0.1:", FreePort())),
      state_address_(absl::StrCat("127.0.0.1:", FreePort())),
      config_api_({build + "/services/config-api/parley-config-api", "--listen=" + config_address_,
                   "--metrics_listen=off"},
                  {{"PARLEY_PG_URL", db_.url()}, {"PARLEY_API_TOKENS", ""}},
                  log_prefix + "config-api.log"),
      state_({build + "/services/state/parley-state", "--listen=" + state_address_,
              "--metrics_listen=off", "--redis_prefix=" + redis_prefix + "state:"},
             {{"PARLEY_PG_URL", db_.url()}, {"PARLEY_API_TOKENS", ""}}, log_prefix + "state.log") {}

void WaitAllServing(const std::vector<std::pair<std::string, std::string>>& servers,
                    const std::string& logs) {
  for (const auto& [name, address] : servers) {
    if (!WaitServing(address, absl::Seconds(30))) {
      Die(name, absl::UnavailableError(absl::StrCat("not serving on ", address, "; see ", logs)));
    }
  }
}

void ApplyExamples(const std::string& config_address,
                   const std::function<void(nlohmann::json& spec)>& sim_phone) {
  auto stub = parley::v1::ConfigService::NewStub(grpcx::MakeChannel({.address = config_address}));
  auto docs = docs::LoadResourceDocs(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples");
  if (!docs.ok()) Die("deploy/examples", docs.status());
  for (docs::ResourceDoc& doc : docs::OrderForApply(std::move(*docs))) {
    if (doc.kind == "dnc") continue;
    if (doc.kind == "trunk" && doc.name == "sim-phone") sim_phone(doc.spec);
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

void Timings::Add(std::string_view name, double ms) {
  absl::MutexLock lock(&mu_);
  by_name_[std::string(name)].push_back(ms);
}

std::map<std::string, std::vector<double>> Timings::Take() {
  absl::MutexLock lock(&mu_);
  return std::exchange(by_name_, {});
}

std::string OutcomeText(const Level& level) {
  std::string text;
  for (const auto& [k, v] : level.outcomes) absl::StrAppend(&text, " ", k, "×", v);
  return text;
}

WorkerStack::WorkerStack(const WorkerStackOptions& options)
    : options_(options), state_address_(options.services->state_address()) {
  const CallBenchFlags& flags = *options_.flags;
  auto redis = redis::RedisPool::Create({.url = options_.redis_url, .max_connections = 32});
  if (!redis.ok()) Die("redis", redis.status());
  redis_ = std::move(*redis);
  store_ = std::make_unique<calls::CallStore>(redis_.get(),
                                              calls::StoreOptions{.prefix = options_.prefix});
  config_ = std::make_unique<worker::ConfigClient>(grpcx::ClientOptions{
      .address = options_.services->config_address(), .deadline = absl::Seconds(3)});
  state_client_ =
      std::make_unique<worker::StateClient>(grpcx::ClientOptions{.address = state_address_});
  configs_ = std::make_unique<worker::RuntimeConfigCache>(
      [this](const worker::ConfigKey& key) { return config_->GetRuntimeConfig(key); },
      worker::RuntimeConfigCache::Options{.defaults = worker::SystemDefaultConfig("")});
  registry_ = std::make_unique<worker::ProviderRegistry>();
  worker::RegisterEmbeddedProviders(*registry_, {});  // `scripted`; and the real speech engines
  if (flags.providers == "instant") {
    auto persona = callee::LoadPersonaFile(std::string(PARLEY_SOURCE_DIR) +
                                           "/deploy/examples/personas/cooperative-lead.yaml");
    if (!persona.ok()) Die("persona", persona.status());
    std::vector<std::string> replies;
    for (const callee::Reply& r : persona->replies) replies.push_back(r.say);
    auto stt = std::make_shared<worker::testing::ListSpeechToText>(replies, /*cycle=*/true);
    auto tts = std::make_shared<worker::testing::ToneSpeech>(
        worker::testing::ToneSpeechOptions{.ms_per_word = 250, .pitch_per_word = true});
    registry_->AddStt("pocketsphinx", [stt](auto&, auto&) {
      return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(stt);
    });
    registry_->AddTts("espeak", [tts](auto&, auto&) {
      return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(tts);
    });
  }
  if (flags.null_recorder) {
    recorder_ = std::make_unique<NullRecorder>();
  } else {
    recorder_ =
        std::make_unique<worker::GrpcConversationRecorder>(state_client_.get(), config_.get());
  }
  pipelines_ = std::make_unique<worker::VoicePipelineFactory>(worker::VoicePipelineOptions{
      .providers = registry_.get(),
      .recorder = recorder_.get(),
      .dialogues = worker::MakeEngineDialogue,
      .on_timing = [this](std::string_view name, double ms) { timings_.Add(name, ms); }});
  pool_ = std::make_unique<worker::Worker>(
      worker::WorkerOptions{.identity = {.worker_id = options_.worker_id,
                                         .host = "bench",
                                         .pid = static_cast<int>(getpid()),
                                         .capacity = flags.max,
                                         .version = "bench",
                                         .start_time = absl::Now()},
                            .redis_url = options_.redis_url},
      worker::WorkerDeps{.store = store_.get(),
                         .redis = redis_.get(),
                         .configs = configs_.get(),
                         .state = state_client_.get(),
                         .telephony = options_.telephony,
                         .pipelines = pipelines_.get()});
  if (absl::Status s = pool_->Start(); !s.ok()) Die("worker", s);
  state_stub_ = parley::v1::StateService::NewStub(grpcx::MakeChannel({.address = state_address_}));
}

WorkerStack::~WorkerStack() = default;

Level WorkerStack::RunLevel(int n, const LevelOptions& options) {
  timings_.Take();
  const int64_t rss_before = StatusField("VmRSS:");
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    calls::CallRecord call;
    call.call_id = absl::StrCat(options.call_id_prefix, n, "-", i);
    call.to = absl::StrCat("+1415", 5550000 + next_number_++);
    call.agent = "lead-qualifier";
    auto created = store_->Create(call, absl::ToUnixMillis(absl::Now()));
    if (!created.ok()) Die("create call", created.status());
    ids.push_back(call.call_id);
    if (options.ramp > absl::ZeroDuration()) absl::SleepFor(options.ramp / n);
  }
  const absl::Time queued = absl::Now();
  auto statuses = [&] {
    std::vector<calls::CallRecord> out;
    for (const std::string& id : ids) {
      auto c = store_->Get(id);
      out.push_back(c.ok() ? *c : calls::CallRecord{});
    }
    return out;
  };
  // Wait for all N answered (or ended: a failure), then measure until the first one ends.
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
    const double cpu0 = CpuSeconds();
    const double callee0 = ProcessCpuSeconds(options.callee_pid);
    int64_t rss_max = StatusField("VmRSS:");
    struct mallinfo2 at_max = mallinfo2();
    for (;;) {
      absl::SleepFor(absl::Milliseconds(250));
      if (const int64_t rss = StatusField("VmRSS:"); rss > rss_max) {
        rss_max = rss;
        at_max = mallinfo2();  // what malloc holds then: in use vs free but resident
      }
      level.threads = std::max(level.threads, StatusField("Threads:"));
      if (absl::Now() - w0 >= options.window_max) break;
      bool any_ended = false;
      for (const auto& c : statuses()) any_ended |= calls::IsTerminal(c.status);
      if (any_ended) break;
    }
    level.window_s = absl::ToDoubleSeconds(absl::Now() - w0);
    level.cores = (CpuSeconds() - cpu0) / level.window_s;
    level.callee_cores = (ProcessCpuSeconds(options.callee_pid) - callee0) / level.window_s;
    level.rss_per_call_kb = static_cast<double>(rss_max - rss_before) / n;
    std::fprintf(stderr,
                 "%s: N=%d at the RSS peak (%lld KiB): malloc in use %zu KiB, free %zu KiB (all "
                 "arenas %zu KiB, mmap %zu KiB)\n",
                 program_invocation_short_name, n, static_cast<long long>(rss_max),
                 at_max.uordblks >> 10, at_max.fordblks >> 10, at_max.arena >> 10,
                 at_max.hblkhd >> 10);
  } else {
    std::fprintf(stderr, "%s: N=%d: not all calls were answered together\n",
                 program_invocation_short_name, n);
  }
  // Every call to its end (canceled past the call timeout when asked), then its leg statistics
  // from the state service.
  const bool cancel = !options.cancel_reason.empty();
  const absl::Time deadline = absl::Now() + options.call_timeout;
  bool canceled = false;
  for (;;) {
    int ended = 0;
    for (const auto& c : statuses()) ended += calls::IsTerminal(c.status) ? 1 : 0;
    if (ended == n) break;
    if (absl::Now() > deadline) {
      if (!cancel || canceled) break;
      for (const auto& c : statuses()) {
        if (!calls::IsTerminal(c.status)) {
          (void)store_->Cancel(c.call_id, options.cancel_reason, absl::ToUnixMillis(absl::Now()));
        }
      }
      canceled = true;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  double late_frames = 0;
  std::vector<double> first_audio;
  for (const std::string& id : ids) {
    auto c = store_->Get(id);
    ++level.outcomes[c.ok() ? absl::StrCat(std::string(calls::StatusName(c->status)), "/",
                                           c->ended_reason)
                            : "missing"];
    if (c.ok() && c->status == parley::v1::CALL_STATUS_COMPLETED &&
        (!options.completed_needs_graph_end || c->ended_reason == "graph_end")) {
      ++level.completed;
    } else if (cancel && c.ok() && c->status == parley::v1::CALL_STATUS_CANCELED) {
      ++level.canceled;
    } else {
      ++level.failed;
    }
    parley::v1::GetCallRecordRequest request;
    request.set_call_id(id);
    request.set_attempt(1);
    parley::v1::CallRecord record;
    auto context = grpcx::MakeContext({.address = state_address_});
    if (!state_stub_->GetCall(context.get(), request, &record).ok()) continue;
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
  level.timings = timings_.Take();
  level.turns = static_cast<int>(level.timings["turn_overhead"].size());
  level.turn_overhead_p99 = Percentile(level.timings["turn_overhead"], 0.99);
  level.turn_overhead_p50 = Percentile(level.timings["turn_overhead"], 0.5);
  return level;
}

void WorkerStack::Finish() {
  pool_->Drain(absl::ZeroDuration());
  pool_->WaitDrained();
  // Clean up our keys in the shared Redis.
  if (auto keys = redis_->Command({"KEYS", options_.prefix + "*"}); keys.ok()) {
    for (const std::string& key : keys->AsStrings().value_or(std::vector<std::string>{})) {
      (void)redis_->Command({"DEL", key});
    }
  }
}

std::string LevelJson(const Level& l, const JsonOptions& options) {
  const double per_core = l.cores > 0 ? l.n / l.cores : 0;
  return absl::StrCat(
      "{\"bench\":\"", options.bench, "\",\"providers\":\"", options.providers, "\",",
      options.summary ? absl::StrCat("\"concurrent_calls\":", l.n) : absl::StrCat("\"n\":", l.n),
      ",\"cores\":", absl::StrFormat("%.3f", l.cores),
      ",\"calls_per_core\":", absl::StrFormat("%.1f", per_core),
      ",\"late_frames_pct\":", absl::StrFormat("%.4f", l.late_pct),
      ",\"max_late_ms\":", absl::StrFormat("%.1f", l.max_late_ms),
      ",\"rss_per_call_kb\":", absl::StrFormat("%.0f", l.rss_per_call_kb),
      ",\"turn_overhead_p99_ms\":", absl::StrFormat("%.2f", l.turn_overhead_p99),
      ",\"turn_overhead_p50_ms\":", absl::StrFormat("%.2f", l.turn_overhead_p50),
      ",\"first_audio_p95_ms\":", absl::StrFormat("%.2f", l.first_audio_p95),
      ",\"completed\":", l.completed,
      options.failures ? absl::StrCat(",\"canceled\":", l.canceled, ",\"failed\":", l.failed) : "",
      ",\"frames_sent\":", l.frames, ",\"turns\":", l.turns,
      options.failures ? absl::StrCat(",\"threads\":", l.threads) : "",
      ",\"callee_cores\":", absl::StrFormat("%.3f", l.callee_cores),
      ",\"window_s\":", absl::StrFormat("%.1f", l.window_s), "}");
}

int FinishLevels(WorkerStack& stack, const std::vector<Level>& results,
                 const std::function<bool(const Level&)>& ok, JsonOptions json) {
  stack.Finish();
  if (results.empty()) return 1;
  const Level* best = &results.front();
  for (const Level& l : results) {
    if (ok(l)) best = &l;
  }
  json.summary = true;
  std::printf("%s\n", LevelJson(*best, json).c_str());
  return ok(*best) ? 0 : 1;
}

}  // namespace parley::bench
