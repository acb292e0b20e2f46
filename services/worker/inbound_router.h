// InboundRouter: decides on calls that come in to this worker (inbound.h; issue 10). For each:
//   1. the inbound route of the number called (config-api, kind inbound_route, by `number`);
//      none → 404; config-api unreachable → 503;
//   2. a slot on this worker (Worker::ReserveInbound); full or draining → 503;
//   3. the call, created through the dispatcher (CreateCall, direction INBOUND, to = the number
//      called, from = the caller, the route's agent and campaign, one attempt); refused → 503
//      (404 when the route's agent or campaign is gone);
//   4. answered (200 OK) and run on this worker (Worker::RunInbound) with the leg already up:
//      the session records it like a dialed call (events, transcript, outcome).
// Decisions run on a thread of the router's own, in arrival order.
//
//   InboundRouter router(&worker, InboundRoutes::FromConfigApi(config_opts),
//                        InboundRouter::DispatcherCreator(dispatcher_opts));
//   sip->SetInboundHandler(&router);
//   … sip->SetInboundHandler(nullptr) before the router goes.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/client.h"
#include "parley/v1/dispatcher.pb.h"
#include "services/worker/inbound.h"
#include "services/worker/worker.h"

namespace parley::worker {

struct InboundRoute {
  std::string name;
  std::string number;  // E.164
  std::string agent;
  std::string campaign;  // "" = none
};

// Looks a number's inbound route up: nullopt when there is none; UNAVAILABLE (or another error)
// when the routes cannot be read.
using InboundRouteLookup =
    std::function<absl::StatusOr<std::optional<InboundRoute>>(const std::string& number)>;

// Creates a call (dispatcher CreateCall): the created call, or the gRPC status as an absl::Status.
using InboundCallCreator =
    std::function<absl::StatusOr<parley::v1::Call>(const parley::v1::CreateCallRequest&)>;

// Routes from config-api (ListResources of kind inbound_route), read again after `ttl` —
// a route applied with parleyctl works within that long.
InboundRouteLookup InboundRoutesFromConfigApi(grpcx::ClientOptions options,
                                              absl::Duration ttl = absl::Seconds(10));
// CreateCall on the dispatcher at options.address.
InboundCallCreator InboundCallsThroughDispatcher(grpcx::ClientOptions options);

class InboundRouter final : public InboundCallHandler {
 public:
  InboundRouter(Worker* worker, InboundRouteLookup routes, InboundCallCreator create);
  // Refuses (503) what still waits, then stops the thread.
  ~InboundRouter() override;

  void OnIncomingCall(std::unique_ptr<IncomingCall> call) override;

 private:
  void Loop();
  void Decide(IncomingCall& call);

  Worker* const worker_;
  const InboundRouteLookup routes_;
  const InboundCallCreator create_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<IncomingCall>> waiting_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace parley::worker
