#include "common/redis/testing/redis_server_process.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/subprocess.h"

extern char** environ;

namespace parley::redis::testing {
namespace {

bool AnswersPing(int port) {
  timeval tv{0, 200'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c != nullptr && c->err == 0) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
    if (reply != nullptr) freeReplyObject(reply);
  }
  if (c != nullptr) redisFree(c);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServerProcess>> RedisServerProcess::Start() {
  std::unique_ptr<RedisServerProcess> server(new RedisServerProcess(parley::testing::FreePort()));
  if (absl::Status s = server->Spawn(); !s.ok()) return s;
  return server;
}

RedisServerProcess::~RedisServerProcess() { Kill(); }

std::string RedisServerProcess::url() const {
  return absl::StrCat("redis://127.0.0.1:", port_, "/0");
}

absl::Status RedisServerProcess::Restart() {
  Kill();
  return Spawn();
}

absl::Status RedisServerProcess::Spawn() {
  std::string port = absl::StrCat(port_);
  std::vector<const char*> argv = {"redis-server", "--port",     port.c_str(), "--bind",
                                   "127.0.0.1",    "--save",     "",           "--appendonly",
                                   "no",           "--loglevel", "warning",    nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr,
                        const_cast<char* const*>(argv.data()), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return absl::UnavailableError(absl::StrCat("spawn redis-server: ", std::strerror(rc)));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (AnswersPing(port_)) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat("redis-server on port ", port_, " exited early"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Kill();
  return absl::UnavailableError(absl::StrCat("redis-server on port ", port_, " did not start"));
}

void RedisServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace parley::redis::testing
