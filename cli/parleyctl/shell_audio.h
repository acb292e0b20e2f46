// `parleyctl phone --audio`: a callee::LiveAudio that talks through two shell commands — one
// writing the callee's audio (raw 16 kHz signed 16-bit little-endian mono) on its stdout, one
// reading the agent's audio in that format on its stdin. By default sox's `rec` and `play`, so a
// person at the local sound card talks to the agent; tests use files (`cat f.raw`, `cat > out`).
//
//   PARLEY_RETURN_IF_ERROR(ShellAudio::Probe(kRecCommand, kPlayCommand));  // no sound card?
//   options.live_audio = [](const parley::v1::Invite&) -> absl::StatusOr<...> {
//     return ShellAudio::Start(kRecCommand, kPlayCommand); };
//
// Reading and writing never block the call's 20 ms tick: the input is read as it comes (a
// source faster than real time, such as a file, is held back by the pipe and paced by the tick);
// output that the command does not take in time is dropped beyond one second.
#pragma once

#include <sys/types.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/callee/persona_endpoint.h"

namespace parley::cli {

inline constexpr char kRecCommand[] = "rec -q -t raw -r 16000 -e signed -b 16 -c 1 -";
inline constexpr char kPlayCommand[] = "play -q -t raw -r 16000 -e signed -b 16 -c 1 -";

class ShellAudio final : public callee::LiveAudio {
 public:
  // Starts `in_command` and `out_command` with /bin/sh, each in its own process group; their
  // stderr goes to `in_stderr_fd` and `out_stderr_fd` (-1: ours). Fails with INTERNAL when a pipe
  // or fork fails.
  static absl::StatusOr<std::unique_ptr<ShellAudio>> Start(const std::string& in_command,
                                                           const std::string& out_command,
                                                           int in_stderr_fd = -1,
                                                           int out_stderr_fd = -1);
  // Starts both commands for `wait`, then stops them: OK unless one exited with a failure by
  // then; FAILED_PRECONDITION "`<command>` failed: <its last line of stderr>" (e.g. sox
  // without a sound card).
  static absl::Status Probe(const std::string& in_command, const std::string& out_command,
                            absl::Duration wait = absl::Milliseconds(700));
  // Closes the pipes and ends both commands (the output one gets a second to finish writing).
  ~ShellAudio() override;

  bool NextFrame(std::span<int16_t> frame) override;
  void Play(std::span<const int16_t> frame) override;

 private:
  struct Child {
    pid_t pid = -1;
    int fd = -1;         // our end of its stdin or stdout pipe
    int exit_code = -1;  // once reaped: exit status, or 128 + signal
  };
  ShellAudio() = default;
  static absl::StatusOr<Child> Spawn(const std::string& command, bool child_writes, int stderr_fd);
  // Reaps `child` if it has exited (without waiting); returns whether it has.
  static bool Exited(Child& child);
  static void Stop(Child& child, absl::Duration grace);

  Child in_, out_;
  std::vector<char> partial_;  // input bytes of the frame being read
  std::vector<char> pending_;  // output bytes the command has not taken yet
};

}  // namespace parley::cli
