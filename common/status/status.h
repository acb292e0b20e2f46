// Error plumbing shared by every Parley library.
//
// Library code returns absl::Status / absl::StatusOr<T>; the code says what the caller should do:
//   UNAVAILABLE          the dependency is down — retry the call later;
//   ABORTED              a conflict (stale etag, serialization failure) — retry the transaction;
//   FAILED_PRECONDITION  the request can never succeed as is — do not retry;
//   INVALID_ARGUMENT     bad input; the message starts with the field path ("to: ...").
// Conversion to grpc::Status happens once, at the gRPC handler, with ToGrpcStatus().
//
//   absl::StatusOr<Call> LoadCall(std::string_view id) {
//     PARLEY_ASSIGN_OR_RETURN(auto hash, redis.HGetAll(id));
//     PARLEY_RETURN_IF_ERROR(Validate(hash));
//     return Call::FromHash(hash);
//   }
#pragma once

#include <grpcpp/support/status.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace parley {

// Debian 12's abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0),
// which does not convert from std::string_view. Parley's APIs take std::string_view; this bridges
// them to absl's string functions without a copy.
inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// Converts a library status to the status a gRPC handler returns (codes map one to one).
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts a status a gRPC client received to a library status (codes map one to one).
absl::Status FromGrpcStatus(const grpc::Status& status);

// INVALID_ARGUMENT whose message names the offending field: "field: reason".
absl::Status InvalidField(std::string_view field, std::string_view reason);

// OK when `value` is at most `max` bytes with no control characters (below 0x20, or 0x7f) —
// free text an API stores and later writes into events, logs and webhooks as given; otherwise
// InvalidField "field: at most N characters" / "field: must not contain control characters".
absl::Status CheckPrintable(std::string_view field, std::string_view value, size_t max);

}  // namespace parley

#define PARLEY_STATUS_CONCAT_INNER_(a, b) a##b
#define PARLEY_STATUS_CONCAT_(a, b) PARLEY_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define PARLEY_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status parley_status_ = (expr);          \
    if (!parley_status_.ok()) return parley_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its status when not OK.
#define PARLEY_ASSIGN_OR_RETURN(lhs, expr) \
  PARLEY_ASSIGN_OR_RETURN_IMPL_(PARLEY_STATUS_CONCAT_(parley_statusor_, __LINE__), lhs, expr)
#define PARLEY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()
