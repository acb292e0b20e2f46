#include "common/redis/redis_pool.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include <csignal>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status/status.h"

namespace parley::redis {
namespace {

absl::Status Unavailable(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("redis: ", what));
}

// What a broken connection tells the caller. hiredis reports a socket timeout (SO_RCVTIMEO /
// SO_SNDTIMEO expiring) as an I/O error carrying strerror(EAGAIN).
absl::Status ConnectionError(const redisContext* c, absl::Duration timeout) {
  if (c == nullptr) return Unavailable("out of memory allocating a connection");
  if (c->err == REDIS_ERR_IO && absl::StrContains(c->errstr, "temporarily unavailable")) {
    return Unavailable(absl::StrCat("timed out after ", absl::FormatDuration(timeout)));
  }
  return Unavailable(c->errstr);
}

// Redis error replies start with an upper-case code word. These codes mean "the server cannot
// serve this right now" and are worth retrying; the rest are bugs or bad data.
absl::Status ErrorReplyStatus(absl::string_view message) {
  absl::string_view code = message.substr(0, message.find(' '));
  for (absl::string_view transient : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN"}) {
    if (code == transient) return Unavailable(message);
  }
  if (code == "BUSYGROUP") return absl::AlreadyExistsError(absl::StrCat("redis: ", message));
  return absl::InternalError(absl::StrCat("redis: ", message));
}

RedisReply Convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return RedisReply::String(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return RedisReply::Status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return RedisReply::Error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return RedisReply::Integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<RedisReply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(Convert(r->element[i]));
      return RedisReply::Array(std::move(elements));
    }
    default:
      return RedisReply::Nil();
  }
}

// hiredis wants parallel arrays of pointers and lengths; lengths make it binary-safe.
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv) {
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const std::string& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

// A request/response connection with no request outstanding has nothing to read. If poll says
// otherwise the peer closed it (Redis restarted or dropped an idle client) or the stream is out of
// step; either way it is unusable, and finding out now costs no command.
bool Unusable(const redisContext* c) {
  if (c->err != 0) return true;
  pollfd p{c->fd, POLLIN, 0};
  return poll(&p, 1, 0) != 0;
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

void RedisPool::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

// A borrowed connection; goes back to the pool when destroyed unless marked broken.
class RedisPool::Lease {
 public:
  Lease(RedisPool* pool, ContextPtr context) : pool_(pool), context_(std::move(context)) {}
  Lease(Lease&& other) noexcept
      : pool_(other.pool_), context_(std::move(other.context_)), healthy_(other.healthy_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (context_ != nullptr) pool_->Release(std::move(context_), healthy_);
  }

  redisContext* get() const { return context_.get(); }

  // Marks the connection for closing and returns UNAVAILABLE saying why it broke.
  absl::Status Broken(absl::Duration timeout) {
    healthy_ = false;
    return ConnectionError(context_.get(), timeout);
  }

  absl::Status SetTimeout(absl::Duration timeout) {
    if (redisSetTimeout(context_.get(), absl::ToTimeval(timeout)) != REDIS_OK)
      return Broken(timeout);
    return absl::OkStatus();
  }

 private:
  RedisPool* pool_;
  ContextPtr context_;
  bool healthy_ = true;
};

absl::StatusOr<std::unique_ptr<RedisPool>> RedisPool::Create(RedisOptions options) {
  PARLEY_ASSIGN_OR_RETURN(RedisUrl url, ParseRedisUrl(options.url));
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("redis: max_connections must be at least 1");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis: timeouts must be positive");
  }
  IgnoreSigpipeOnce();
  return std::unique_ptr<RedisPool>(new RedisPool(std::move(options), std::move(url)));
}

RedisPool::RedisPool(RedisOptions options, RedisUrl url)
    : options_(std::move(options)), url_(std::move(url)) {}

RedisPool::~RedisPool() = default;

absl::StatusOr<RedisPool::ContextPtr> RedisPool::Connect() {
  ContextPtr c(redisConnectWithTimeout(url_.host.c_str(), url_.port,
                                       absl::ToTimeval(options_.connect_timeout)));
  if (c == nullptr || c->err != 0) {
    return Unavailable(absl::StrCat("connect to ", url_.host, ":", url_.port, ": ",
                                    c == nullptr ? "out of memory" : c->errstr));
  }
  if (redisSetTimeout(c.get(), absl::ToTimeval(options_.command_timeout)) != REDIS_OK) {
    return ConnectionError(c.get(), options_.command_timeout);
  }
  redisEnableKeepAlive(c.get());  // best effort: notices a vanished peer on long-idle connections

  std::vector<std::vector<std::string>> setup;
  if (!url_.password.empty()) {
    setup.push_back(url_.username.empty()
                        ? std::vector<std::string>{"AUTH", url_.password}
                        : std::vector<std::string>{"AUTH", url_.username, url_.password});
  }
  if (url_.db != 0) setup.push_back({"SELECT", absl::StrCat(url_.db)});
  for (const auto& argv : setup) {
    ArgvView view(argv);
    auto* raw = static_cast<redisReply*>(
        redisCommandArgv(c.get(), view.argc(), view.ptrs.data(), view.lens.data()));
    if (raw == nullptr) return ConnectionError(c.get(), options_.command_timeout);
    RedisReply reply = Convert(raw);
    freeReplyObject(raw);
    if (reply.is_error()) {
      absl::Status status = ErrorReplyStatus(reply.str);
      // A wrong password or database number will not fix itself on retry.
      if (status.code() != absl::StatusCode::kInternal) return status;
      return absl::FailedPreconditionError(
          absl::StrCat("redis: ", argv[0], " at connect failed: ", reply.str));
    }
  }
  return c;
}

absl::StatusOr<RedisPool::Lease> RedisPool::Acquire(absl::Time deadline) {
  ContextPtr context;
  {
    absl::MutexLock lock(&mu_);
    auto can_borrow = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.max_connections;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&can_borrow), deadline)) {
      return Unavailable(
          absl::StrCat("pool exhausted: all ", options_.max_connections, " connections busy"));
    }
    if (!idle_.empty()) {
      context = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve the slot now so concurrent callers do not overshoot max_connections
    }
  }
  if (context != nullptr && !Unusable(context.get())) return Lease(this, std::move(context));
  context.reset();  // a stale connection's slot is reused for its replacement
  absl::StatusOr<ContextPtr> fresh = Connect();
  if (!fresh.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return fresh.status();
  }
  return Lease(this, *std::move(fresh));
}

void RedisPool::Release(ContextPtr context, bool healthy) {
  if (!healthy) context.reset();  // close outside the lock
  absl::MutexLock lock(&mu_);
  if (healthy) {
    idle_.push_back(std::move(context));
  } else {
    --open_;
  }
}

absl::StatusOr<RedisReply> RedisPool::Execute(const std::vector<std::string>& argv,
                                              std::optional<absl::Duration> timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("redis: empty command");
  const absl::Duration limit = timeout.value_or(options_.command_timeout);
  PARLEY_ASSIGN_OR_RETURN(Lease lease, Acquire(absl::Now() + limit));
  if (timeout.has_value()) PARLEY_RETURN_IF_ERROR(lease.SetTimeout(limit));

  ArgvView view(argv);
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(lease.get(), view.argc(), view.ptrs.data(), view.lens.data()));
  if (raw == nullptr) return lease.Broken(limit);
  RedisReply reply = Convert(raw);
  freeReplyObject(raw);

  if (timeout.has_value()) {
    // The reply is good even if restoring the default fails; the connection is then dropped.
    lease.SetTimeout(options_.command_timeout).IgnoreError();
  }
  return reply;
}

absl::StatusOr<RedisReply> RedisPool::Command(const std::vector<std::string>& argv,
                                              std::optional<absl::Duration> timeout) {
  PARLEY_ASSIGN_OR_RETURN(RedisReply reply, Execute(argv, timeout));
  if (reply.is_error()) return ErrorReplyStatus(reply.str);
  return reply;
}

absl::StatusOr<std::vector<RedisReply>> RedisPool::Pipeline(
    const std::vector<std::vector<std::string>>& cmds) {
  for (const auto& argv : cmds) {
    if (argv.empty()) return absl::InvalidArgumentError("redis: empty command in pipeline");
  }
  if (cmds.empty()) return std::vector<RedisReply>{};
  const absl::Duration limit = options_.command_timeout;
  PARLEY_ASSIGN_OR_RETURN(Lease lease, Acquire(absl::Now() + limit));

  // Appending only fills hiredis's output buffer; the first GetReply writes it all at once.
  for (const auto& argv : cmds) {
    ArgvView view(argv);
    if (redisAppendCommandArgv(lease.get(), view.argc(), view.ptrs.data(), view.lens.data()) !=
        REDIS_OK) {
      return lease.Broken(limit);
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(lease.get(), &raw) != REDIS_OK || raw == nullptr) return lease.Broken(limit);
    replies.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return replies;
}

absl::StatusOr<RedisReply> RedisPool::Eval(const RedisScript& script,
                                           const std::vector<std::string>& keys,
                                           const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(absl::StrCat(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());

  PARLEY_ASSIGN_OR_RETURN(RedisReply reply, Execute(argv, std::nullopt));
  if (reply.is_error() && absl::StartsWith(reply.str, "NOSCRIPT")) {
    // Redis restarted or its script cache was flushed: load the body and try once more.
    PARLEY_ASSIGN_OR_RETURN(RedisReply loaded, Command({"SCRIPT", "LOAD", script.source()}));
    if (loaded.str != script.sha1()) {
      return absl::InternalError(absl::StrCat("redis: SCRIPT LOAD returned sha ", loaded.str,
                                              ", expected ", script.sha1()));
    }
    PARLEY_ASSIGN_OR_RETURN(reply, Execute(argv, std::nullopt));
  }
  if (reply.is_error()) return ErrorReplyStatus(reply.str);
  return reply;
}

absl::Status RedisPool::Ping() { return Command({"PING"}).status(); }

}  // namespace parley::redis
