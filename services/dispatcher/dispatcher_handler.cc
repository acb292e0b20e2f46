#include "services/dispatcher/dispatcher_handler.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/status.h"
#include "services/dispatcher/call_conversion.h"

namespace parley::dispatcher {
namespace {

using parley::v1::CallStatus;

constexpr size_t kMaxCallIdLength = 128;
constexpr size_t kMaxCancelReasonLength = 512;
// ListCalls: store pages read at most per request while filling a page filtered by agent.
constexpr int kMaxListRounds = 20;

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An inbound call is created by the worker whose SIP listener the caller is connected to; it
// runs only there. Created by anyone else it would be queued with no worker ever to run it.
absl::Status CheckDirectionAllowed(const grpcx::Principal& who,
                                   const parley::v1::CreateCallRequest& request) {
  if (request.direction() != parley::v1::DIRECTION_INBOUND || who.HasScope(grpcx::kScopeService)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "direction: inbound calls are created by the workers' SIP listener (scope service)");
}

absl::Status CheckCallId(std::string_view id) {
  if (id.empty()) return InvalidField("call_id", "required");
  if (id.size() > kMaxCallIdLength) return InvalidField("call_id", "too long");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEventId(std::string_view field, std::string_view id) {
  // Each part is a Redis stream id's 64-bit number: digits only, and small enough (Redis answers
  // a larger one with an error, which would reach the caller as INTERNAL).
  auto number = [](std::string_view part) {
    uint64_t value = 0;
    return AllDigits(part) && absl::SimpleAtoi(AbslView(part), &value);
  };
  size_t dash = id.find('-');
  bool ok = dash == std::string_view::npos
                ? number(id)
                : number(id.substr(0, dash)) && number(id.substr(dash + 1));
  if (!ok) return InvalidField(field, "not an event id (like \"1700000000000-0\")");
  return absl::OkStatus();
}

DispatcherHandler::DispatcherHandler(DispatcherDeps deps, grpcx::TokenAuth auth,
                                     DispatcherOptions options)
    : deps_(deps),
      auth_(std::move(auth)),
      options_(std::move(options)),
      admitter_(deps.store, deps.config, options_.admission),
      workers_(deps.redis, deps.store->options().prefix),
      slow_(options_.slow_threads) {}

grpc::ServerUnaryReactor* DispatcherHandler::CreateCall(
    grpc::CallbackServerContext* context, const parley::v1::CreateCallRequest* request,
    parley::v1::Call* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<grpcx::Principal> who = auth_.Authorize(*context, grpcx::kScopeCalls);
  if (!who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return reactor;
  }
  if (absl::Status allowed = CheckDirectionAllowed(*who, *request); !allowed.ok()) {
    reactor->Finish(ToGrpcStatus(allowed));
    return reactor;
  }
  admitter_.AdmitAsync(
      *request, &slow_, [reactor, request, response](absl::StatusOr<Admission> admitted) {
        if (!admitted.ok()) return reactor->Finish(ToGrpcStatus(admitted.status()));
        // A new call holds the request's context as sent: no need to parse it
        // back from JSON.
        *response = ToProtoCall(admitted->call, admitted->created ? &request->context() : nullptr);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::Status DispatcherHandler::CreateCalls(grpc::ServerContext* context,
                                            const parley::v1::CreateCallsRequest* request,
                                            parley::v1::CreateCallsResponse* response) {
  absl::StatusOr<grpcx::Principal> who = auth_.Authorize(*context, grpcx::kScopeCalls);
  if (!who.ok()) return ToGrpcStatus(who.status());
  const grpcx::Principal& principal = *who;
  const int n = request->calls_size();
  if (n == 0) return ToGrpcStatus(InvalidField("calls", "empty batch"));
  if (n > options_.max_batch) {
    return ToGrpcStatus(InvalidField(
        "calls", absl::StrCat("at most ", options_.max_batch, " calls per batch, got ", n)));
  }
  std::vector<absl::StatusOr<Admission>> results(n, absl::CancelledError("not started"));
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < n; i = next++) {
      if (context->IsCancelled()) {
        results[i] = absl::CancelledError("the batch was cancelled before this row");
        continue;
      }
      absl::Status allowed = CheckDirectionAllowed(principal, request->calls(i));
      results[i] =
          allowed.ok() ? admitter_.Admit(request->calls(i)) : absl::StatusOr<Admission>(allowed);
    }
  };
  const int threads = std::clamp(std::min(options_.batch_threads, n), 1, 64);
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  int created = 0;
  for (int i = 0; i < n; ++i) {
    parley::v1::CreateCallResult* row = response->add_results();
    row->set_index(i);
    if (results[i].ok()) {
      // Without the context, which the row itself holds: with it the answer could be larger
      // than the request, and a client whose receive limit (gRPC's default is 4 MiB) the
      // request just fitted would get an error for a batch that was created.
      static const google::protobuf::Struct kNoContext;
      *row->mutable_call() = ToProtoCall(results[i]->call, &kNoContext);
      ++created;
    } else {
      row->mutable_error()->set_code(static_cast<int>(results[i].status().code()));
      row->mutable_error()->set_message(std::string(results[i].status().message()));
    }
  }
  response->set_created(created);
  response->set_failed(n - created);
  log::Info("batch admitted", {{"rows", absl::StrCat(n)}, {"created", absl::StrCat(created)}});
  return grpc::Status::OK;
}

grpc::Status DispatcherHandler::GetCall(grpc::ServerContext* context,
                                        const parley::v1::GetCallRequest* request,
                                        parley::v1::Call* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeCalls);
  if (absl::Status s = CheckCallId(request->call_id()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<calls::CallRecord> call = deps_.store->Get(request->call_id());
  if (!call.ok()) return ToGrpcStatus(call.status());
  *response = ToProtoCall(*call);
  return grpc::Status::OK;
}

grpc::Status DispatcherHandler::ListCalls(grpc::ServerContext* context,
                                          const parley::v1::ListCallsRequest* request,
                                          parley::v1::ListCallsResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeCalls);
  std::vector<CallStatus> statuses;
  for (int i = 0; i < request->statuses_size(); ++i) {
    CallStatus s = request->statuses(i);
    if (s == parley::v1::CALL_STATUS_UNSPECIFIED || !parley::v1::CallStatus_IsValid(s)) {
      return ToGrpcStatus(InvalidField(absl::StrCat("statuses[", i, "]"), "not a call status"));
    }
    statuses.push_back(s);
  }
  int size = request->page().page_size();
  if (size < 0) return ToGrpcStatus(InvalidField("page.page_size", "must not be negative"));
  size = size == 0 ? 50 : std::min(size, 1000);

  std::string cursor = request->page().page_token();
  for (int round = 0; round < kMaxListRounds && response->calls_size() < size; ++round) {
    absl::StatusOr<calls::CallStore::Page> page =
        deps_.store->List(request->campaign(), statuses, size - response->calls_size(), cursor);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const calls::CallRecord& call : page->calls) {
      if (!request->agent().empty() && call.agent != request->agent()) continue;
      *response->add_calls() = ToProtoCall(call);
    }
    cursor = page->next_cursor;
    if (cursor.empty()) break;
  }
  response->set_next_page_token(cursor);
  return grpc::Status::OK;
}

grpc::Status DispatcherHandler::CancelCall(grpc::ServerContext* context,
                                           const parley::v1::CancelCallRequest* request,
                                           parley::v1::Call* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeCalls);
  if (absl::Status s = CheckCallId(request->call_id()); !s.ok()) return ToGrpcStatus(s);
  // The reason goes into the call's events, its webhooks and the logs as given.
  if (absl::Status s = CheckPrintable("reason", request->reason(), kMaxCancelReasonLength);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<calls::CallRecord> call = deps_.store->Cancel(
      request->call_id(), request->reason(), absl::ToUnixMillis(admitter_.Now()));
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (calls::IsTerminal(call->status) && call->status != parley::v1::CALL_STATUS_CANCELED) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("call_id: call ", call->call_id, " already ended (",
                     AbslView(calls::StatusName(call->status)), ")")));
  }
  log::Info("call cancel",
            {{"call_id", call->call_id}, {"status", std::string(calls::StatusName(call->status))}});
  *response = ToProtoCall(*call);
  return grpc::Status::OK;
}

grpc::Status DispatcherHandler::WatchCall(grpc::ServerContext* context,
                                          const parley::v1::WatchCallRequest* request,
                                          grpc::ServerWriter<parley::v1::CallEvent>* writer) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeCalls);
  if (absl::Status s = CheckCallId(request->call_id()); !s.ok()) return ToGrpcStatus(s);
  std::string after = request->after_event_id().empty() ? "0" : request->after_event_id();
  if (absl::Status s = CheckEventId("after_event_id", after); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = deps_.store->Get(request->call_id()).status(); !s.ok()) {
    return ToGrpcStatus(s);
  }
  const int block_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.watch_block));
  // The first read does not block: a watch resumed after the final event ends at once.
  bool first = true;
  while (!context->IsCancelled()) {
    absl::StatusOr<std::vector<calls::CallEvent>> events = watch_store().ReadEvents(
        request->call_id(), after, options_.watch_read_count, first ? 0 : std::max(block_ms, 1));
    first = false;
    if (!events.ok()) return ToGrpcStatus(events.status());
    if (events->empty()) {
      // Nothing after `after`: if the call has ended, the client has seen its final event.
      absl::StatusOr<calls::CallRecord> call = deps_.store->Get(request->call_id());
      if (absl::IsNotFound(call.status())) return grpc::Status::OK;
      if (!call.ok()) return ToGrpcStatus(call.status());
      if (calls::IsTerminal(call->status)) return grpc::Status::OK;
      continue;
    }
    for (const calls::CallEvent& event : *events) {
      if (!writer->Write(ToProtoEvent(event))) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
      after = event.event_id;
      if (IsFinalEvent(event)) return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
}

grpc::Status DispatcherHandler::WatchEvents(grpc::ServerContext* context,
                                            const parley::v1::WatchEventsRequest* request,
                                            grpc::ServerWriter<parley::v1::CallEvent>* writer) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeCalls);
  std::string after = request->after_event_id();
  if (after.empty()) {
    absl::StatusOr<std::string> last = deps_.store->LastEventId();
    if (!last.ok()) return ToGrpcStatus(last.status());
    after = *last;
  } else if (absl::Status s = CheckEventId("after_event_id", after); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Send the headers now, so a client knows the stream is established before any event.
  writer->SendInitialMetadata();
  const int block_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.watch_block));
  while (!context->IsCancelled()) {
    absl::StatusOr<std::vector<calls::CallEvent>> events =
        watch_store().ReadAllEvents(after, options_.watch_read_count, std::max(block_ms, 1));
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const calls::CallEvent& event : *events) {
      after = event.event_id;
      if (!request->campaign().empty() && event.campaign != request->campaign()) continue;
      if (!writer->Write(ToProtoEvent(event))) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
}

grpc::Status DispatcherHandler::ListWorkers(grpc::ServerContext* context,
                                            const parley::v1::ListWorkersRequest* request,
                                            parley::v1::ListWorkersResponse* response) {
  // `calls` or `service` (which implies every scope).
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeCalls);
  absl::StatusOr<std::vector<parley::v1::WorkerInfo>> workers = workers_.List();
  if (!workers.ok()) return ToGrpcStatus(workers.status());
  for (parley::v1::WorkerInfo& w : *workers) *response->add_workers() = std::move(w);
  return grpc::Status::OK;
}

}  // namespace parley::dispatcher
