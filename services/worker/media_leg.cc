#include "services/worker/media_leg.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"
#include "common/json/struct_convert.h"
#include "common/media/audio_stream.h"
#include "services/worker/media_call_leg.h"

namespace parley::worker {

absl::StatusOr<std::string> GrpcTrunkAddress(const parley::v1::Resource& trunk) {
  nlohmann::json spec = json::StructToJson(trunk.spec());
  std::string kind = spec.value("kind", "");
  if (kind != "grpc") {
    return absl::UnimplementedError(
        absl::StrCat("trunk ", trunk.name(), ": kind \"", kind, "\" cannot be dialed yet"));
  }
  std::string address;
  if (spec.contains("grpc") && spec["grpc"].is_object()) {
    address = spec["grpc"].value("address", "");
  }
  if (address.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trunk ", trunk.name(), ": grpc.address: empty"));
  }
  return address;
}

std::shared_ptr<grpc::Channel> GrpcTelephony::ChannelFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& channel = channels_[address];
  if (channel == nullptr) {
    // Short reconnect backoff (MakeChannel): with gRPC's default (1 s growing to 2 min), a callee
    // endpoint that was down for one dial failed every dial after it as trunk_error for minutes.
    channel = grpcx::MakeChannel({.address = address});
  }
  return channel;
}

absl::StatusOr<std::unique_ptr<CallLeg>> GrpcTelephony::Dial(const DialRequest& request,
                                                             const parley::v1::Resource& trunk) {
  absl::StatusOr<std::string> address = GrpcTrunkAddress(trunk);
  if (!address.ok()) return address.status();
  return DialAddress(request, *address);
}

absl::StatusOr<std::unique_ptr<CallLeg>> GrpcTelephony::DialAddress(const DialRequest& request,
                                                                    const std::string& address) {
  if (request.listener == nullptr) return absl::InvalidArgumentError("listener: required");
  if (request.to.empty()) return absl::InvalidArgumentError("to: required");
  auto sender = media::AudioSender::Create(
      audio::kPipelineRate, audio::kFrameMs,
      {.opus = options_.opus, .cache = options_.opus_cache_bytes > 0 ? &cache_ : nullptr});
  if (!sender.ok()) return sender.status();
  return StartMediaCallLeg(ChannelFor(address), request, *std::move(sender), scheduler_,
                           options_.queue);
}

}  // namespace parley::worker
