// Test support: sipp (Debian's sip-tester) as the far end of a SIP trunk. Each SippPeer runs one
// sipp process as a UAS with one of the scenarios in testing/scenarios/, on a free loopback port,
// echoing RTP (-rtp_echo) on a media port of its own, for one call.
//
//   SippPeer peer = SippPeer::Start("answer.xml", {{"ring_ms", "300"}});
//   … dial sip:+1…@127.0.0.1:peer.port() …
//   EXPECT_EQ(peer.Wait(absl::Seconds(20)), 0);   // sipp's exit code: 0 when the scenario passed
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace parley::sip::testing {

class SippPeer final {
 public:
  // Starts sipp with `scenario` (a file name under the scenarios directory) and `-key` values.
  // Aborts the test binary when sipp cannot be started.
  // `extra_args` go on sipp's command line as they are (a UAC scenario: {"-s", "+1…",
  // "127.0.0.1:5060"}).
  static SippPeer Start(const std::string& scenario,
                        const std::map<std::string, std::string>& keys = {},
                        const std::vector<std::string>& extra_args = {});
  SippPeer(SippPeer&& other) noexcept;
  SippPeer& operator=(SippPeer&&) = delete;
  ~SippPeer();  // kills sipp if it still runs

  int port() const { return port_; }
  int media_port() const { return media_port_; }
  // sipp's exit code once it exited (0: the scenario ran to its end), or -1 on timeout (sipp is
  // killed then).
  int Wait(absl::Duration timeout);
  // The tail of what sipp logged (errors, messages, screen), for failure messages.
  std::string Errors() const;
  // Every SIP message sipp sent and received, as it logged them (complete once it exited).
  std::string Messages() const;

 private:
  SippPeer(pid_t pid, int port, int media_port, std::string dir)
      : pid_(pid), port_(port), media_port_(media_port), dir_(std::move(dir)) {}
  pid_t pid_;
  int port_;
  int media_port_;
  std::string dir_;
};

// A free even UDP port on 127.0.0.1, in [kLoopbackPortMin, kLoopbackPortMax], with the next port
// free too (for RTCP) and the port also free for TCP (sipp and baresip listen on both).
inline constexpr int kLoopbackPortMin = 61000;
inline constexpr int kLoopbackPortMax = 64998;
int FreeLoopbackPort();

}  // namespace parley::sip::testing
