// parleyctl state get / transcript / probe.
#include <iomanip>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/parleyctl/cli.h"
#include "common/grpc/client.h"
#include "common/json/struct_convert.h"
#include "parley/v1/state.grpc.pb.h"

namespace parley::cli {
namespace {

absl::Status StateGet(Context& ctx) {
  parley::v1::GetStateRequest req;
  req.set_phone(ctx.args().Flag("phone"));
  req.set_agent(ctx.args().Flag("agent"));
  if (req.phone().empty() || req.agent().empty()) {
    return absl::InvalidArgumentError("state get: --phone and --agent are required");
  }
  parley::v1::ConversationState state;
  grpc::Status s = parley::v1::StateService::NewStub(ctx.Channel("state"))
                       ->GetState(ctx.Call("state").get(), req, &state);
  if (!s.ok()) return RpcError(s);
  ctx.Print(state, [&] { ctx.out() << json::StructToJson(state.state()).dump(2) << "\n"; });
  return absl::OkStatus();
}

absl::Status Transcript(Context& ctx) {
  parley::v1::GetTranscriptRequest req;
  req.set_call_id(ctx.args().Positional(1));
  if (req.call_id().empty()) return absl::InvalidArgumentError("transcript: CALL_ID is required");
  parley::v1::GetTranscriptResponse resp;
  grpc::Status s = parley::v1::StateService::NewStub(ctx.Channel("state"))
                       ->GetTranscript(ctx.Call("state").get(), req, &resp);
  if (!s.ok()) return RpcError(s);
  ctx.Print(resp, [&] {
    for (const auto& turn : resp.turns()) {
      std::string who = turn.role() == parley::v1::ROLE_AGENT    ? "agent"
                        : turn.role() == parley::v1::ROLE_CALLEE ? "callee"
                                                                 : "system";
      ctx.out() << std::setw(7) << absl::StrCat(turn.start_ms() / 1000.0) << "s  " << std::left
                << std::setw(7) << who << std::right << " "
                << (turn.interrupted() ? turn.heard_text() + " [interrupted]" : turn.text())
                << "\n";
    }
  });
  return absl::OkStatus();
}

// Health probe for container HEALTHCHECKs and scripts: exit 0 only when SERVING. With --alive, exit
// 0 when the health service answers at all (SERVING or NOT_SERVING): a liveness probe, which must
// not restart a server whose dependencies are down or which is draining.
absl::Status Probe(Context& ctx) {
  std::string address = ctx.args().Positional(1);
  if (address.empty()) return absl::InvalidArgumentError("probe: ADDRESS is required");
  auto health = grpcx::CheckHealth(grpcx::MakeChannel({.address = address}),
                                   ctx.args().Flag("service"), absl::Seconds(2));
  if (!health.ok()) return health.status();
  if (ctx.args().Bool("alive")) {
    ctx.out() << address << " ALIVE\n";
    return absl::OkStatus();
  }
  if (*health != grpcx::HealthStatus::kServing)
    return absl::UnavailableError(absl::StrCat(address, " is not serving"));
  ctx.out() << address << " SERVING\n";
  return absl::OkStatus();
}

Registrar registrar({
    {{"state", "get"},
     "state get --phone NUM --agent A",
     "a callee's conversation memory",
     StateGet},
    {{"transcript"}, "transcript CALL_ID", "the turns of a call", Transcript},
    {{"probe"},
     "probe ADDRESS [--service S] [--alive]",
     "exit 0 when a server's gRPC health is SERVING (--alive: when it answers at all)",
     Probe},
});

}  // namespace
}  // namespace parley::cli
