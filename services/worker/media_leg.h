// Telephony over the gRPC media protocol (media.proto, trunk kind "grpc"): the worker is the
// client of the callee's MediaEndpoint server; one Call stream per leg.
//
// Mapping of the protocol to leg events:
//   Ringing                   → kRinging (once)
//   Answer                    → kAnswered (the callee's rate; its audio is resampled to 16 kHz)
//   Reject BUSY / NO_ANSWER / DECLINED / INVALID_NUMBER / UNAVAILABLE or unset
//                             → kBusy / kNoAnswer / kDeclined / kFailed invalid_number /
//                               kFailed trunk_error
//   no Answer within the ring timeout → Hangup(CANCELED, "ring_timeout") sent, kNoAnswer
//                                       (reason "ring_timeout")
//   Hangup before Answer      → kDeclined ("callee_hangup") — the phone was hung up while ringing —
//                               or kFailed trunk_error when its reason is ERROR
//   Hangup after Answer       → kHangup ("callee_hangup")
//   the RPC ends otherwise    → kFailed trunk_error before answer, kMediaLost after
//   a message out of order    → the RPC is cancelled; kFailed / kMediaLost "protocol_error"
// The worker sends Invite (16 kHz Opus, 20 ms), then only Hangup until Answer; afterwards Audio
// frames paced in real time (frame_pacer.h), Mark, Clear, Dtmf and finally Hangup + half-close.
//
//   GrpcTelephony telephony;                     // one channel per endpoint address, shared
//   auto leg = telephony.Dial(request, config.trunk());
//   GrpcTelephony cheap({.opus = {.complexity = 1}, .opus_cache_bytes = 16 << 20});
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/audio/opus_codec.h"
#include "common/audio/opus_packet_cache.h"
#include "common/media/frame_scheduler.h"
#include "services/worker/media_call_leg.h"
#include "services/worker/telephony.h"

namespace parley::worker {

struct GrpcTelephonyOptions {
  // The encoder of the audio the legs send.
  audio::OpusEncoderOptions opus;
  // The legs share the Opus packets of audio they all send (greetings, scripted lines) up to
  // this many bytes; 0 encodes every frame of every call (media::AudioSenderOptions::cache).
  size_t opus_cache_bytes = 0;
  // Threads that send every leg's audio (media::FrameScheduler); 0: one per core.
  int send_threads = 0;
  // How much of a leg's queued audio stays PCM; the rest is encoded ahead of sending.
  MediaLegQueueOptions queue;
};

class GrpcTelephony final : public Telephony {
 public:
  // The legs it dials must end before it is destroyed (they share its packet cache).
  explicit GrpcTelephony(GrpcTelephonyOptions options = {})
      : options_(options),
        cache_(options.opus_cache_bytes),
        scheduler_(std::make_shared<media::FrameScheduler>(options.send_threads)) {}

  // The scheduler that sends its legs' audio, for other telephonies of the process to share
  // (SipTelephonyOptions::scheduler): one set of sending threads per worker.
  std::shared_ptr<media::FrameScheduler> scheduler() const { return scheduler_; }

  // Hits and size of the shared packet cache (all zero without one).
  audio::OpusPacketCacheStats CacheStats() const { return cache_.stats(); }

  // Dials through a "grpc" trunk (TrunkSpec.grpc.address). UNIMPLEMENTED for "sip" trunks;
  // otherwise fails as Telephony::Dial says.
  absl::StatusOr<std::unique_ptr<CallLeg>> Dial(const DialRequest& request,
                                                const parley::v1::Resource& trunk) override;

  // Dials the MediaEndpoint at `address` directly (tests, the simulated phone's self-check).
  absl::StatusOr<std::unique_ptr<CallLeg>> DialAddress(const DialRequest& request,
                                                       const std::string& address);

 private:
  std::shared_ptr<grpc::Channel> ChannelFor(const std::string& address);

  const GrpcTelephonyOptions options_;
  audio::OpusPacketCache cache_;
  // Shared with the legs (StartMediaCallLeg).
  const std::shared_ptr<media::FrameScheduler> scheduler_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

// The address of a "grpc" trunk. INVALID_ARGUMENT when the spec has no grpc.address;
// UNIMPLEMENTED for another kind.
absl::StatusOr<std::string> GrpcTrunkAddress(const parley::v1::Resource& trunk);

}  // namespace parley::worker
