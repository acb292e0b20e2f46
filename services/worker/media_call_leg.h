// Internal to the worker: the CallLeg of one MediaEndpoint.Call stream (media_leg.h documents
// the protocol mapping). One thread per leg reads the callee's messages (and delivers decoded
// audio and events to the listener) after writing the Invite; the process's FrameScheduler
// (common/media/frame_scheduler.h) enforces the ring timeout and sends the queued audio paced in
// real time (common/media/frame_pacer.h), for every leg from a thread per core.
//
//   std::unique_ptr<CallLeg> leg =
//       StartMediaCallLeg(channel, request, std::move(sender), scheduler);
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>

#include "common/media/audio_stream.h"
#include "common/media/frame_scheduler.h"
#include "services/worker/telephony.h"

namespace parley::worker {

// How the leg keeps the audio queued for sending. Frames are queued as PCM and encoded when sent;
// while more than `keep_pcm_frames` (~0.5 s) of the queue is PCM, the scheduler's thread encodes
// the oldest PCM frames ahead of time — in queue order, as the leg's one encoder must —
// `encode_ahead` of them after each frame it sends, so a long reply does not sit in memory as
// PCM (640 bytes a frame against ~60 for its packet) and a short one is never encoded ahead. The
// speaking thread that queues the audio never encodes, and the first frames of a reply are never
// waiting for an encoding burst. encode_ahead = 0 keeps everything as PCM until sent.
struct MediaLegQueueOptions {
  int64_t keep_pcm_frames = 25;
  int encode_ahead = 3;
};

// Opens the stream to the MediaEndpoint behind `channel` and sends Invite, on the leg's own
// threads: returns at once and never fails (an unreachable endpoint ends the leg with
// kFailed/trunk_error). `sender` encodes our audio (16 kHz); `scheduler` sends it (the leg keeps
// it alive).
std::unique_ptr<CallLeg> StartMediaCallLeg(std::shared_ptr<grpc::Channel> channel,
                                           const DialRequest& request,
                                           std::unique_ptr<media::AudioSender> sender,
                                           std::shared_ptr<media::FrameScheduler> scheduler,
                                           MediaLegQueueOptions queue = {});

}  // namespace parley::worker
