// The worker's control channel: a Redis Pub/Sub subscription to `{prefix}worker:{id}:control`
// on which CallStore::Cancel publishes "cancel <call_id> <attempt>" for calls this worker owns,
// so a cancel reaches a ringing or talking call at once instead of at the next lease renewal.
// Pub/Sub is fire-and-forget: a message sent while the subscription reconnects is lost, and the
// renewal's cancel flag (CallStore::Renew) catches it a few seconds later.
//
//   ControlChannel control(url, store.Key("worker:w1:control"),
//                          [&](const std::string& call_id, int attempt) { Cancel(call_id); });
//   control.Start();
//   control.WaitSubscribed(absl::Seconds(2));
//   // ~ControlChannel stops and joins its thread.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis/redis_url.h"

namespace parley::worker {

class ControlChannel final {
 public:
  using CancelHandler = std::function<void(const std::string& call_id, int attempt)>;

  ControlChannel(redis::RedisUrl url, std::string channel, CancelHandler on_cancel);
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  // Starts the subscriber thread; it reconnects by itself (every second) while Redis is down.
  void Start();
  // True once subscribed (and again after a reconnect); false on timeout.
  bool WaitSubscribed(absl::Duration timeout);

 private:
  void Run();
  // One connection's life: subscribe, deliver messages until stopped or broken.
  void Session();
  void Deliver(const std::string& message);

  const redis::RedisUrl url_;
  const std::string channel_;
  const CancelHandler on_cancel_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace parley::worker
