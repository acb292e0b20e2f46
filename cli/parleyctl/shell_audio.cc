#include "cli/parleyctl/shell_audio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace parley::cli {
namespace {

constexpr size_t kFrameBytes = 320 * sizeof(int16_t);
constexpr size_t kMaxPendingBytes = 50 * kFrameBytes;  // one second

}  // namespace

absl::StatusOr<ShellAudio::Child> ShellAudio::Spawn(const std::string& command, bool child_writes,
                                                    int stderr_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  const int child_end = child_writes ? fds[1] : fds[0];
  const int our_end = child_writes ? fds[0] : fds[1];
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {  // only async-signal-safe calls until exec
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // parleyctl blocks SIGTERM/SIGINT in its threads
    signal(SIGPIPE, SIG_DFL);
    dup2(child_end, child_writes ? STDOUT_FILENO : STDIN_FILENO);
    if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
    execv(argv[0], const_cast<char* const*>(argv));
    _exit(127);
  }
  close(child_end);
  fcntl(our_end, F_SETFL, fcntl(our_end, F_GETFL) | O_NONBLOCK);
  return Child{.pid = pid, .fd = our_end};
}

absl::StatusOr<std::unique_ptr<ShellAudio>> ShellAudio::Start(const std::string& in_command,
                                                              const std::string& out_command,
                                                              int in_stderr_fd, int out_stderr_fd) {
  signal(SIGPIPE, SIG_IGN);  // a command that exits makes writes fail with EPIPE instead
  std::unique_ptr<ShellAudio> audio(new ShellAudio());
  auto in = Spawn(in_command, /*child_writes=*/true, in_stderr_fd);
  if (!in.ok()) return in.status();
  audio->in_ = *in;
  auto out = Spawn(out_command, /*child_writes=*/false, out_stderr_fd);
  if (!out.ok()) return out.status();
  audio->out_ = *out;
  return audio;
}

absl::Status ShellAudio::Probe(const std::string& in_command, const std::string& out_command,
                               absl::Duration wait) {
  int err_fds[2] = {-1, -1};  // the commands' stderr, in unlinked temporary files
  for (int& fd : err_fds) {
    char path[] = "/tmp/parleyctl-audio-XXXXXX";
    fd = mkstemp(path);
    if (fd >= 0) unlink(path);
  }
  absl::Status status;
  {
    auto audio = Start(in_command, out_command, err_fds[0], err_fds[1]);
    if (!audio.ok()) {
      for (int fd : err_fds) close(fd);
      return audio.status();
    }
    const absl::Time deadline = absl::Now() + wait;
    const std::string* failed = nullptr;
    int err_fd = -1;
    int code = 0;
    while (failed == nullptr && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      // An input command that ends by itself (a short file) is fine; only failures count.
      if (Exited((*audio)->in_) && (*audio)->in_.exit_code != 0) {
        failed = &in_command;
        err_fd = err_fds[0];
        code = (*audio)->in_.exit_code;
      } else if (Exited((*audio)->out_) && (*audio)->out_.exit_code != 0) {
        failed = &out_command;
        err_fd = err_fds[1];
        code = (*audio)->out_.exit_code;
      }
    }
    if (failed != nullptr) {
      // Its last line of stderr says why (sox: "rec FAIL sox: … no default audio device …",
      // after ALSA's lines).
      std::string text(8192, '\0');
      const ssize_t n = pread(err_fd, text.data(), text.size(), 0);
      text.resize(n > 0 ? static_cast<size_t>(n) : 0);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      const std::string line = text.substr(text.find_last_of('\n') + 1);
      status = absl::FailedPreconditionError(absl::StrCat(
          "`", *failed, "` failed: ", line.empty() ? absl::StrCat("exit code ", code) : line,
          " (no sound card? --audio-in-cmd/--audio-out-cmd replace rec/play)"));
    }
  }
  for (int fd : err_fds) close(fd);
  return status;
}

bool ShellAudio::Exited(Child& child) {
  if (child.pid < 0) return true;
  int status = 0;
  if (waitpid(child.pid, &status, WNOHANG) != child.pid) return false;
  child.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  child.pid = -1;
  return true;
}

void ShellAudio::Stop(Child& child, absl::Duration grace) {
  if (child.fd >= 0) close(child.fd);
  child.fd = -1;
  const absl::Time deadline = absl::Now() + grace;
  while (!Exited(child) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  if (child.pid < 0) return;
  kill(-child.pid, SIGTERM);
  kill(child.pid, SIGTERM);  // in case it has not made its own group yet
  int status = 0;
  waitpid(child.pid, &status, 0);
  child.pid = -1;
}

ShellAudio::~ShellAudio() {
  if (out_.fd >= 0 && !pending_.empty()) {
    // Hand over what is left (the command is reading its stdin to the end).
    fcntl(out_.fd, F_SETFL, fcntl(out_.fd, F_GETFL) & ~O_NONBLOCK);
    ssize_t n = write(out_.fd, pending_.data(), pending_.size());
    (void)n;
  }
  Stop(in_, absl::ZeroDuration());
  Stop(out_, absl::Seconds(1));
}

bool ShellAudio::NextFrame(std::span<int16_t> frame) {
  if (in_.fd < 0) return false;
  const size_t want = frame.size() * sizeof(int16_t);
  while (partial_.size() < want) {
    char buf[kFrameBytes];
    const ssize_t n = read(in_.fd, buf, std::min(sizeof(buf), want - partial_.size()));
    if (n > 0) {
      partial_.insert(partial_.end(), buf, buf + n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    close(in_.fd);  // the end of the input (or an error): the callee says nothing more
    in_.fd = -1;
    return false;
  }
  std::memcpy(frame.data(), partial_.data(), want);
  partial_.clear();
  return true;
}

void ShellAudio::Play(std::span<const int16_t> frame) {
  if (out_.fd < 0) return;
  const char* bytes = reinterpret_cast<const char*>(frame.data());
  pending_.insert(pending_.end(), bytes, bytes + frame.size_bytes());
  while (!pending_.empty()) {
    const ssize_t n = write(out_.fd, pending_.data(), pending_.size());
    if (n > 0) {
      pending_.erase(pending_.begin(), pending_.begin() + n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    close(out_.fd);  // the command went away: the agent is no longer heard
    out_.fd = -1;
    pending_.clear();
    return;
  }
  if (pending_.size() > kMaxPendingBytes) {  // the command does not keep up: drop the oldest
    const size_t drop = (pending_.size() - kMaxPendingBytes + 1) & ~size_t{1};
    pending_.erase(pending_.begin(), pending_.begin() + drop);
  }
}

}  // namespace parley::cli
