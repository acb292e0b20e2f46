#include "common/audio/opus_packet_cache.h"

namespace parley::audio {

std::optional<std::string> OpusPacketCache::Find(uint64_t key) const {
  absl::MutexLock lock(&mu_);
  auto found = packets_.find(key);
  if (found == packets_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return found->second;
}

void OpusPacketCache::Insert(uint64_t key, std::string_view packet) {
  const size_t cost = packet.size() + kEntryOverhead;
  absl::MutexLock lock(&mu_);
  if (bytes_ + cost > max_bytes_) return;
  if (packets_.emplace(key, std::string(packet)).second) bytes_ += cost;
}

OpusPacketCacheStats OpusPacketCache::stats() const {
  absl::MutexLock lock(&mu_);
  return {.hits = hits_,
          .misses = misses_,
          .entries = static_cast<int64_t>(packets_.size()),
          .bytes = static_cast<int64_t>(bytes_)};
}

}  // namespace parley::audio
