// Internal to the worker: the CallLeg of one MediaEndpoint.Call stream (media_leg.h documents
// the protocol mapping). Two threads per leg: one reads the callee's messages (and delivers
// decoded audio and events to the listener), one writes the Invite, enforces the ring timeout and
// sends queued audio paced in real time (common/media/frame_pacer.h).
//
//   std::unique_ptr<CallLeg> leg = StartMediaCallLeg(channel, request, std::move(sender));
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "common/media/audio_stream.h"
#include "services/worker/telephony.h"

namespace parley::worker {

// Opens the stream to the MediaEndpoint behind `channel` and sends Invite, on the leg's own
// threads: returns at once and never fails (an unreachable endpoint ends the leg with
// kFailed/trunk_error). `sender` encodes our audio (16 kHz).
std::unique_ptr<CallLeg> StartMediaCallLeg(std::shared_ptr<grpc::Channel> channel,
                                           const DialRequest& request,
                                           std::unique_ptr<media::AudioSender> sender);

}  // namespace parley::worker
