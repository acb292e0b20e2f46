#include "common/pg/pg_error.h"

#include <pqxx/except>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace parley::pg {
namespace {

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (state == "23503" || state == "23001") return absl::StatusCode::kFailedPrecondition;
  if (state == "23514" || state == "23502" || absl::StartsWith(state, "22")) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P") || state == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (state == "57014") return absl::StatusCode::kDeadlineExceeded;
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::Status StatusFromException(const std::exception& e) {
  // libpq messages end in a newline and sometimes carry DETAIL/HINT lines; keep them, minus the
  // trailing whitespace.
  std::string message =
      absl::StrCat("postgres: ", absl::StripTrailingAsciiWhitespace(absl::string_view(e.what())));
  absl::StatusCode code = absl::StatusCode::kInternal;
  // Subclasses before their bases: too_many_connections is a broken_connection, and the
  // transaction_rollback family carries no SQLSTATE when raised by libpqxx itself.
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    code = absl::StatusCode::kUnavailable;
  } else if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    code = absl::StatusCode::kUnknown;
  } else if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    code = absl::StatusCode::kUnknown;
  } else if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    code = absl::StatusCode::kAborted;
  } else if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    code = CodeForSqlState(sql->sqlstate());
  }
  return absl::Status(code, message);
}

}  // namespace parley::pg
