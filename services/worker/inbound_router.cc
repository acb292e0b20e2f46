#include "services/worker/inbound_router.h"

#include <map>

#include "common/log/log.h"
#include "common/status/status.h"
#include "parley/v1/config.grpc.pb.h"
#include "parley/v1/dispatcher.grpc.pb.h"

namespace parley::worker {
namespace {

std::string StringField(const google::protobuf::Struct& spec, const std::string& key) {
  auto found = spec.fields().find(key);
  return found != spec.fields().end() && found->second.has_string_value()
             ? found->second.string_value()
             : "";
}

// Every route, by number; refreshed when older than the TTL.
class ConfigApiRoutes final {
 public:
  ConfigApiRoutes(grpcx::ClientOptions options, absl::Duration ttl)
      : options_(std::move(options)),
        ttl_(ttl),
        stub_(parley::v1::ConfigService::NewStub(grpcx::MakeChannel(options_))) {}

  absl::StatusOr<std::optional<InboundRoute>> Find(const std::string& number) {
    absl::MutexLock lock(&mu_);
    if (absl::Now() >= read_at_ + ttl_) {
      absl::StatusOr<std::map<std::string, InboundRoute>> routes = ReadAll();
      if (routes.ok()) {
        routes_ = *std::move(routes);
        read_at_ = absl::Now();
      } else if (read_at_ == absl::InfinitePast()) {
        return routes.status();
      } else {
        log::Warn("inbound routes not refreshed", {{"error", routes.status().ToString()}});
      }
    }
    auto found = routes_.find(number);
    if (found == routes_.end()) return std::optional<InboundRoute>();
    return std::optional<InboundRoute>(found->second);
  }

 private:
  absl::StatusOr<std::map<std::string, InboundRoute>> ReadAll() {
    std::map<std::string, InboundRoute> out;
    parley::v1::ListResourcesRequest request;
    request.set_kind(parley::v1::RESOURCE_KIND_INBOUND_ROUTE);
    request.mutable_page()->set_page_size(1000);
    for (;;) {
      parley::v1::ListResourcesResponse response;
      auto context = grpcx::MakeContext(options_);
      grpc::Status status = stub_->ListResources(context.get(), request, &response);
      if (!status.ok()) return FromGrpcStatus(status);
      for (const parley::v1::Resource& r : response.resources()) {
        InboundRoute route{.name = r.name(),
                           .number = StringField(r.spec(), "number"),
                           .agent = StringField(r.spec(), "agent"),
                           .campaign = StringField(r.spec(), "campaign")};
        if (!route.number.empty()) out.emplace(route.number, std::move(route));
      }
      if (response.next_page_token().empty()) return out;
      request.mutable_page()->set_page_token(response.next_page_token());
    }
  }

  const grpcx::ClientOptions options_;
  const absl::Duration ttl_;
  std::unique_ptr<parley::v1::ConfigService::Stub> stub_;
  absl::Mutex mu_;
  std::map<std::string, InboundRoute> routes_ ABSL_GUARDED_BY(mu_);
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace

InboundRouteLookup InboundRoutesFromConfigApi(grpcx::ClientOptions options, absl::Duration ttl) {
  auto routes = std::make_shared<ConfigApiRoutes>(std::move(options), ttl);
  return [routes](const std::string& number) { return routes->Find(number); };
}

InboundCallCreator InboundCallsThroughDispatcher(grpcx::ClientOptions options) {
  std::shared_ptr<parley::v1::DispatcherService::Stub> stub =
      parley::v1::DispatcherService::NewStub(grpcx::MakeChannel(options));
  return [stub, options](
             const parley::v1::CreateCallRequest& request) -> absl::StatusOr<parley::v1::Call> {
    parley::v1::Call call;
    auto context = grpcx::MakeContext(options);
    grpc::Status status = stub->CreateCall(context.get(), request, &call);
    if (!status.ok()) return FromGrpcStatus(status);
    return call;
  };
}

InboundRouter::InboundRouter(Worker* worker, InboundRouteLookup routes, InboundCallCreator create)
    : worker_(worker), routes_(std::move(routes)), create_(std::move(create)) {
  thread_ = std::thread([this] { Loop(); });
}

InboundRouter::~InboundRouter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  std::deque<std::unique_ptr<IncomingCall>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(waiting_);
  }
  for (auto& call : left) call->Reject(503, "Service Unavailable");
}

void InboundRouter::OnIncomingCall(std::unique_ptr<IncomingCall> call) {
  absl::MutexLock lock(&mu_);
  if (stop_) return call->Reject(503, "Service Unavailable");
  waiting_.push_back(std::move(call));
}

void InboundRouter::Loop() {
  for (;;) {
    std::unique_ptr<IncomingCall> call;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !waiting_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      call = std::move(waiting_.front());
      waiting_.pop_front();
    }
    Decide(*call);
  }
}

void InboundRouter::Decide(IncomingCall& call) {
  absl::StatusOr<std::optional<InboundRoute>> route =
      call.to().empty() ? std::optional<InboundRoute>() : routes_(call.to());
  if (!route.ok()) {
    log::Warn("inbound routes unavailable", {{"error", route.status().ToString()}});
    return call.Reject(503, "Service Unavailable");
  }
  if (!route->has_value()) return call.Reject(404, "Not Found");
  const InboundRoute& r = **route;
  if (!worker_->ReserveInbound()) return call.Reject(503, "Service Unavailable");
  parley::v1::CreateCallRequest request;
  request.set_to(call.to());
  request.set_from(call.from());
  request.set_agent(r.agent);
  request.set_campaign(r.campaign);
  request.set_direction(parley::v1::DIRECTION_INBOUND);
  request.set_max_attempts(1);  // a caller is never called back by the retry policy
  absl::StatusOr<parley::v1::Call> created = create_(request);
  if (!created.ok()) {
    worker_->ReleaseInbound();
    log::Warn("inbound call not created",
              {{"route", r.name}, {"error", created.status().ToString()}});
    const bool gone = created.status().code() == absl::StatusCode::kNotFound;
    return call.Reject(gone ? 404 : 503, gone ? "Not Found" : "Service Unavailable");
  }
  std::unique_ptr<InboundLeg> leg = call.Answer(created->call_id());
  if (leg == nullptr) {  // answered or refused already
    worker_->ReleaseInbound();
    return;
  }
  worker_->RunInbound(created->call_id(), created->attempt(), std::move(leg));
}

}  // namespace parley::worker
