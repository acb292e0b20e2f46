// Both directions of the audio of one call leg over the gRPC media protocol (media.proto Audio):
// AudioSender turns PCM frames into numbered Opus frames; AudioReceiver turns the frames a peer
// sent back into a steady stream of PCM frames at the pipeline's rate.
//
// The receive path tolerates what a real network does to a stream: frames that arrive late or
// twice (timestamp already passed) are dropped; a short hole in the timestamps (a lost frame, up
// to kConcealFrames frames) is filled with Opus packet-loss concealment, a longer one (a sender
// that skipped silence) with silence up to kMaxFillMs; the sender's own rate is decoded and then
// resampled (speexdsp) to the output rate, so the consumer always gets whole 20 ms frames at 16 kHz
// whatever the peer speaks. Arrival jitter needs no buffer here: frames are handed on as they
// arrive, in order, and the consumer (VAD/STT) works on audio time, not on arrival time.
//
//   PARLEY_ASSIGN_OR_RETURN(auto sender, AudioSender::Create(16000));
//   // or, sharing the packets of repeated audio with the other senders of the process:
//   PARLEY_ASSIGN_OR_RETURN(auto sender, AudioSender::Create(16000, audio::kFrameMs,
//                                                            {.cache = &process_cache}));
//   PARLEY_ASSIGN_OR_RETURN(parley::v1::Audio msg, sender->Encode(frame.samples));
//   PARLEY_ASSIGN_OR_RETURN(auto receiver, AudioReceiver::Create(/*sender_rate=*/48000));
//   PARLEY_ASSIGN_OR_RETURN(std::vector<audio::PcmFrame> frames, receiver->Receive(msg));
//
// Neither class is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/audio/opus_codec.h"
#include "common/audio/opus_packet_cache.h"
#include "common/audio/pcm.h"
#include "common/audio/resampler.h"
#include "parley/v1/media.pb.h"

namespace parley::media {

struct AudioSenderOptions {
  audio::OpusEncoderOptions opus;
  // When set, EncodePayload looks each frame up here before encoding it (and stores what it
  // encodes), keyed by the encoder settings, the frame and up to two frames before it in the same
  // run; at the start of each run the encoder is reset, so the first frames of a run are exactly
  // what a fresh encoder makes of them. After a run of cached frames the encoder is brought up to
  // date by encoding the two frames before the first one it has to encode. Must outlive the
  // sender.
  audio::OpusPacketCache* cache = nullptr;
};

class AudioSender final {
 public:
  // Encodes mono frames of `frame_ms` at `sample_rate` (an Opus rate). INVALID_ARGUMENT otherwise.
  static absl::StatusOr<std::unique_ptr<AudioSender>> Create(int sample_rate,
                                                             int frame_ms = audio::kFrameMs,
                                                             AudioSenderOptions options = {});
  int sample_rate() const { return sample_rate_; }
  int frame_samples() const { return frame_samples_; }

  // One Audio message for exactly one frame of samples, numbered right after the previous one
  // (EncodePayload + Stamp with contiguous timestamps). INVALID_ARGUMENT when `samples` is not
  // one frame long; INTERNAL when the codec fails.
  absl::StatusOr<parley::v1::Audio> Encode(std::span<const int16_t> samples);

  // The Opus packet for one frame, not yet numbered; fails like Encode. `new_run`: the frame
  // starts a run (as for Stamp); with a cache, the encoder starts afresh there.
  absl::StatusOr<std::string> EncodePayload(std::span<const int16_t> samples, bool new_run = false);
  // Numbers a packet as it leaves at `sent_at` (steady clock): seq + 1, and a timestamp right
  // after the previous frame's — except for the first frame of a new run after the sender
  // paused (`new_run`, see FramePacer::starts_run), whose timestamp moves on by the time that
  // passed, so the receiver sees the pause as a hole. Never fails.
  parley::v1::Audio Stamp(std::string payload, bool new_run,
                          std::chrono::steady_clock::time_point sent_at);

 private:
  AudioSender(std::unique_ptr<audio::OpusFrameEncoder> encoder, int sample_rate, int frame_samples,
              AudioSenderOptions options)
      : encoder_(std::move(encoder)),
        options_(options),
        sample_rate_(sample_rate),
        frame_samples_(frame_samples) {}
  absl::StatusOr<std::string> EncodeCached(std::span<const int16_t> samples, bool new_run);

  std::unique_ptr<audio::OpusFrameEncoder> encoder_;
  const AudioSenderOptions options_;
  // With a cache: the last frames of the current run (oldest first, at most two) and their
  // hashes, and whether the encoder skipped frames that came from the cache.
  std::vector<std::vector<int16_t>> recent_;
  std::vector<uint64_t> recent_hashes_;
  bool encoder_behind_ = false;
  int64_t run_frames_ = 0;
  int sample_rate_;
  int frame_samples_;
  uint32_t seq_ = 0;
  uint64_t timestamp_ = 0;  // of the next frame
  std::optional<std::chrono::steady_clock::time_point> first_sent_;
};

struct ReceiveStats {
  int64_t frames = 0;             // Audio messages decoded
  int64_t late_or_duplicate = 0;  // dropped: timestamp already passed
  int64_t concealed_frames = 0;   // frames of loss concealment inserted
  int64_t filled_ms = 0;          // silence inserted for longer holes
  int64_t corrupt = 0;            // packets the decoder refused (replaced by concealment)
};

class AudioReceiver final {
 public:
  // Holes up to this many frames are concealed by the codec; longer ones are filled with silence.
  static constexpr int kConcealFrames = 3;
  // A hole longer than this is not filled at all (the stream resumes where the sender is).
  static constexpr int kMaxFillMs = 2000;

  // Receives frames of `frame_ms` that a peer encoded at `sender_rate` Hz and produces frames of
  // `frame_ms` at `out_rate` Hz. INVALID_ARGUMENT for a rate outside [8000, 48000].
  static absl::StatusOr<std::unique_ptr<AudioReceiver>> Create(int sender_rate,
                                                               int out_rate = audio::kPipelineRate,
                                                               int frame_ms = audio::kFrameMs);

  // The whole output frames that `audio` completes, in order (possibly none, possibly several
  // when a hole was filled). Never fails on bad input: a corrupt packet becomes concealment.
  std::vector<audio::PcmFrame> Receive(const parley::v1::Audio& audio);

  const ReceiveStats& stats() const { return stats_; }

 private:
  AudioReceiver() = default;
  void Emit(std::span<const int16_t> decoded, std::vector<audio::PcmFrame>& out);

  int sender_rate_ = 0;
  int decode_rate_ = 0;
  int frame_ms_ = audio::kFrameMs;
  std::unique_ptr<audio::OpusFrameDecoder> decoder_;
  std::unique_ptr<audio::Resampler> resampler_;  // null when decode_rate_ == out rate
  std::unique_ptr<audio::FrameAssembler> frames_;
  std::optional<uint64_t> next_timestamp_;  // in sender samples
  ReceiveStats stats_;
};

}  // namespace parley::media
