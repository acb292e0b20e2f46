// A process-wide store of Opus packets already encoded, so that audio a process sends again and
// again — a greeting, a scripted line, a goodbye, said the same way on every call — is encoded
// once per process instead of once per call (encoding is most of a voice worker's CPU).
//
// The cache only maps a 64-bit key to a packet; the key says what was encoded and how (the
// encoder's settings, the frame and the frames before it in the same run): AudioSender
// (common/media/audio_stream.h) builds it. Bounded by bytes: once full, new packets are not kept
// (the ones in it are the most repeated audio anyway — what every call says first).
//
//   OpusPacketCache cache(16 << 20);                     // shared by every sender of the process
//   if (std::optional<std::string> packet = cache.Find(key)) return *packet;
//   cache.Insert(key, encoded);
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace parley::audio {

struct OpusPacketCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t entries = 0;
  int64_t bytes = 0;  // packets plus a per-entry overhead estimate
};

class OpusPacketCache final {
 public:
  // Keeps at most about `max_bytes` of packets (0: keeps nothing, every Find misses).
  explicit OpusPacketCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  OpusPacketCache(const OpusPacketCache&) = delete;
  OpusPacketCache& operator=(const OpusPacketCache&) = delete;

  // The packet stored under `key`, or nullopt (counted as a miss).
  std::optional<std::string> Find(uint64_t key) const;
  // Stores `packet` under `key` unless the key is present or the cache is full.
  void Insert(uint64_t key, std::string_view packet);
  OpusPacketCacheStats stats() const;

 private:
  // flat_hash_map slot + std::string header and heap block, roughly.
  static constexpr size_t kEntryOverhead = 64;

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::string> packets_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace parley::audio
