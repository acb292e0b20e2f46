// A thread-safe pool of libpqxx connections and the one way Parley code runs SQL: Transact() runs a
// function in a transaction, retries it on serialization failures and deadlocks, and turns every
// libpqxx exception into a status (see pg_error.h for the mapping).
//
// Connections are opened lazily, up to `size`. One that breaks is closed and replaced on a later
// call, and idle connections are checked for a server-side close before use, so the pool carries
// on by itself after a Postgres restart or failover. Statements registered with Prepare() are
// prepared on every connection, present and future (libpqxx sends the PREPARE on first use).
//
//   constexpr char kInsertAgent[] = "config.insert_agent";
//   pool->Prepare(kInsertAgent, "INSERT INTO config.agents(name, spec) VALUES ($1, $2) "
//                               "RETURNING id");
//   absl::StatusOr<std::int64_t> id = pool->Transact([&](pqxx::work& tx) {
//     return tx.exec_prepared1(kInsertAgent, name, spec)[0].as<std::int64_t>();
//   });
//   // A unique violation comes back as ALREADY_EXISTS; nothing is thrown.
//
//   // Read-modify-write under SERIALIZABLE; a conflicting transaction makes one side re-run.
//   absl::Status s = pool->Transact([&](pqxx::work& tx) -> absl::Status {
//     auto row = tx.exec_params1("SELECT balance FROM t WHERE id = $1", id);
//     if (row[0].as<int>() < amount) return absl::FailedPreconditionError("balance too low");
//     tx.exec_params("UPDATE t SET balance = balance - $2 WHERE id = $1", id, amount);
//     return absl::OkStatus();
//   }, {.isolation = Isolation::kSerializable});
//
// Creating a pool sets SIGPIPE to SIG_IGN process-wide (if still SIG_DFL), as libpq requires for a
// broken connection to be an error instead of a signal that ends the process.
#pragma once

#include <memory>
#include <optional>
#include <pqxx/pqxx>  // callers' functions use the whole pqxx API on the pqxx::work they get
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace parley::pg {

struct PgOptions {
  // A libpq connection string: postgresql://user:pass@host:port/db?sslmode=disable, or the
  // key=value form "host=... dbname=...".
  std::string url;
  int size = 8;                                       // most connections open at once
  absl::Duration connect_timeout = absl::Seconds(5);  // libpq counts whole seconds, at least 2
  // How long Transact/Ping wait for a free connection when all `size` are in use.
  absl::Duration acquire_timeout = absl::Seconds(5);
};

enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

struct TxOptions {
  Isolation isolation = Isolation::kReadCommitted;
  // Runs of the function allowed in total. Serialization failures and deadlocks are retried with a
  // short randomized backoff; so is a connection found broken (no commit had been sent).
  int max_attempts = 5;
};

namespace internal {
// Transact's result: absl::Status for a function returning void or absl::Status; absl::StatusOr<T>
// for one returning T or absl::StatusOr<T>.
template <class R>
struct TxResult {
  using type = absl::StatusOr<R>;
  static constexpr bool kIsStatusOr = false;
};
template <>
struct TxResult<void> {
  using type = absl::Status;
};
template <>
struct TxResult<absl::Status> {
  using type = absl::Status;
};
template <class T>
struct TxResult<absl::StatusOr<T>> {
  using type = absl::StatusOr<T>;
  static constexpr bool kIsStatusOr = true;
};
template <class F>
using TxReturn = std::decay_t<std::invoke_result_t<F&, pqxx::work&>>;
}  // namespace internal

class PgPool final {
 public:
  // Returns a pool for `options.url` without connecting (call Ping() to check the server at
  // startup). INVALID_ARGUMENT when the URL does not parse as a libpq connection string or a size
  // or timeout is not positive.
  static absl::StatusOr<std::unique_ptr<PgPool>> Create(PgOptions options);

  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Registers `sql` as prepared statement `name` on every connection of the pool, for
  // tx.exec_prepared(name, args...). Call at startup, before the statements are used; an invalid
  // `sql` surfaces as an error from the first Transact that executes it. Registering a name again
  // with the same SQL does nothing; with different SQL is a programming error and aborts.
  void Prepare(std::string name, std::string sql);

  // Runs `fn(pqxx::work&)` in a transaction at `options.isolation` and commits it. `fn` may return
  // void, a value T, absl::Status or absl::StatusOr<T>; Transact returns absl::Status for the first
  // and third, absl::StatusOr<T> otherwise.
  //   - A non-OK status from `fn` rolls back and is returned as is, without retry.
  //   - Exceptions `fn` lets escape roll back and become statuses (pg_error.h).
  //   - Serialization failures and deadlocks re-run `fn` (so keep it free of outside side effects)
  //     and give ABORTED once max_attempts are used up.
  //   - UNAVAILABLE when no connection can be had (server down, or the pool busy past
  //     acquire_timeout); UNKNOWN when the connection broke during COMMIT.
  // `fn` must not commit or abort the transaction itself, nor call Transact on the same pool from
  // inside (that would wait for a second connection).
  template <class F>
  typename internal::TxResult<internal::TxReturn<F>>::type Transact(F&& fn, TxOptions options = {});

  // OK when the server answers SELECT 1; UNAVAILABLE otherwise.
  absl::Status Ping();

 private:
  struct Connection;
  class Lease;

  explicit PgPool(PgOptions options, std::string conninfo);

  // Runs `body` in a transaction with retries; the non-template part of Transact.
  absl::Status RunTransaction(const TxOptions& options,
                              absl::FunctionRef<absl::Status(pqxx::work&)> body);
  absl::StatusOr<Lease> Acquire();
  absl::StatusOr<std::unique_ptr<Connection>> Connect();
  void Release(std::unique_ptr<Connection> connection);

  const PgOptions options_;
  const std::string conninfo_;  // options_.url plus connect_timeout

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle plus borrowed plus being opened
  // Registered statements, in order; a connection has prepared a prefix of them.
  std::vector<std::pair<std::string, std::string>> statements_ ABSL_GUARDED_BY(mu_);
};

template <class F>
typename internal::TxResult<internal::TxReturn<F>>::type PgPool::Transact(F&& fn,
                                                                          TxOptions options) {
  using R = internal::TxReturn<F>;
  if constexpr (std::is_void_v<R>) {
    return RunTransaction(options, [&fn](pqxx::work& tx) {
      fn(tx);
      return absl::OkStatus();
    });
  } else if constexpr (std::is_same_v<R, absl::Status>) {
    return RunTransaction(options, [&fn](pqxx::work& tx) { return fn(tx); });
  } else if constexpr (internal::TxResult<R>::kIsStatusOr) {
    std::optional<typename R::value_type> value;
    absl::Status status = RunTransaction(options, [&fn, &value](pqxx::work& tx) {
      R result = fn(tx);
      if (!result.ok()) return result.status();
      value.emplace(*std::move(result));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return *std::move(value);
  } else {
    std::optional<R> value;
    absl::Status status = RunTransaction(options, [&fn, &value](pqxx::work& tx) {
      value.emplace(fn(tx));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return *std::move(value);
  }
}

}  // namespace parley::pg
