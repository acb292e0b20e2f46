#include "common/media/frame_scheduler.h"

#include <algorithm>

#include "absl/time/time.h"

namespace parley::media {

FrameScheduler::FrameScheduler(int threads, Clock::duration early) : early_(early) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) shards_.push_back(std::make_unique<Shard>());
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->thread = std::thread([this, s] { Loop(*s); });
  }
}

FrameScheduler::~FrameScheduler() {
  for (auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    shard->stop = true;
  }
  for (auto& shard : shards_) shard->thread.join();
}

FrameScheduler::Slot FrameScheduler::Add(Client* client) {
  int index;
  {
    absl::MutexLock lock(&next_mu_);
    index = static_cast<int>(next_++ % shards_.size());
  }
  Shard& shard = *shards_[index];
  absl::MutexLock lock(&shard.mu);
  shard.clients.emplace(client, std::nullopt);
  return {.client = client, .shard = index};
}

void FrameScheduler::Schedule(Shard& shard, Client* client, Clock::time_point at) {
  auto found = shard.clients.find(client);
  if (found == shard.clients.end()) return;  // removed
  std::optional<Clock::time_point>& when = found->second;
  if (when.has_value()) {
    if (*when <= at) return;
    shard.due.erase({*when, client});
  }
  when = at;
  shard.due.emplace(at, client);
}

void FrameScheduler::Wake(const Slot& slot, Clock::time_point at) {
  Shard& shard = *shards_[slot.shard];
  absl::MutexLock lock(&shard.mu);
  Schedule(shard, slot.client, at);
}

void FrameScheduler::Remove(const Slot& slot) {
  Shard& shard = *shards_[slot.shard];
  absl::MutexLock lock(&shard.mu);
  auto found = shard.clients.find(slot.client);
  if (found != shard.clients.end()) {
    if (found->second.has_value()) shard.due.erase({*found->second, slot.client});
    shard.clients.erase(found);
  }
  auto idle = [&shard, client = slot.client]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu) {
    return std::find(shard.running.begin(), shard.running.end(), client) == shard.running.end();
  };
  shard.mu.Await(absl::Condition(&idle));
}

void FrameScheduler::Loop(Shard& shard) {
  std::vector<std::pair<Client*, std::optional<Clock::time_point>>> batch;
  absl::MutexLock lock(&shard.mu);
  for (;;) {
    if (shard.stop) return;
    if (shard.due.empty()) {
      auto woken = [&shard]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu) {
        return shard.stop || !shard.due.empty();
      };
      shard.mu.Await(absl::Condition(&woken));
      continue;
    }
    // Sleep until the first due time less `early`, or until a Wake asks for an earlier one.
    const Clock::time_point first = shard.due.begin()->first;
    const Clock::duration wait = first - early_ - Clock::now();
    if (wait > Clock::duration::zero()) {
      auto earlier = [&shard, first]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu) {
        return shard.stop || shard.due.empty() || shard.due.begin()->first < first;
      };
      shard.mu.AwaitWithTimeout(absl::Condition(&earlier), absl::FromChrono(wait));
      continue;
    }
    // Everything due within `early`, in one wake-up.
    const Clock::time_point horizon = Clock::now() + early_;
    batch.clear();
    while (!shard.due.empty() && shard.due.begin()->first <= horizon) {
      Client* client = shard.due.begin()->second;
      shard.due.erase(shard.due.begin());
      shard.clients[client] = std::nullopt;
      shard.running.push_back(client);
      batch.emplace_back(client, std::nullopt);
    }
    shard.mu.Unlock();
    for (auto& [client, next] : batch) next = client->RunDue(Clock::now());
    shard.mu.Lock();
    for (auto& [client, next] : batch) {
      if (next.has_value()) Schedule(shard, client, *next);
    }
    shard.running.clear();
  }
}

}  // namespace parley::media
