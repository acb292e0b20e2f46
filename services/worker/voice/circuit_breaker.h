// One circuit breaker per provider endpoint, shared by every call a worker runs: after
// `failures_to_open` consecutive failures the provider is skipped (its fallback chain moves on
// without waiting for it to fail again) for `open_for`; then one call at a time is let through
// as a probe ("half-open") — its success closes the circuit, its failure opens it again.
//
//   CircuitBreakers breakers({.failures_to_open = 3, .open_for = absl::Seconds(30)});
//   CircuitBreaker* b = breakers.For("tts/elevenlabs/https://api.elevenlabs.io/v1");
//   if (std::string why; !b->Allow(&why)) { ...fall back, telling the call's events `why`... }
//   absl::Status s = provider->Synthesize(...);
//   b->Record(s);
//
// Cancelled calls say nothing about the provider's health and are not counted. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace parley::worker {

struct CircuitBreakerOptions {
  int failures_to_open = 3;
  absl::Duration open_for = absl::Seconds(30);
  // The clock (tests pass a fake one).
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class CircuitBreaker final {
 public:
  explicit CircuitBreaker(const CircuitBreakerOptions* options) : options_(options) {}

  // True when a call may go to the provider now: the circuit is closed, or it is half-open and
  // no other probe is in flight (this call becomes the probe). When false, `why` (if not null)
  // says why: "circuit open after 3 consecutive failures (last: …); next probe in 12s".
  bool Allow(std::string* why);
  // The outcome of an allowed call.
  void Record(const absl::Status& status);

  enum class State { kClosed, kOpen, kHalfOpen };
  State state();

 private:
  const CircuitBreakerOptions* const options_;
  absl::Mutex mu_;
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_);
  bool probe_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

class CircuitBreakers final {
 public:
  explicit CircuitBreakers(CircuitBreakerOptions options = {}) : options_(std::move(options)) {}
  // The breaker of `key` ("kind/provider/base_url"), created closed on first use; the pointer
  // stays valid for the life of this object.
  CircuitBreaker* For(const std::string& key);

 private:
  const CircuitBreakerOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CircuitBreaker>> breakers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::worker
