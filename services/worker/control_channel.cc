#include "services/worker/control_channel.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/log/log.h"

namespace parley::worker {
namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

ReplyPtr Command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lengths.data())));
}

}  // namespace

ControlChannel::ControlChannel(redis::RedisUrl url, std::string channel, CancelHandler on_cancel)
    : url_(std::move(url)), channel_(std::move(channel)), on_cancel_(std::move(on_cancel)) {}

ControlChannel::~ControlChannel() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ControlChannel::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool ControlChannel::WaitSubscribed(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&subscribed_), timeout);
}

void ControlChannel::Run() {
  for (;;) {
    Session();
    absl::MutexLock lock(&mu_);
    subscribed_ = false;
    if (mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(1))) return;
  }
}

void ControlChannel::Session() {
  timeval connect_timeout{2, 0};
  ContextPtr c(redisConnectWithTimeout(url_.host.c_str(), url_.port, connect_timeout));
  if (c == nullptr || c->err != 0) return;
  timeval io_timeout{2, 0};
  redisSetTimeout(c.get(), io_timeout);
  if (!url_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!url_.username.empty()) auth.push_back(url_.username);
    auth.push_back(url_.password);
    ReplyPtr r = Command(c.get(), auth);
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
      log::Warn("control channel: AUTH failed");
      return;
    }
  }
  ReplyPtr subscribed = Command(c.get(), {"SUBSCRIBE", channel_});
  if (subscribed == nullptr || subscribed->type == REDIS_REPLY_ERROR) return;
  {
    absl::MutexLock lock(&mu_);
    subscribed_ = true;
  }
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    // Deliver what is already buffered, then wait (bounded, to notice stop_) for more.
    void* raw = nullptr;
    if (redisGetReplyFromReader(c.get(), &raw) != REDIS_OK) return;
    if (raw != nullptr) {
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
          std::string(reply->element[0]->str, reply->element[0]->len) == "message") {
        Deliver(std::string(reply->element[2]->str, reply->element[2]->len));
      }
      continue;
    }
    pollfd pfd{c->fd, POLLIN, 0};
    int ready = poll(&pfd, 1, 500);
    if (ready < 0) return;
    if (ready > 0 && redisBufferRead(c.get()) != REDIS_OK) return;  // connection broke
  }
}

void ControlChannel::Deliver(const std::string& message) {
  std::vector<std::string> parts = absl::StrSplit(message, ' ', absl::SkipEmpty());
  int attempt = 0;
  if (parts.size() == 3 && parts[0] == "cancel" && absl::SimpleAtoi(parts[2], &attempt)) {
    on_cancel_(parts[1], attempt);
  } else {
    log::Warn("control channel: unknown message", {{"message", message}});
  }
}

}  // namespace parley::worker
