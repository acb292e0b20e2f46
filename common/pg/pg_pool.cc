#include "common/pg/pg_pool.h"

#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/pg/pg_error.h"
#include "common/status/status.h"

namespace parley::pg {
namespace {

// libpq takes connect_timeout in the connection string, in whole seconds.
absl::StatusOr<std::string> ConnInfoWithTimeout(const std::string& url, absl::Duration timeout) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error);
  if (parsed == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    return absl::InvalidArgumentError(
        absl::StrCat("postgres: bad connection string: ",
                     absl::StripTrailingAsciiWhitespace(absl::string_view(why))));
  }
  PQconninfoFree(parsed);
  const int64_t seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1))));
  if (absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://")) {
    return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?", "connect_timeout=", seconds);
  }
  return absl::StrCat(url, " connect_timeout=", seconds);
}

const char* IsolationSql(Isolation isolation) {
  switch (isolation) {
    case Isolation::kRepeatableRead:
      return "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case Isolation::kSerializable:
      return "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
    case Isolation::kReadCommitted:
      break;
  }
  return nullptr;
}

// Sleeps before re-running a transaction that lost a conflict, so the contenders spread out
// instead of colliding again: uniform in [0, 2^attempt ms], capped at 100 ms.
void Backoff(int attempt) {
  thread_local absl::BitGen gen;
  const int64_t cap_ms = std::min<int64_t>(100, int64_t{1} << std::min(attempt, 10));
  absl::SleepFor(absl::Microseconds(absl::Uniform<int64_t>(gen, 0, cap_ms * 1000)));
}

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      std::signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

struct PgPool::Connection {
  std::unique_ptr<pqxx::connection> conn;
  size_t prepared = 0;  // statements_[0, prepared) are registered on `conn`
  bool broken = false;

  // An idle connection has nothing to read unless the server closed it (restart, failover,
  // pg_terminate_backend) — then its last words are waiting. Checking costs no round trip.
  bool Unusable() const {
    if (broken || !conn->is_open()) return true;
    pollfd p{conn->sock(), POLLIN, 0};
    return p.fd < 0 || poll(&p, 1, 0) != 0;
  }
};

// A borrowed connection; goes back to the pool when destroyed, or is closed if marked broken.
class PgPool::Lease {
 public:
  Lease(PgPool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
  Lease(Lease&& other) noexcept : pool_(other.pool_), c_(std::move(other.c_)) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (c_ != nullptr) pool_->Release(std::move(c_));
  }
  pqxx::connection& conn() { return *c_->conn; }
  void MarkBroken() { c_->broken = true; }

 private:
  PgPool* pool_;
  std::unique_ptr<Connection> c_;
};

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Create(PgOptions options) {
  if (options.size < 1) return absl::InvalidArgumentError("postgres: pool size must be at least 1");
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.acquire_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("postgres: timeouts must be positive");
  }
  PARLEY_ASSIGN_OR_RETURN(std::string conninfo,
                          ConnInfoWithTimeout(options.url, options.connect_timeout));
  IgnoreSigpipeOnce();
  return std::unique_ptr<PgPool>(new PgPool(std::move(options), std::move(conninfo)));
}

PgPool::PgPool(PgOptions options, std::string conninfo)
    : options_(std::move(options)), conninfo_(std::move(conninfo)) {}

PgPool::~PgPool() = default;

void PgPool::Prepare(std::string name, std::string sql) {
  absl::MutexLock lock(&mu_);
  for (const auto& [existing, existing_sql] : statements_) {
    if (existing != name) continue;
    if (existing_sql == sql) return;
    std::fprintf(stderr,
                 "parley::pg::PgPool::Prepare: statement %s registered twice with "
                 "different SQL\n",
                 name.c_str());
    std::abort();
  }
  statements_.emplace_back(std::move(name), std::move(sql));
}

absl::StatusOr<std::unique_ptr<PgPool::Connection>> PgPool::Connect() {
  auto c = std::make_unique<Connection>();
  try {
    c->conn = std::make_unique<pqxx::connection>(conninfo_);
  } catch (const std::exception& e) {
    absl::Status status = StatusFromException(e);
    // Any failure to connect (refused, timeout, auth, unknown database) reads as "unreachable".
    return absl::UnavailableError(status.message());
  }
  return c;
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<Connection> c;
  {
    absl::MutexLock lock(&mu_);
    auto can_borrow = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_borrow), options_.acquire_timeout)) {
      return absl::UnavailableError(absl::StrCat("postgres: pool exhausted: all ", options_.size,
                                                 " connections busy for ",
                                                 absl::FormatDuration(options_.acquire_timeout)));
    }
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve the slot now so concurrent callers do not overshoot `size`
    }
  }
  if (c != nullptr && c->Unusable()) c.reset();  // its slot goes to the replacement
  if (c == nullptr) {
    absl::StatusOr<std::unique_ptr<Connection>> fresh = Connect();
    if (!fresh.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      return fresh.status();
    }
    c = *std::move(fresh);
  }

  std::vector<std::pair<std::string, std::string>> missing;
  size_t registered = 0;
  {
    absl::MutexLock lock(&mu_);
    missing.assign(statements_.begin() + c->prepared, statements_.end());
    registered = statements_.size();
  }
  try {
    // Only records the definitions; libpqxx prepares each on the server at its first use.
    for (const auto& [name, sql] : missing) c->conn->prepare(name, sql);
    c->prepared = registered;
  } catch (const std::exception& e) {
    c->broken = true;
    Release(std::move(c));
    return StatusFromException(e);
  }
  return Lease(this, std::move(c));
}

void PgPool::Release(std::unique_ptr<Connection> c) {
  if (c->broken || !c->conn->is_open()) {
    c.reset();  // close outside the lock
    absl::MutexLock lock(&mu_);
    --open_;
    return;
  }
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(c));
}

absl::Status PgPool::RunTransaction(const TxOptions& options,
                                    absl::FunctionRef<absl::Status(pqxx::work&)> body) {
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("postgres: max_attempts must be at least 1");
  }
  absl::Status last;
  for (int attempt = 1; attempt <= options.max_attempts; ++attempt) {
    if (attempt > 1 && last.code() == absl::StatusCode::kAborted) Backoff(attempt);
    PARLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
    try {
      pqxx::work tx(lease.conn());
      if (const char* sql = IsolationSql(options.isolation); sql != nullptr) tx.exec(sql);
      absl::Status status = body(tx);
      if (!status.ok()) {
        tx.abort();
        return status;
      }
      tx.commit();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      last = StatusFromException(e);
    }
    switch (last.code()) {
      case absl::StatusCode::kAborted:
        continue;  // lost a serialization conflict or a deadlock: run it again
      case absl::StatusCode::kUnavailable:
        // The connection broke before COMMIT was sent, so nothing was applied; another connection
        // may do better (the server may have restarted and come back).
        lease.MarkBroken();
        continue;
      case absl::StatusCode::kUnknown:
        lease.MarkBroken();
        return last;
      default:
        return last;
    }
  }
  return absl::Status(last.code(), absl::StrCat(last.message(), " (gave up after ",
                                                options.max_attempts, " attempts)"));
}

absl::Status PgPool::Ping() {
  return Transact([](pqxx::work& tx) { tx.exec("SELECT 1"); }, {.max_attempts = 2});
}

}  // namespace parley::pg
