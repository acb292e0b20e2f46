// parleyctl phone: the simulated callee. Serves a PersonaEndpoint (common/callee) on --listen until
// SIGINT/SIGTERM and prints one line per thing that happens on each call.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <ostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cli/parleyctl/cli.h"
#include "cli/parleyctl/personas.h"
#include "cli/parleyctl/shell_audio.h"
#include "common/callee/persona_endpoint.h"
#include "common/grpc/lifecycle.h"
#include "common/grpc/server.h"
#include "common/status/status.h"

namespace parley::cli {
namespace {

using callee::CallEvent;

// One line for an event, as a person watching the phone wants to read it; "" to print nothing.
std::string Describe(const parley::v1::Invite& invite, const CallEvent& e) {
  const std::string& k = e.kind;
  if (k == "ringing") {
    return absl::StrCat(
        "ringing: call to ", invite.to(),
        invite.from().empty() ? "" : absl::StrCat(" from ", invite.from()),
        invite.agent().empty() ? "" : absl::StrCat(" (agent ", invite.agent(), ")"));
  }
  if (k == "answer") return e.text == "voicemail" ? "answered by the voicemail box" : "answered";
  if (k == "reject") return absl::StrCat("rejected: ", e.text);
  if (k == "callee_said") return absl::StrCat("callee: ", e.text);
  if (k == "callee_silent") return "callee: (says nothing)";
  if (k == "voicemail_beep") return "callee: (beep)";
  if (k == "agent_speech_end") return absl::StrFormat("agent spoke %.1f s", e.duration_ms / 1000.0);
  if (k == "agent_heard") return absl::StrCat("agent (recognised): ", e.text);
  if (k == "clear")
    return absl::StrFormat("agent cleared its audio (%d ms dropped)", e.duration_ms);
  if (k == "dtmf") return absl::StrCat("agent pressed ", e.text);
  if (k == "hangup_by_callee") return absl::StrCat("hang-up by the callee (", e.text, ")");
  if (k == "hangup_by_worker") return absl::StrCat("hang-up by the agent (", e.text, ")");
  if (k == "dropped") return "the call dropped (the worker went away)";
  if (k == "protocol_error") return absl::StrCat("protocol error: ", e.text);
  if (k == "recorded") return absl::StrCat("recorded to ", e.text);
  if (k == "record_failed") return absl::StrCat("recording failed: ", e.text);
  return "";  // agent_speech_start, mark: too chatty for a terminal
}

absl::Status Phone(Context& ctx) {
  const Args& args = ctx.args();
  const std::string persona_path = args.Flag("persona");
  const bool audio = args.Bool("audio");
  if (persona_path.empty() && !audio) {
    return absl::InvalidArgumentError(
        "phone: --persona FILE is required (or --audio for the sound card)");
  }
  if (!persona_path.empty() && audio) {
    return absl::InvalidArgumentError("phone: --persona and --audio do not go together");
  }
  const std::string listen = args.Flag("listen", "127.0.0.1:50060");
  const bool json = ctx.output() == "json";
  callee::Persona persona{.name = "audio", .ring_ms = 0};  // --audio: answers at once
  if (!audio) {
    PARLEY_ASSIGN_OR_RETURN(persona, callee::LoadPersonaFile(persona_path));
  }
  callee::PersonaEndpointOptions options;
  if (audio) {
    const std::string in_cmd = args.Flag("audio-in-cmd", kRecCommand);
    const std::string out_cmd = args.Flag("audio-out-cmd", kPlayCommand);
    if (absl::Status probe = ShellAudio::Probe(in_cmd, out_cmd); !probe.ok()) {
      return absl::Status(probe.code(), absl::StrCat("phone: --audio: ", probe.message()));
    }
    options.live_audio =
        [in_cmd,
         out_cmd](const parley::v1::Invite&) -> absl::StatusOr<std::unique_ptr<callee::LiveAudio>> {
      PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<ShellAudio> shell,
                              ShellAudio::Start(in_cmd, out_cmd));
      return std::unique_ptr<callee::LiveAudio>(std::move(shell));
    };
  }
  options.record_path = args.Flag("record");
  options.record_stereo = args.Bool("stereo");
  const bool keyed = !audio && NeedsRecognizer({persona});
#ifdef PARLEY_HAVE_POCKETSPHINX
  if (keyed && !args.Bool("no-recognizer")) {
    PARLEY_ASSIGN_OR_RETURN(options.recognizer, MakeRecognizer());
  }
#else
  if (keyed)
    ctx.err() << "parleyctl: no speech recogniser in this build; keyed replies go in order\n";
#endif
  auto out_mu = std::make_shared<absl::Mutex>();
  std::ostream* out = &ctx.out();
  options.on_event = [out, out_mu, json](const parley::v1::Invite& invite, const CallEvent& e) {
    std::string line;
    if (json) {
      line = nlohmann::json{{"call_id", invite.call_id()},
                            {"at_ms", e.at_ms},
                            {"event", e.kind},
                            {"text", e.text},
                            {"duration_ms", e.duration_ms}}
                 .dump();
    } else {
      const std::string what = Describe(invite, e);
      if (what.empty()) return;
      line = absl::StrFormat("%s  %-10s %7.1fs  %s",
                             absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()),
                             invite.call_id().substr(0, 10), e.at_ms / 1000.0, what);
    }
    absl::MutexLock lock(out_mu.get());
    *out << line << std::endl;
  };
  // Signals go to WaitForTerminationSignal, also in the threads started from here on.
  grpcx::BlockTerminationSignals();
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<callee::PersonaEndpoint> endpoint,
                          callee::PersonaEndpoint::Create(persona, std::move(options)));

  std::vector<std::string> named;
  if (const std::string dir = args.Flag("personas"); !dir.empty()) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<callee::Persona> more, LoadPersonaDir(dir));
    for (const callee::Persona& p : more) {
      PARLEY_RETURN_IF_ERROR(endpoint->AddNamedPersona(p));
      named.push_back(p.name);
    }
  }

  grpcx::GrpcServer server({.address = listen, .log_requests = false});
  server.AddService(endpoint.get(), "parley.v1.MediaEndpoint");
  PARLEY_RETURN_IF_ERROR(server.Start());
  server.health().SetAll(true);
  if (!json) {
    ctx.out() << "phone: listening on " << server.address();
    if (audio) {
      ctx.out() << " with the sound card (answers at once; speak into the microphone)";
    } else {
      ctx.out() << " as persona " << persona.name << " (" << callee::AnswerModeName(persona.answer)
                << ", " << persona.replies.size() << " replies)";
    }
    ctx.out() << (args.Flag("record").empty() ? "" : ", recording calls") << "; Ctrl-C to stop"
              << std::endl;
    if (!named.empty()) {
      ctx.out() << "phone: a call whose context has persona: NAME gets one of "
                << absl::StrJoin(named, ", ") << std::endl;
    }
  }
  grpcx::WaitForTerminationSignal();
  endpoint->HangUpAll();
  endpoint->WaitUntil([&](const auto&) { return endpoint->LiveCalls() == 0; }, absl::Seconds(5));
  server.Shutdown();
  if (!json) ctx.out() << "phone: stopped after " << endpoint->Calls().size() << " call(s)\n";
  return absl::OkStatus();
}

Registrar registrar({
    {{"phone"},
     "phone --persona FILE|--audio [--audio-in-cmd CMD] [--audio-out-cmd CMD] [--personas DIR] "
     "[--listen ADDR] [--record OUT.wav [--stereo]]",
     "a simulated callee: answers the agents' calls and talks as the persona says, or with "
     "--audio lets a person talk through the sound card (sox rec/play; the commands read/write "
     "raw 16 kHz s16le mono)",
     Phone},
});

}  // namespace
}  // namespace parley::cli
