// parleyctl call create|get|list|cancel|watch and workers: calls through the dispatcher.
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/parleyctl/cli.h"
#include "common/calls/call_store.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"
#include "parley/v1/dispatcher.grpc.pb.h"

namespace parley::cli {
namespace {

using parley::v1::DispatcherService;

std::string StatusWord(parley::v1::CallStatus status) {
  return std::string(calls::StatusName(status));
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(t.seconds()),
                          absl::LocalTimeZone());
}

// --context '{"a":1}' or --context @file.json
absl::StatusOr<google::protobuf::Struct> ContextArg(const std::string& value) {
  std::string text = value;
  if (!value.empty() && value[0] == '@') {
    std::ifstream in(value.substr(1));
    if (!in)
      return absl::InvalidArgumentError(absl::StrCat("--context: cannot read ", value.substr(1)));
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  if (text.empty()) return google::protobuf::Struct();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("--context: must be a JSON object or @file holding one");
  }
  return json::JsonToStruct(j, "--context");
}

// --at 2026-11-21T15:00:00Z, or relative: +10m, +2h, +30s
absl::StatusOr<absl::Time> AtArg(const std::string& value) {
  absl::Duration d;
  if (!value.empty() && value[0] == '+' && absl::ParseDuration(value.substr(1), &d))
    return absl::Now() + d;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, value, &t, &err)) return t;
  return absl::InvalidArgumentError(
      absl::StrCat("--at: want RFC 3339 (2026-11-21T15:00:00Z) or +10m, not \"", value, "\""));
}

void CallTable(Context& ctx, const std::vector<parley::v1::Call>& list) {
  ctx.out() << std::left << std::setw(28) << "CALL" << std::setw(14) << "STATUS" << std::setw(20)
            << "REASON" << std::setw(16) << "TO" << std::setw(20) << "AGENT" << std::setw(8)
            << "ATTEMPT"
            << "CREATED\n";
  for (const auto& c : list) {
    ctx.out() << std::setw(28) << c.call_id() << std::setw(14) << StatusWord(c.status())
              << std::setw(20) << (c.ended_reason().empty() ? "-" : c.ended_reason())
              << std::setw(16) << c.to_masked() << std::setw(20) << c.agent() << std::setw(8)
              << absl::StrCat(c.attempt(), "/", c.max_attempts()) << TimeText(c.create_time())
              << "\n";
  }
}

void PrintEvent(Context& ctx, const parley::v1::CallEvent& e) {
  std::string when = absl::FormatTime("%H:%M:%S", absl::FromUnixSeconds(e.time().seconds()),
                                      absl::LocalTimeZone());
  if (e.type() == "turn") {
    auto role = e.detail().find("role");
    auto text = e.detail().find("text");
    ctx.out() << when << "  " << std::left << std::setw(7)
              << (role == e.detail().end() ? "" : role->second) << std::right
              << (text == e.detail().end() ? "" : text->second) << "\n";
    return;
  }
  if (e.type() == "node") {
    auto node = e.detail().find("node");
    ctx.out() << when << "  (node " << (node == e.detail().end() ? "?" : node->second) << ")\n";
    return;
  }
  if (e.type() != "status") {
    ctx.out() << when << "  (" << e.type() << ")\n";
    return;
  }
  ctx.out() << when << "  " << StatusWord(e.status());
  if (!e.ended_reason().empty()) ctx.out() << " (" << e.ended_reason() << ")";
  if (e.attempt() > 1) ctx.out() << " attempt " << e.attempt();
  if (auto retry = e.detail().find("retry_at"); retry != e.detail().end())
    ctx.out() << ", retry at " << retry->second;
  ctx.out() << "\n";
}

// Streams a call's events until the final one; returns the final call.
absl::StatusOr<parley::v1::Call> Watch(Context& ctx, const std::string& call_id, bool print) {
  auto stub = DispatcherService::NewStub(ctx.Channel("dispatcher"));
  parley::v1::WatchCallRequest req;
  req.set_call_id(call_id);
  req.set_after_event_id("0");
  auto call_ctx = ctx.Call("dispatcher", absl::Hours(4));
  auto reader = stub->WatchCall(call_ctx.get(), req);
  parley::v1::CallEvent event;
  while (reader->Read(&event)) {
    if (print) PrintEvent(ctx, event);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return RpcError(s);
  parley::v1::GetCallRequest get;
  get.set_call_id(call_id);
  parley::v1::Call call;
  grpc::Status g = stub->GetCall(ctx.Call("dispatcher").get(), get, &call);
  if (!g.ok()) return RpcError(g);
  return call;
}

absl::Status Finished(Context& ctx, const parley::v1::Call& call) {
  ctx.Print(call, [&] {
    ctx.out() << "call " << call.call_id() << " " << StatusWord(call.status());
    if (!call.ended_reason().empty()) ctx.out() << " (" << call.ended_reason() << ")";
    ctx.out() << "\n";
  });
  if (call.status() != parley::v1::CALL_STATUS_COMPLETED) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", call.call_id(), " ended ", StatusWord(call.status()),
                     call.ended_reason().empty() ? "" : " (" + call.ended_reason() + ")"));
  }
  return absl::OkStatus();
}

absl::Status Create(Context& ctx) {
  const Args& a = ctx.args();
  parley::v1::CreateCallRequest req;
  req.set_to(a.Flag("to"));
  req.set_agent(a.Flag("agent"));
  req.set_campaign(a.Flag("campaign"));
  req.set_from(a.Flag("from"));
  req.set_idempotency_key(a.Flag("idempotency-key"));
  if (req.to().empty() || req.agent().empty()) {
    return absl::InvalidArgumentError("call create: --to and --agent are required");
  }
  PARLEY_ASSIGN_OR_RETURN(*req.mutable_context(), ContextArg(a.Flag("context")));
  if (a.Has("at")) {
    PARLEY_ASSIGN_OR_RETURN(absl::Time at, AtArg(a.Flag("at")));
    req.mutable_schedule_at()->set_seconds(absl::ToUnixSeconds(at));
  }
  parley::v1::Call call;
  grpc::Status s = DispatcherService::NewStub(ctx.Channel("dispatcher"))
                       ->CreateCall(ctx.Call("dispatcher").get(), req, &call);
  if (!s.ok()) return RpcError(s);
  if (!a.Bool("wait")) {
    ctx.Print(call, [&] {
      ctx.out() << "call " << call.call_id() << " " << StatusWord(call.status()) << "\n";
    });
    return absl::OkStatus();
  }
  bool live = ctx.output() == "table";
  if (live)
    ctx.out() << "call " << call.call_id() << " to " << call.to_masked() << " with " << call.agent()
              << "\n";
  PARLEY_ASSIGN_OR_RETURN(parley::v1::Call final_call, Watch(ctx, call.call_id(), live));
  return Finished(ctx, final_call);
}

absl::Status GetCall(Context& ctx) {
  parley::v1::GetCallRequest req;
  req.set_call_id(ctx.args().Positional(2));
  if (req.call_id().empty()) return absl::InvalidArgumentError("call get: CALL_ID is required");
  parley::v1::Call call;
  grpc::Status s = DispatcherService::NewStub(ctx.Channel("dispatcher"))
                       ->GetCall(ctx.Call("dispatcher").get(), req, &call);
  if (!s.ok()) return RpcError(s);
  ctx.Print(call, [&] { CallTable(ctx, {call}); });
  return absl::OkStatus();
}

absl::Status ListCalls(Context& ctx) {
  parley::v1::ListCallsRequest req;
  req.set_campaign(ctx.args().Flag("campaign"));
  req.set_agent(ctx.args().Flag("agent"));
  if (std::string status = ctx.args().Flag("status"); !status.empty()) {
    auto parsed = calls::ParseStatus(status);
    if (!parsed)
      return absl::InvalidArgumentError(absl::StrCat("--status: unknown status \"", status, "\""));
    req.add_statuses(*parsed);
  }
  req.mutable_page()->set_page_size(std::stoi(ctx.args().Flag("limit", "50")));
  parley::v1::ListCallsResponse resp;
  grpc::Status s = DispatcherService::NewStub(ctx.Channel("dispatcher"))
                       ->ListCalls(ctx.Call("dispatcher").get(), req, &resp);
  if (!s.ok()) return RpcError(s);
  std::vector<parley::v1::Call> list(resp.calls().begin(), resp.calls().end());
  ctx.Print(resp, [&] { CallTable(ctx, list); });
  return absl::OkStatus();
}

absl::Status CancelCall(Context& ctx) {
  parley::v1::CancelCallRequest req;
  req.set_call_id(ctx.args().Positional(2));
  req.set_reason(ctx.args().Flag("reason", "canceled by operator"));
  if (req.call_id().empty()) return absl::InvalidArgumentError("call cancel: CALL_ID is required");
  parley::v1::Call call;
  grpc::Status s = DispatcherService::NewStub(ctx.Channel("dispatcher"))
                       ->CancelCall(ctx.Call("dispatcher").get(), req, &call);
  if (!s.ok()) return RpcError(s);
  ctx.Print(call, [&] {
    ctx.out() << "call " << call.call_id() << " " << StatusWord(call.status()) << "\n";
  });
  return absl::OkStatus();
}

absl::Status WatchCall(Context& ctx) {
  std::string id = ctx.args().Positional(2);
  if (id.empty()) return absl::InvalidArgumentError("call watch: CALL_ID is required");
  PARLEY_ASSIGN_OR_RETURN(parley::v1::Call call, Watch(ctx, id, ctx.output() == "table"));
  return Finished(ctx, call);
}

absl::Status Workers(Context& ctx) {
  parley::v1::ListWorkersRequest req;
  parley::v1::ListWorkersResponse resp;
  grpc::Status s = DispatcherService::NewStub(ctx.Channel("dispatcher"))
                       ->ListWorkers(ctx.Call("dispatcher").get(), req, &resp);
  if (!s.ok()) return RpcError(s);
  ctx.Print(resp, [&] {
    ctx.out() << std::left << std::setw(28) << "WORKER" << std::setw(20) << "HOST" << std::setw(10)
              << "CALLS" << std::setw(10) << "DRAINING"
              << "VERSION\n";
    for (const auto& w : resp.workers()) {
      ctx.out() << std::setw(28) << w.worker_id() << std::setw(20) << w.host() << std::setw(10)
                << absl::StrCat(w.active_calls(), "/", w.capacity()) << std::setw(10)
                << (w.draining() ? "yes" : "no") << w.version() << "\n";
    }
  });
  return absl::OkStatus();
}

Registrar registrar({
    {{"call", "create"},
     "call create --to NUM --agent A [--campaign C] [--context JSON|@file] [--from NUM] "
     "[--idempotency-key K] [--at TIME] [--wait]",
     "place a call; --wait follows it live and exits 0 only when it completes",
     Create},
    {{"call", "get"}, "call get CALL_ID", "one call", GetCall},
    {{"call", "list"},
     "call list [--campaign C] [--agent A] [--status S] [--limit N]",
     "recent calls",
     ListCalls},
    {{"call", "cancel"},
     "call cancel CALL_ID [--reason R]",
     "cancel a queued, scheduled or live call",
     CancelCall},
    {{"call", "watch"}, "call watch CALL_ID", "follow a call's events until it ends", WatchCall},
    {{"workers"}, "workers", "the worker pool: capacity, live calls, draining", Workers},
});

}  // namespace
}  // namespace parley::cli
