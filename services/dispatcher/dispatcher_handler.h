// parley.v1.DispatcherService: the outbound call API — validate, admit, queue, schedule, watch,
// cancel (DESIGN.md, "An outbound call", "Call lifecycle", "Redis layout").
//
// The handler takes its dependencies in the constructor and reads no flags, env or files; main.cc
// wires it. Admission rules are in call_admission.h; the live state is calls::CallStore. Every RPC
// needs the `calls` scope (`service` implies it), ListWorkers included. Library statuses become
// gRPC statuses here and only here.
//
// Behaviour the proto leaves open, as decided here:
//   - CreateCalls admits its rows concurrently (`batch_threads` at a time); results stay in request
//     order. A client that cancels the batch stops the rows not yet started (they report
//     CANCELLED); rows already admitted stay admitted.
//   - ListCalls filters by agent after reading the store's campaign/status page, so a page may come
//     back short (PageRequest allows it); follow next_page_token.
//   - WatchCall ends with OK after the final terminal event, and also when it is resumed after that
//     event (nothing more will come) or the call expired from the live store meanwhile. Redis
//     trouble ends the stream with UNAVAILABLE; resume from the last event id.
//   - Watch streams block on `watch_store` (a CallStore over a pool of its own in main), so
//     long-lived watchers never starve CreateCall of Redis connections.
//
//   ConfigClient config(config_channel, {.rpc = {.token = service_token}});
//   DispatcherHandler handler({.store = &store, .redis = pool.get(), .watch_store = &watch_store,
//                              .config = &config},
//                             auth, {.admission = {.default_region = "US"}});
//   server.AddService(&handler, "parley.v1.DispatcherService");
#pragma once

#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/grpc/auth.h"
#include "common/redis/redis_pool.h"
#include "parley/v1/dispatcher.grpc.pb.h"
#include "services/dispatcher/call_admission.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/work_queue.h"
#include "services/dispatcher/worker_registry.h"

namespace parley::dispatcher {

struct DispatcherDeps {
  // Writes and short reads.
  calls::CallStore* store = nullptr;
  // The pool behind `store` (idempotency lookups, the worker registry).
  redis::RedisPool* redis = nullptr;
  // Blocking event reads of WatchCall/WatchEvents; null = `store`.
  calls::CallStore* watch_store = nullptr;
  ConfigClient* config = nullptr;
};

struct DispatcherOptions {
  AdmissionOptions admission;
  // CreateCalls: most rows per request, rows admitted at once.
  int max_batch = 10000;
  int batch_threads = 8;
  // Threads for CreateCall's blocking path (a spec not cached, overrides, the DNC fallback).
  int slow_threads = 8;
  // How long one blocking stream read waits before the watch loop checks for a cancelled client.
  absl::Duration watch_block = absl::Milliseconds(500);
  // Events read per stream read.
  int watch_read_count = 100;
};

// CreateCall is served with gRPC's callback API: its handler runs the checks and queues the
// Create for a shared script run, and the run's leader finishes the RPC — no thread waits on
// Redis per request (CallAdmitter::AdmitAsync). The other RPCs are synchronous.
class DispatcherHandler final : public parley::v1::DispatcherService::WithCallbackMethod_CreateCall<
                                    parley::v1::DispatcherService::Service> {
 public:
  DispatcherHandler(DispatcherDeps deps, grpcx::TokenAuth auth, DispatcherOptions options = {});

  grpc::ServerUnaryReactor* CreateCall(grpc::CallbackServerContext* context,
                                       const parley::v1::CreateCallRequest* request,
                                       parley::v1::Call* response) override;
  grpc::Status CreateCalls(grpc::ServerContext* context,
                           const parley::v1::CreateCallsRequest* request,
                           parley::v1::CreateCallsResponse* response) override;
  grpc::Status GetCall(grpc::ServerContext* context, const parley::v1::GetCallRequest* request,
                       parley::v1::Call* response) override;
  grpc::Status ListCalls(grpc::ServerContext* context, const parley::v1::ListCallsRequest* request,
                         parley::v1::ListCallsResponse* response) override;
  grpc::Status CancelCall(grpc::ServerContext* context,
                          const parley::v1::CancelCallRequest* request,
                          parley::v1::Call* response) override;
  grpc::Status WatchCall(grpc::ServerContext* context, const parley::v1::WatchCallRequest* request,
                         grpc::ServerWriter<parley::v1::CallEvent>* writer) override;
  grpc::Status WatchEvents(grpc::ServerContext* context,
                           const parley::v1::WatchEventsRequest* request,
                           grpc::ServerWriter<parley::v1::CallEvent>* writer) override;
  grpc::Status ListWorkers(grpc::ServerContext* context,
                           const parley::v1::ListWorkersRequest* request,
                           parley::v1::ListWorkersResponse* response) override;

 private:
  calls::CallStore& watch_store() { return deps_.watch_store ? *deps_.watch_store : *deps_.store; }

  DispatcherDeps deps_;
  grpcx::TokenAuth auth_;
  DispatcherOptions options_;
  CallAdmitter admitter_;
  WorkerRegistry workers_;
  // Declared last: destroyed first, running what is queued while everything it uses is alive.
  WorkQueue slow_;
};

// INVALID_ARGUMENT "<field>: …" unless `id` is a stream entry id ("1700000000000-0", or just the
// millisecond part). Exposed for tests.
absl::Status CheckEventId(std::string_view field, std::string_view id);

}  // namespace parley::dispatcher
