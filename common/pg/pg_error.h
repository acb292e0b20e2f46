// Turns libpqxx exceptions into statuses that say what the caller should do. PgPool::Transact
// applies it to everything a transaction throws; code that drives pqxx directly (LISTEN loops,
// COPY streams) catches at its own edge and calls it too.
//
//   try {
//     pqxx::nontransaction tx(conn);
//     tx.exec("LISTEN calls");
//   } catch (const std::exception& e) {
//     return parley::pg::StatusFromException(e);
//   }
#pragma once

#include <exception>

#include "absl/status/status.h"

namespace parley::pg {

// Returns the status for `e`, its message prefixed "postgres: ":
//   connection lost, server shutting down, too many connections (class 08, 57P0x, 53300)
//                                                               → UNAVAILABLE (retry the call)
//   serialization_failure, deadlock_detected (40001, 40P01)     → ABORTED (retry the transaction)
//   unique_violation (23505)                                    → ALREADY_EXISTS
//   foreign_key_violation, restrict_violation (23503, 23001)    → FAILED_PRECONDITION
//   check_violation, not_null_violation, data exceptions (23514, 23502, class 22)
//                                                               → INVALID_ARGUMENT
//   query_canceled, e.g. statement_timeout (57014)              → DEADLINE_EXCEEDED
//   commit outcome unknown (pqxx::in_doubt_error)               → UNKNOWN (do not blindly retry)
//   anything else (syntax errors, pqxx usage and conversion errors, other exceptions) → INTERNAL
absl::Status StatusFromException(const std::exception& e);

}  // namespace parley::pg
