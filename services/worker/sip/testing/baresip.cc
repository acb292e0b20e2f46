#include "services/worker/sip/testing/baresip.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/worker/sip/testing/sipp.h"

extern char** environ;

namespace parley::sip::testing {

namespace {

// Writes baresip's config for SIP on `port` and RTP on `rtp`/`rtp + 1` into `dir`.
void WriteConfig(const BaresipOptions& options, const std::string& dir, int port, int rtp) {
  std::ofstream config(absl::StrCat(dir, "/config"));
  config << "poll_method epoll\n"
         << "sip_listen 127.0.0.1:" << port << "\n"
         << "audio_source aufile," << options.speak_wav << "\n"
         << "audio_alert aufile," << options.speak_wav << "\n"
         << "audio_player aufile,/dev/null\n"
         << "rtp_ports " << rtp << "-" << rtp + 1 << "\n"
         << "module_path /usr/lib/baresip/modules\n";
  for (absl::string_view module : absl::StrSplit(options.codecs, ' ', absl::SkipEmpty())) {
    config << "module " << module << "\n";
  }
  config << "module aufile.so\nmodule sndfile.so\nmodule_app account.so\n"
         << "snd_path " << dir << "\n";
  config.close();
  std::ofstream(absl::StrCat(dir, "/accounts"))
      << "<sip:" << options.number << "@127.0.0.1>;regint=0;answermode=auto\n";
}

pid_t SpawnBaresip(const std::string& dir) {
  std::vector<std::string> args = {"baresip", "-f", dir};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = absl::StrCat(dir, "/console.log");
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "baresip", &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "baresip: cannot start (is baresip-core installed?)\n");
    std::abort();
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

BaresipPeer BaresipPeer::Start(const BaresipOptions& options) {
  char dir_template[] = "/tmp/parley-baresip-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) std::abort();
  // A port picked free can still be taken by another test before baresip binds it; baresip then
  // stops with "init failed", and it is started again on other ports.
  for (int attempt = 1;; ++attempt) {
    const int port = FreeLoopbackPort();
    int rtp = FreeLoopbackPort();
    while (rtp == port) rtp = FreeLoopbackPort();
    WriteConfig(options, dir, port, rtp);
    BaresipPeer peer(SpawnBaresip(dir), port, dir);
    for (int i = 0; i < 100; ++i) {
      const std::string log = peer.Log();
      if (log.find("baresip is ready") != std::string::npos) return peer;
      if (log.find("init failed") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (attempt == 5 || peer.Log().find("init failed") == std::string::npos) return peer;
    std::fprintf(stderr, "baresip: port %d or %d was taken; starting it again\n", port, rtp);
    peer.Stop();
  }
}

BaresipPeer::BaresipPeer(BaresipPeer&& other) noexcept
    : pid_(other.pid_), port_(other.port_), dir_(other.dir_) {
  other.pid_ = 0;
}

BaresipPeer::~BaresipPeer() { Stop(); }

void BaresipPeer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

std::optional<std::string> BaresipPeer::Recording() const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("dump-", 0) == 0 && name.size() > 8 &&
        name.compare(name.size() - 8, 8, "-dec.wav") == 0) {
      return entry.path().string();
    }
  }
  return std::nullopt;
}

std::string BaresipPeer::Log() const {
  std::ifstream in(dir_ + "/console.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace parley::sip::testing
