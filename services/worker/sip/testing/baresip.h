// Test support: baresip (Debian's baresip-core), a real softphone, as the callee of a SIP call.
// It listens on a free loopback port, answers every call at once (answermode=auto), speaks a WAV
// file of ours (aufile) and records what it hears: the sndfile filter writes the decoded far-end
// audio of each call to <dir>/dump-<call>-dec.wav.
//
//   BaresipPeer phone = BaresipPeer::Start({.speak_wav = "/tmp/callee.wav"});
//   … dial sip:+1…@127.0.0.1:phone.port() …
//   std::optional<std::string> heard = phone.Recording();   // the -dec.wav, once it exists
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace parley::sip::testing {

struct BaresipOptions {
  std::string number = "+14155550142";  // the user part it answers to (the dialed number)
  std::string speak_wav;                // what the phone says (mono WAV at the codec's rate)
  std::string codecs = "g711.so";       // baresip codec modules to load, e.g. "opus.so g711.so"
};

class BaresipPeer final {
 public:
  // Starts baresip; aborts the test binary when it cannot.
  static BaresipPeer Start(const BaresipOptions& options);
  BaresipPeer(BaresipPeer&& other) noexcept;
  BaresipPeer& operator=(BaresipPeer&&) = delete;
  ~BaresipPeer();  // stops baresip

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // The path of the first call's recording of what baresip heard, once the file exists.
  std::optional<std::string> Recording() const;
  // Stops baresip (SIGTERM, then SIGKILL) so that its recordings are complete.
  void Stop();
  // baresip's console output, for failure messages.
  std::string Log() const;

 private:
  BaresipPeer(pid_t pid, int port, std::string dir)
      : pid_(pid), port_(port), dir_(std::move(dir)) {}
  pid_t pid_;
  int port_;
  std::string dir_;
};

}  // namespace parley::sip::testing
