// Fuzzes the receive side of the media protocol (media.proto), as both ends run it: the worker's
// media leg (services/worker/media_call_leg.cc) and the simulated callee take the peer's sample
// rate from its Answer / Invite and feed every Audio message to an AudioReceiver
// (audio_stream.h), whose timestamps, payloads and rates all come from the network.
//
// Input: two bytes of sender rate (8000 + value % 40001 Hz, so rates libopus cannot decode and
// the resampler's odd ratios are reached too), then records until the input ends:
//   'M' len:u16 bytes        a serialized MediaMessage, handled as the worker does (an Answer
//                            (re)creates the receiver at its rate, Audio is received);
//   'R' ts:u64 len:u8 bytes  an Audio message with that timestamp and raw payload;
//   other b, delta:u16       a real Opus frame of a tone from an AudioSender at the sender rate
//                            (when it is an Opus rate), timestamped `delta` samples after the
//                            previous one — valid packets with holes, duplicates and reordering.
// Receive must never crash, throw or hand back anything but whole 20 ms frames at 16 kHz.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/audio/opus_codec.h"
#include "common/media/audio_stream.h"
#include "google/protobuf/stubs/logging.h"

namespace {

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
  bool Has(size_t n) const { return size - pos >= n; }
  uint64_t Uint(size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(data[pos + i]) << (8 * i);
    pos += bytes;
    return v;
  }
  std::string Bytes(size_t n) {
    n = std::min(n, size - pos);
    std::string s(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    return s;
  }
};

void Receive(parley::media::AudioReceiver* receiver, const parley::v1::Audio& audio) {
  if (receiver == nullptr) return;
  for (const parley::audio::PcmFrame& f : receiver->Receive(audio)) {
    if (f.sample_rate != parley::audio::kPipelineRate ||
        f.samples.size() != static_cast<size_t>(parley::audio::kFrameSamples)) {
      std::fprintf(stderr, "bad frame: %d Hz, %zu samples\n", f.sample_rate, f.samples.size());
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Parsing a message with invalid UTF-8 in a string field is an expected failure; protobuf's log
  // line for each one would drown the fuzzer's own output.
  [[maybe_unused]] static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  Reader in{data, size};
  if (!in.Has(2)) return 0;
  const int rate = 8000 + static_cast<int>(in.Uint(2) % 40001);
  auto created = parley::media::AudioReceiver::Create(rate);
  if (!created.ok()) std::abort();  // every rate in [8000, 48000] is accepted
  std::unique_ptr<parley::media::AudioReceiver> receiver = *std::move(created);

  std::unique_ptr<parley::media::AudioSender> sender;
  if (parley::audio::IsOpusRate(rate)) sender = *parley::media::AudioSender::Create(rate);
  std::vector<int16_t> tone(sender != nullptr ? sender->frame_samples() : 0);
  uint64_t ts = 0;
  int n = 0;

  while (in.Has(1)) {
    const uint8_t op = static_cast<uint8_t>(in.Uint(1));
    if (op == 'M') {
      if (!in.Has(2)) break;
      const std::string bytes = in.Bytes(in.Uint(2));
      parley::v1::MediaMessage message;
      if (!message.ParseFromString(bytes)) continue;
      if (message.has_answer()) {
        const int answer_rate = message.answer().sample_rate() > 0 ? message.answer().sample_rate()
                                                                   : parley::audio::kPipelineRate;
        auto r = parley::media::AudioReceiver::Create(answer_rate);
        if (r.ok()) receiver = *std::move(r);
      } else if (message.has_audio()) {
        Receive(receiver.get(), message.audio());
      }
    } else if (op == 'R') {
      if (!in.Has(9)) break;
      parley::v1::Audio audio;
      audio.set_timestamp_samples(in.Uint(8));
      audio.set_payload(in.Bytes(in.Uint(1)));
      Receive(receiver.get(), audio);
    } else {
      if (!in.Has(2)) break;
      ts += in.Uint(2);
      if (sender == nullptr) continue;
      for (size_t i = 0; i < tone.size(); ++i, ++n) {
        tone[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * n / rate));
      }
      auto payload = sender->EncodePayload(tone);
      if (!payload.ok()) std::abort();
      parley::v1::Audio audio;
      audio.set_timestamp_samples(ts);
      audio.set_payload(*payload);
      Receive(receiver.get(), audio);
    }
  }
  return 0;
}
