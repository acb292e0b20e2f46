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
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"

extern char** environ;

namespace parley::sip::testing {

int FreeLoopbackPort() {
  // Above Linux's ephemeral range (32768-60999 by default): a port the kernel picked would be free
  // now but could become the local port of some test's outgoing TCP connection (gRPC, Redis,
  // Postgres) before sipp or baresip binds it. Random, so parallel test binaries rarely meet; and
  // the trunks in the tests take their RTP ports from 10000-20000, out of this range too.
  static thread_local std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pick(kLoopbackPortMin / 2, kLoopbackPortMax / 2);
  for (int tries = 0; tries < 1000; ++tries) {
    // RTP wants an even port with the next one free too; keep every port usable for either.
    const int port = pick(rng) * 2;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sockaddr_in next = sa;
    next.sin_port = htons(static_cast<uint16_t>(port + 1));
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    int udp2 = socket(AF_INET, SOCK_DGRAM, 0);
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    const bool ok = bind(udp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
                    bind(udp2, reinterpret_cast<sockaddr*>(&next), sizeof(next)) == 0 &&
                    bind(tcp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    close(udp);
    close(udp2);
    close(tcp);
    if (ok) return port;
  }
  std::fprintf(stderr, "FreeLoopbackPort: no free port in [%d, %d]\n", kLoopbackPortMin,
               kLoopbackPortMax);
  std::abort();
}

namespace {

// Starts one sipp process for `scenario_path` on `port` (SIP) and `media_port` (RTP echo), its
// output in `dir`.
pid_t SpawnSipp(const std::string& dir, const std::string& scenario_path, int port, int media_port,
                const std::map<std::string, std::string>& keys,
                const std::vector<std::string>& extra_args) {
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
  return pid;
}

bool LogSays(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find(what) != std::string::npos;
}

}  // namespace

SippPeer SippPeer::Start(const std::string& scenario,
                         const std::map<std::string, std::string>& keys,
                         const std::vector<std::string>& extra_args) {
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
  // A port picked free can still be taken by another test before sipp binds it; sipp then exits at
  // once ("Unable to bind"), and it is started again on other ports.
  for (int attempt = 1;; ++attempt) {
    const int port = FreeLoopbackPort();
    int media_port = FreeLoopbackPort();
    while (media_port == port) media_port = FreeLoopbackPort();
    const pid_t pid = SpawnSipp(dir, scenario_path, port, media_port, keys, extra_args);
    // sipp is ready once it listens; give it a moment (it binds within milliseconds).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // WNOWAIT: a sipp that exited for another reason stays unreaped, for Wait() to read its code.
    siginfo_t exited{};
    if (attempt < 5 && waitid(P_PID, pid, &exited, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        exited.si_pid == pid && LogSays(absl::StrCat(dir, "/screen.log"), "Unable to bind")) {
      waitpid(pid, nullptr, 0);
      std::fprintf(stderr, "sipp: port %d or %d was taken; starting it again\n", port, media_port);
      continue;
    }
    return SippPeer(pid, port, media_port, dir);
  }
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
