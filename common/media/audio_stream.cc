#include "common/media/audio_stream.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace parley::media {

absl::StatusOr<std::unique_ptr<AudioSender>> AudioSender::Create(int sample_rate, int frame_ms,
                                                                 AudioSenderOptions options) {
  auto encoder = audio::OpusFrameEncoder::Create(sample_rate, options.opus);
  if (!encoder.ok()) return encoder.status();
  return std::unique_ptr<AudioSender>(new AudioSender(
      *std::move(encoder), sample_rate, audio::SamplesPerFrame(sample_rate, frame_ms), options));
}

absl::StatusOr<std::string> AudioSender::EncodePayload(std::span<const int16_t> samples,
                                                       bool new_run) {
  if (static_cast<int>(samples.size()) != frame_samples_) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio: a frame is ", frame_samples_, " samples, got ", samples.size()));
  }
  if (options_.cache != nullptr) return EncodeCached(samples, new_run);
  return encoder_->Encode(samples);
}

absl::StatusOr<std::string> AudioSender::EncodeCached(std::span<const int16_t> samples,
                                                      bool new_run) {
  constexpr size_t kContext = 2;  // frames before this one that the key covers
  if (new_run) {
    encoder_->Reset();
    recent_.clear();
    recent_hashes_.clear();
    encoder_behind_ = false;
    run_frames_ = 0;
  }
  const uint64_t frame_hash = absl::Hash<std::string_view>()(std::string_view(
      reinterpret_cast<const char*>(samples.data()), samples.size() * sizeof(int16_t)));
  // A run's first frames are keyed as such (the encoder was reset there: exact); later ones by
  // the frames before them (the encoder's state is what those made of it, near enough).
  const bool at_start = run_frames_ < static_cast<int64_t>(kContext);
  uint64_t key = absl::HashOf(sample_rate_, options_.opus.bitrate, options_.opus.complexity,
                              at_start, recent_hashes_, frame_hash);
  auto remember = [&] {
    if (recent_.size() == kContext) {
      recent_.erase(recent_.begin());
      recent_hashes_.erase(recent_hashes_.begin());
    }
    recent_.emplace_back(samples.begin(), samples.end());
    recent_hashes_.push_back(frame_hash);
    ++run_frames_;
  };
  if (std::optional<std::string> packet = options_.cache->Find(key)) {
    encoder_behind_ = true;
    remember();
    return *std::move(packet);
  }
  if (encoder_behind_) {
    // The frames just sent came from the cache: let the encoder hear them, so its prediction
    // continues from what the receiver decoded rather than from older audio.
    for (const std::vector<int16_t>& frame : recent_) {
      if (absl::StatusOr<std::string> ignored = encoder_->Encode(frame); !ignored.ok()) {
        return ignored.status();
      }
    }
    encoder_behind_ = false;
  }
  absl::StatusOr<std::string> packet = encoder_->Encode(samples);
  if (!packet.ok()) return packet.status();
  options_.cache->Insert(key, *packet);
  remember();
  return packet;
}

absl::StatusOr<parley::v1::Audio> AudioSender::Encode(std::span<const int16_t> samples) {
  auto packet = EncodePayload(samples);
  if (!packet.ok()) return packet.status();
  parley::v1::Audio audio;
  audio.set_payload(*std::move(packet));
  audio.set_seq(seq_++);
  audio.set_timestamp_samples(timestamp_);
  timestamp_ += frame_samples_;
  return audio;
}

parley::v1::Audio AudioSender::Stamp(std::string payload, bool new_run,
                                     std::chrono::steady_clock::time_point sent_at) {
  if (!first_sent_.has_value()) first_sent_ = sent_at;
  if (new_run) {
    // Whole frames of real time since the first frame; never backwards (a run that follows a
    // backlog stays contiguous).
    const double elapsed_s = std::chrono::duration<double>(sent_at - *first_sent_).count();
    const uint64_t real_frames = static_cast<uint64_t>(elapsed_s * sample_rate_ / frame_samples_);
    timestamp_ = std::max<uint64_t>(timestamp_, real_frames * frame_samples_);
  }
  parley::v1::Audio audio;
  audio.set_payload(std::move(payload));
  audio.set_seq(seq_++);
  audio.set_timestamp_samples(timestamp_);
  timestamp_ += frame_samples_;
  return audio;
}

absl::StatusOr<std::unique_ptr<AudioReceiver>> AudioReceiver::Create(int sender_rate, int out_rate,
                                                                     int frame_ms) {
  if (sender_rate < 8000 || sender_rate > 48000 || out_rate < 8000 || out_rate > 48000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audio: sample rates must be in [8000, 48000], got ", sender_rate, " → ", out_rate));
  }
  std::unique_ptr<AudioReceiver> r(new AudioReceiver());
  r->sender_rate_ = sender_rate;
  // Decode at the sender's own rate, so its timestamps count decoded samples one to one; a rate
  // libopus cannot produce (44.1 kHz) decodes at 48 kHz.
  r->decode_rate_ = audio::IsOpusRate(sender_rate) ? sender_rate : 48000;
  r->frame_ms_ = frame_ms;
  auto decoder = audio::OpusFrameDecoder::Create(r->decode_rate_);
  if (!decoder.ok()) return decoder.status();
  r->decoder_ = *std::move(decoder);
  if (r->decode_rate_ != out_rate) {
    auto resampler = audio::Resampler::Create(r->decode_rate_, out_rate);
    if (!resampler.ok()) return resampler.status();
    r->resampler_ = *std::move(resampler);
  }
  r->frames_ = std::make_unique<audio::FrameAssembler>(out_rate, frame_ms);
  return r;
}

void AudioReceiver::Emit(std::span<const int16_t> decoded, std::vector<audio::PcmFrame>& out) {
  if (resampler_ != nullptr) {
    std::vector<int16_t> converted = resampler_->Process(decoded);
    frames_->Push(converted);
  } else {
    frames_->Push(decoded);
  }
  while (auto frame = frames_->Pop()) out.push_back(*std::move(frame));
}

std::vector<audio::PcmFrame> AudioReceiver::Receive(const parley::v1::Audio& audio) {
  std::vector<audio::PcmFrame> out;
  const uint64_t ts = audio.timestamp_samples();
  const int frame_decode = audio::SamplesPerFrame(decode_rate_, frame_ms_);
  if (next_timestamp_.has_value()) {
    if (ts < *next_timestamp_) {
      ++stats_.late_or_duplicate;
      return out;
    }
    const uint64_t hole = ts - *next_timestamp_;  // sender samples
    const int64_t hole_ms = static_cast<int64_t>(hole * 1000 / sender_rate_);
    const int frame_sender = audio::SamplesPerFrame(sender_rate_, frame_ms_);
    if (hole > 0 && hole <= static_cast<uint64_t>(kConcealFrames * frame_sender)) {
      for (uint64_t done = 0; done + frame_sender / 2 < hole; done += frame_sender) {
        auto filler = decoder_->Conceal(frame_decode);
        if (filler.ok()) Emit(*filler, out);
        ++stats_.concealed_frames;
      }
    } else if (hole > 0 && hole_ms <= kMaxFillMs) {
      std::vector<int16_t> silence(static_cast<size_t>(hole_ms * decode_rate_ / 1000), 0);
      Emit(silence, out);
      stats_.filled_ms += hole_ms;
    }
  }
  next_timestamp_ = ts + audio::SamplesPerFrame(sender_rate_, frame_ms_);
  auto decoded = decoder_->Decode(audio.payload());
  if (!decoded.ok()) {
    ++stats_.corrupt;
    decoded = decoder_->Conceal(frame_decode);
    if (!decoded.ok()) return out;
  }
  ++stats_.frames;
  Emit(*decoded, out);
  return out;
}

}  // namespace parley::media
