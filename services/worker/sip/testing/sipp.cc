#include "services/worker/sip/testing/sipp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"

extern char** environ;

namespace parley::sip::testing {

int FreeLoopbackPort() {
  for (;;) {
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    bind(udp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    getsockname(udp, reinterpret_cast<sockaddr*>(&sa), &len);
    const int port = ntohs(sa.sin_port);
    // RTP wants an even port with the next one free too; keep every port usable for either.
    sockaddr_in next = sa;
    next.sin_port = htons(static_cast<uint16_t>(port + 1));
    int udp2 = socket(AF_INET, SOCK_DGRAM, 0);
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    const bool ok = port % 2 == 0 && port < 65000 &&
                    bind(udp2, reinterpret_cast<sockaddr*>(&next), sizeof(next)) == 0 &&
                    bind(tcp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    close(udp);
    close(udp2);
    close(tcp);
    if (ok) return port;
  }
}

SippPeer SippPeer::Start(const std::string& scenario,
                         const std::map<std::string, std::string>& keys,
                         const std::vector<std::string>& extra_args) {
  const int port = FreeLoopbackPort();
  int media_port = FreeLoopbackPort();
  while (media_port == port) media_port = FreeLoopbackPort();
  char dir_template[] = "/tmp/parley-sipp-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    std::fprintf(stderr, "sipp: mkdtemp failed\n");
    std::abort();
  }
  // sipp checks response codes when it loads a scenario, so `{{key}}` in the file is replaced by
  // the key's value before sipp sees it (and `[key]` works through -key as usual).
  std::ifstream in(absl::StrCat(PARLEY_SIPP_SCENARIOS, "/", scenario));
  std::stringstream text;
  text << in.rdbuf();
  std::string xml = text.str();
  for (const auto& [k, v] : keys)
    xml = absl::StrReplaceAll(xml, {{absl::StrCat("{{", k, "}}"), v}});
  const std::string scenario_path = absl::StrCat(dir, "/", scenario);
  std::ofstream(scenario_path) << xml;
  std::vector<std::string> args = {"sipp",
                                   "-sf",
                                   scenario_path,
                                   "-i",
                                   "127.0.0.1",
                                   "-mi",
                                   "127.0.0.1",
                                   "-p",
                                   absl::StrCat(port),
                                   "-mp",
                                   absl::StrCat(media_port),
                                   "-rtp_echo",
                                   "-m",
                                   "1",
                                   "-timeout",
                                   "60s",
                                   "-nostdin",
                                   "-trace_err",
                                   "-error_file",
                                   absl::StrCat(dir, "/errors.log"),
                                   "-trace_msg",
                                   "-message_file",
                                   absl::StrCat(dir, "/messages.log")};
  for (const auto& [k, v] : keys) {
    args.push_back("-key");
    args.push_back(k);
    args.push_back(v);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = absl::StrCat(dir, "/screen.log");
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "sipp", &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "sipp: cannot start (is sip-tester installed?)\n");
    std::abort();
  }
  posix_spawn_file_actions_destroy(&actions);
  // sipp is ready once it listens; give it a moment (it binds within milliseconds).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return SippPeer(pid, port, media_port, dir);
}

SippPeer::SippPeer(SippPeer&& other) noexcept
    : pid_(other.pid_), port_(other.port_), media_port_(other.media_port_), dir_(other.dir_) {
  other.pid_ = 0;
}

SippPeer::~SippPeer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

int SippPeer::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  const absl::Time until = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (absl::Now() >= until) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = 0;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string SippPeer::Messages() const {
  std::ifstream in(dir_ + "/messages.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string SippPeer::Errors() const {
  std::ostringstream out;
  for (const char* name : {"/errors.log", "/messages.log", "/screen.log"}) {
    std::ifstream in(dir_ + name);
    if (in) out << "--- " << name << "\n" << in.rdbuf() << "\n";
  }
  std::string text = out.str();
  if (text.size() > 6000) text = text.substr(text.size() - 6000);
  return text;
}

}  // namespace parley::sip::testing
