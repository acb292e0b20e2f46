// parleyctl test FILE|DIR: runs agent test scenarios (scenario.h) against a running stack. The
// command is the callee itself: it serves a PersonaEndpoint on --phone-listen (where the agents'
// trunk dials), registers every scenario's persona by name, and places each scenario's call with
// `persona: NAME` in the call context, so one phone plays every scenario's callee.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cli/parleyctl/cli.h"
#include "cli/parleyctl/personas.h"
#include "cli/parleyctl/scenario.h"
#include "common/callee/persona_endpoint.h"
#include "common/calls/call_store.h"
#include "common/grpc/server.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/dispatcher.grpc.pb.h"
#include "parley/v1/state.grpc.pb.h"

namespace parley::cli {
namespace {

using parley::v1::DispatcherService;

// A number nobody else calls in this run: the 555-01XX-style fictional range of a few US area
// codes, random, so that a scenario never meets the memory or the DNC entry of an earlier run.
std::string FreshNumber() {
  static absl::Mutex mu;
  static std::mt19937_64 rng(std::random_device{}() ^ absl::ToUnixNanos(absl::Now()));
  static constexpr std::array<int, 8> kAreas = {201, 212, 312, 415, 503, 617, 702, 808};
  absl::MutexLock lock(&mu);
  return absl::StrFormat("+1%d555%04d", kAreas[rng() % kAreas.size()], rng() % 10000);
}

struct Outcome {
  std::string name;
  bool passed = false;
  double seconds = 0;
  std::vector<std::string> failures;
  std::string call_id;
};

// Resolves every scenario's persona: returns the persona name each scenario's call asks for, and
// adds each distinct persona to `used` once.
absl::StatusOr<std::vector<std::string>> ResolvePersonas(const std::vector<Scenario>& scenarios,
                                                         const std::string& personas_dir,
                                                         std::vector<callee::Persona>& used) {
  std::optional<std::vector<callee::Persona>> library;  // --personas DIR, read when first needed
  std::map<std::string, std::string> registered;        // persona name → where it came from
  std::vector<std::string> names;
  for (const Scenario& s : scenarios) {
    callee::Persona persona;
    if (s.PersonaIsPath()) {
      absl::StatusOr<callee::Persona> loaded = callee::LoadPersonaFile(s.PersonaPath());
      if (!loaded.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(s.source, ": scenario ", s.name,
                                                       ": persona: ", loaded.status().message()));
      }
      persona = *std::move(loaded);
    } else {
      if (!library) {
        absl::StatusOr<std::vector<callee::Persona>> all = LoadPersonaDir(personas_dir);
        if (!all.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("--personas: ", all.status().message(),
                                                         " (needed for persona ", s.persona, ")"));
        }
        library = *std::move(all);
      }
      auto it = std::find_if(library->begin(), library->end(),
                             [&](const callee::Persona& p) { return p.name == s.persona; });
      if (it == library->end()) {
        std::vector<std::string> have;
        for (const callee::Persona& p : *library) have.push_back(p.name);
        return absl::InvalidArgumentError(
            absl::StrCat(s.source, ": scenario ", s.name, ": persona: no persona \"", s.persona,
                         "\" in ", personas_dir, " (have ", absl::StrJoin(have, ", "), ")"));
      }
      persona = *it;
    }
    auto [at, fresh] = registered.emplace(persona.name, persona.source);
    if (!fresh && at->second != persona.source) {
      return absl::InvalidArgumentError(absl::StrCat(
          "persona \"", persona.name, "\" is defined by ", at->second, " and by ", persona.source));
    }
    if (fresh) used.push_back(persona);
    names.push_back(persona.name);
  }
  return names;
}

class Runner final {
 public:
  // Uses ctx's channels from several threads: open them (Context::Channel) before.
  explicit Runner(Context& ctx) : ctx_(ctx) {}

  Outcome Run(const Scenario& s, const std::string& persona) {
    Outcome out{.name = s.name};
    const absl::Time start = absl::Now();
    absl::Status status = Call(s, persona, out);
    out.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!status.ok()) out.failures.insert(out.failures.begin(), std::string(status.message()));
    out.passed = out.failures.empty();
    return out;
  }

 private:
  // Places the call, follows it to its end, and checks the expectations; an error is a failure
  // that made the checks impossible.
  absl::Status Call(const Scenario& s, const std::string& persona, Outcome& out) {
    auto dispatcher = DispatcherService::NewStub(ctx_.Channel("dispatcher"));
    parley::v1::CreateCallRequest req;
    req.set_to(s.to.empty() ? FreshNumber() : s.to);
    req.set_agent(s.agent);
    req.set_campaign(s.campaign);
    // One attempt, and no waiting for a calling window: a test wants its answer now.
    req.set_max_attempts(1);
    req.set_reject_outside_window(true);
    nlohmann::json context = s.context;
    context["persona"] = persona;
    PARLEY_ASSIGN_OR_RETURN(*req.mutable_context(), json::JsonToStruct(context, "context"));
    parley::v1::Call call;
    grpc::Status created = dispatcher->CreateCall(ctx_.Call("dispatcher").get(), req, &call);
    Observed observed;
    if (!created.ok()) {
      // A refused call (DNC, outside the window) is recorded as rejected: a scenario may expect it.
      if (created.error_code() != grpc::StatusCode::FAILED_PRECONDITION ||
          s.expect.outcome != "rejected") {
        return absl::Status(RpcError(created).code(),
                            absl::StrCat("create call: ", RpcError(created).message()));
      }
      observed.outcome = "rejected";
      observed.ended_reason = created.error_message();
      out.failures = CheckScenario(s.expect, observed);
      return absl::OkStatus();
    }
    out.call_id = call.call_id();

    // Follow the call to its end, keeping the graph nodes it entered.
    parley::v1::WatchCallRequest watch;
    watch.set_call_id(call.call_id());
    auto watch_ctx = ctx_.Call("dispatcher", s.timeout);
    auto reader = dispatcher->WatchCall(watch_ctx.get(), watch);
    parley::v1::CallEvent event;
    while (reader->Read(&event)) {
      if (event.type() == "status") {
        auto error = event.detail().find("error");
        observed.error = error == event.detail().end() ? "" : error->second;
      }
      if (event.type() != "node") continue;
      if (auto node = event.detail().find("node"); node != event.detail().end())
        observed.nodes.push_back(node->second);
    }
    grpc::Status watched = reader->Finish();
    if (watched.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      parley::v1::CancelCallRequest cancel;
      cancel.set_call_id(call.call_id());
      cancel.set_reason("parleyctl test: scenario timed out");
      parley::v1::Call ignored;
      dispatcher->CancelCall(ctx_.Call("dispatcher").get(), cancel, &ignored);
      return absl::DeadlineExceededError(
          absl::StrFormat("timed out after %.0f s (call %s canceled)",
                          absl::ToDoubleSeconds(s.timeout), call.call_id()));
    }
    if (!watched.ok())
      return absl::UnavailableError(absl::StrCat("watch call: ", RpcError(watched).message()));
    parley::v1::GetCallRequest get;
    get.set_call_id(call.call_id());
    grpc::Status got = dispatcher->GetCall(ctx_.Call("dispatcher").get(), get, &call);
    if (!got.ok())
      return absl::UnavailableError(absl::StrCat("get call: ", RpcError(got).message()));
    observed.outcome = std::string(calls::StatusName(call.status()));
    observed.ended_reason = call.ended_reason();

    auto state = parley::v1::StateService::NewStub(ctx_.Channel("state"));
    if (!s.expect.transcript_contains.empty()) {
      parley::v1::GetTranscriptRequest treq;
      treq.set_call_id(call.call_id());
      parley::v1::GetTranscriptResponse turns;
      grpc::Status t = state->GetTranscript(ctx_.Call("state").get(), treq, &turns);
      if (!t.ok())
        return absl::UnavailableError(absl::StrCat("transcript: ", RpcError(t).message()));
      for (const auto& turn : turns.turns()) {
        observed.transcript.emplace_back(turn.role() == parley::v1::ROLE_AGENT    ? "agent"
                                         : turn.role() == parley::v1::ROLE_CALLEE ? "callee"
                                                                                  : "system",
                                         turn.interrupted() ? turn.heard_text() : turn.text());
      }
    }
    if (!s.expect.state.empty()) {
      parley::v1::GetStateRequest sreq;
      sreq.set_phone(call.to());
      sreq.set_agent(call.agent());
      parley::v1::ConversationState conv;
      grpc::Status g = state->GetState(ctx_.Call("state").get(), sreq, &conv);
      if (g.ok()) {
        observed.state = json::StructToJson(conv.state());
      } else if (g.error_code() != grpc::StatusCode::NOT_FOUND) {
        return absl::UnavailableError(absl::StrCat("state: ", RpcError(g).message()));
      }
    }
    if (s.expect.dnc) {
      parley::v1::CheckDncRequest dreq;
      dreq.set_number(call.to());
      dreq.set_campaign(s.campaign);
      parley::v1::CheckDncResponse dnc;
      grpc::Status d = parley::v1::ConfigService::NewStub(ctx_.Channel("config"))
                           ->CheckDnc(ctx_.Call("config").get(), dreq, &dnc);
      if (!d.ok()) return absl::UnavailableError(absl::StrCat("dnc: ", RpcError(d).message()));
      observed.dnc = dnc.blocked();
    }
    out.failures = CheckScenario(s.expect, observed);
    return absl::OkStatus();
  }

  Context& ctx_;
};

absl::Status Test(Context& ctx) {
  const Args& args = ctx.args();
  const std::string path = args.Positional(1);
  if (path.empty()) return absl::InvalidArgumentError("test: FILE or DIR of scenarios is required");
  int parallel = 1;
  if (args.Has("parallel") &&
      (!absl::SimpleAtoi(args.Flag("parallel"), &parallel) || parallel < 1 || parallel > 64)) {
    return absl::InvalidArgumentError("--parallel: want a number from 1 to 64");
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<Scenario> scenarios, LoadScenarios(path));
  if (const std::string only = args.Flag("run"); !only.empty()) {
    std::erase_if(scenarios, [&](const Scenario& s) { return s.name != only; });
    if (scenarios.empty())
      return absl::InvalidArgumentError(absl::StrCat("--run: no scenario named ", only));
  }

  std::vector<callee::Persona> used;
  PARLEY_ASSIGN_OR_RETURN(
      std::vector<std::string> persona_names,
      ResolvePersonas(scenarios, args.Flag("personas", "deploy/examples/personas"), used));
  callee::PersonaEndpointOptions options;
  if (NeedsRecognizer(used)) {
    // Keyed replies need the agent's words; without a recogniser they go in order.
    absl::StatusOr<callee::Recognizer> recognizer = MakeRecognizer();
    if (recognizer.ok()) {
      options.recognizer = *std::move(recognizer);
    } else {
      ctx.err() << "parleyctl: " << recognizer.status().message()
                << "; keyed persona replies go in order\n";
    }
  }
  // Calls that match no scenario (another client's, a stale retry) are declined.
  callee::Persona stranger;
  stranger.name = "parleyctl-test-stranger";
  stranger.answer = callee::AnswerMode::kDecline;
  stranger.ring_ms = 0;
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<callee::PersonaEndpoint> endpoint,
                          callee::PersonaEndpoint::Create(stranger, std::move(options)));
  for (const callee::Persona& p : used) PARLEY_RETURN_IF_ERROR(endpoint->AddNamedPersona(p));

  const std::string listen = args.Flag("phone-listen", "127.0.0.1:50060");
  grpcx::GrpcServer server({.address = listen, .log_requests = false});
  server.AddService(endpoint.get(), "parley.v1.MediaEndpoint");
  if (absl::Status s = server.Start(); !s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "--phone-listen ", listen, ": ", s.message(),
        " (is `parleyctl phone` running there? stop it, or pass another --phone-listen that the "
        "agents' trunk dials)"));
  }
  server.health().SetAll(true);

  const bool table = ctx.output() == "table";
  absl::Mutex out_mu;
  std::vector<Outcome> outcomes(scenarios.size());
  std::atomic<size_t> next{0};
  for (const char* service : {"dispatcher", "state", "config"}) ctx.Channel(service);
  Runner runner(ctx);
  auto work = [&] {
    for (size_t i = next++; i < scenarios.size(); i = next++) {
      outcomes[i] = runner.Run(scenarios[i], persona_names[i]);
      if (!table) continue;
      absl::MutexLock lock(&out_mu);
      const Outcome& o = outcomes[i];
      if (o.passed) {
        ctx.out() << absl::StrFormat("PASS %s (%.1f s)", o.name, o.seconds) << std::endl;
      } else {
        ctx.out() << "FAIL " << o.name << ": " << absl::StrJoin(o.failures, "; ") << std::endl;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::min<int>(parallel, scenarios.size()); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  endpoint->HangUpAll();
  endpoint->WaitUntil([&](const auto&) { return endpoint->LiveCalls() == 0; }, absl::Seconds(5));
  server.Shutdown();

  int passed = 0;
  nlohmann::json results = nlohmann::json::array();
  for (const Outcome& o : outcomes) {
    passed += o.passed ? 1 : 0;
    results.push_back({{"name", o.name},
                       {"passed", o.passed},
                       {"seconds", o.seconds},
                       {"call_id", o.call_id},
                       {"failures", o.failures}});
  }
  const int failed = static_cast<int>(outcomes.size()) - passed;
  ctx.PrintJson({{"passed", passed}, {"failed", failed}, {"scenarios", results}},
                [&] { ctx.out() << passed << " passed, " << failed << " failed\n"; });
  if (failed > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(failed, " of ", outcomes.size(), " scenarios failed"));
  }
  return absl::OkStatus();
}

Registrar registrar({
    {{"test"},
     "test FILE|DIR [--personas DIR] [--phone-listen ADDR] [--parallel N] [--run NAME]",
     "run agent test scenarios (kind: scenario) against the stack, playing the callee; prints "
     "PASS/FAIL per scenario and exits 0 only if all pass",
     Test},
});

}  // namespace
}  // namespace parley::cli
