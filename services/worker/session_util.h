// Internal to the worker: small helpers shared by the call session's files.
//
//   absl::StatusOr<Fence> f = WithRetries([&] { return store.Claim(job, id, lease, now); });
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace parley::worker::internal {

inline int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

inline google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t us = absl::ToUnixMicros(t);
  ts.set_seconds(us / 1000000);
  ts.set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
  return ts;
}

// UNAVAILABLE or DEADLINE_EXCEEDED: a blip worth one more try.
inline bool Transient(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <class T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Runs `op` (returning absl::Status or absl::StatusOr) up to three times while it fails
// transiently (a Redis or network blip), 300 then 600 ms apart; returns the last result.
template <class Op>
auto WithRetries(Op op) -> decltype(op()) {
  auto result = op();
  for (int i = 0; i < 2 && Transient(StatusOf(result)); ++i) {
    absl::SleepFor(absl::Milliseconds(300 * (i + 1)));
    result = op();
  }
  return result;
}

// Like WithRetries, but keeps trying while `op` fails transiently until `deadline` (200 ms apart,
// doubling to 1 s): for the writes that end a call, which must outlast a short Redis outage — the
// call's lease is the natural deadline, after which another worker may reclaim the attempt.
template <class Op>
auto RetryUntil(absl::Time deadline, Op op) -> decltype(op()) {
  auto result = op();
  absl::Duration pause = absl::Milliseconds(200);
  while (Transient(StatusOf(result)) && absl::Now() + pause < deadline) {
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Seconds(1));
    result = op();
  }
  return result;
}

}  // namespace parley::worker::internal
