// Two RTP sessions on loopback talking to each other: audio in each codec survives the trip at
// 16 kHz, a lost packet is concealed, DTMF arrives as its key, symmetric RTP answers the source.
#include "services/worker/sip/rtp_session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/audio/tone.h"

namespace parley::sip {
namespace {

struct Heard {
  absl::Mutex mu;
  std::vector<int16_t> samples;
  std::vector<std::string> digits;
  RtpCallbacks Callbacks() {
    return {.on_audio =
                [this](const audio::PcmFrame& f) {
                  absl::MutexLock lock(&mu);
                  samples.insert(samples.end(), f.samples.begin(), f.samples.end());
                },
            .on_dtmf =
                [this](const std::string& d) {
                  absl::MutexLock lock(&mu);
                  digits.push_back(d);
                }};
  }
};

MediaAnswer To(const RtpSession& peer, const std::string& codec) {
  MediaAnswer a;
  a.address = "127.0.0.1";
  a.port = peer.port();
  a.codec = *CodecByName(codec);
  a.dtmf_payload_type = 101;
  return a;
}

std::unique_ptr<RtpSession> Open(
    std::chrono::milliseconds move_settle = RtpSessionOptions().move_settle) {
  auto s = RtpSession::Open({.bind_address = "127.0.0.1",
                             .port_min = 10000,
                             .port_max = 20000,
                             .move_settle = move_settle});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// Sends `frames` frames of a 440 Hz tone, paced at 20 ms, skipping the ones in `lose`.
void SendTone(RtpSession& from, int frames, const std::set<int>& lose = {}) {
  audio::ToneGenerator tone(440, 16000, 8000);
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < frames; ++i) {
    std::vector<int16_t> frame = tone.Next(audio::kFrameSamples);
    if (!lose.contains(i)) {
      ASSERT_TRUE(from.SendFrame(frame, i == 0).ok());
    }
    next += std::chrono::milliseconds(20);
    std::this_thread::sleep_until(next);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the jitter buffer drains
}

class RtpSessionCodecTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RtpSessionCodecTest, ToneArrivesAt16kHz) {
  Heard heard_b;  // declared first: destroyed after the sessions whose callbacks write it
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(To(*b, GetParam()), {}).ok());
  ASSERT_TRUE(b->Start(To(*a, GetParam()), heard_b.Callbacks()).ok());
  SendTone(*a, 50);
  absl::MutexLock lock(&heard_b.mu);
  ASSERT_GE(heard_b.samples.size(), 40u * audio::kFrameSamples);
  std::span<const int16_t> middle(heard_b.samples.data() + 3200, 16 * audio::kFrameSamples * 2);
  // A rate mix-up (8 vs 16 kHz, 48 kHz Opus taken for 44.1) moves the tone by 9 % or more; a few
  // concealed frames on a loaded machine (the sanitizer runs) move it by a few hertz.
  EXPECT_NEAR(audio::ZeroCrossingFrequency(middle, 16000), 440, 25);
  EXPECT_GT(audio::Rms(middle), 3000);
  EXPECT_GE(b->Stats().packets_received, 50);
}

INSTANTIATE_TEST_SUITE_P(Codecs, RtpSessionCodecTest, ::testing::Values("pcmu", "pcma", "opus"));

TEST(RtpSessionTest, LostPacketIsConcealedNotDropped) {
  Heard heard_b;  // declared first: destroyed after the sessions whose callbacks write it
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(To(*b, "pcmu"), {}).ok());
  ASSERT_TRUE(b->Start(To(*a, "pcmu"), heard_b.Callbacks()).ok());
  SendTone(*a, 40, {20});
  EXPECT_GE(b->Stats().frames_concealed, 1);
  EXPECT_EQ(b->Stats().packets_received, 39);
}

TEST(RtpSessionTest, DtmfBothWaysAndSymmetricReturnPath) {
  Heard heard_a, heard_b;  // declared first: destroyed after the sessions
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(To(*b, "pcmu"), heard_a.Callbacks()).ok());
  // b believes a lives on a wrong port: symmetric RTP sends back where a's packets come from.
  MediaAnswer wrong = To(*a, "pcmu");
  wrong.port = a->port() + 100;
  ASSERT_TRUE(b->Start(wrong, heard_b.Callbacks()).ok());
  ASSERT_TRUE(a->SendDtmf("5", 100).ok());
  ASSERT_TRUE(a->SendDtmf("#", 100).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(b->SendDtmf("9", 60).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    absl::MutexLock lock(&heard_b.mu);
    EXPECT_EQ(heard_b.digits, (std::vector<std::string>{"5", "#"}));
  }
  absl::MutexLock lock(&heard_a.mu);
  EXPECT_EQ(heard_a.digits, (std::vector<std::string>{"9"}));
  EXPECT_FALSE(a->SendDtmf("x", 100).ok());
}

// The non-blocking form a shared sending thread uses: one packet per call, the end packets with
// the last, and the key arrives once; audio sent afterwards still plays.
TEST(RtpSessionTest, DtmfPacketByPacketNeverBlocks) {
  Heard heard_b;  // declared first: destroyed after the sessions whose callbacks write it
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(To(*b, "pcmu"), {}).ok());
  ASSERT_TRUE(b->Start(To(*a, "pcmu"), heard_b.Callbacks()).ok());
  absl::StatusOr<RtpSession::DtmfEvent> key = a->BeginDtmf("3", 100);
  ASSERT_TRUE(key.ok()) << key.status();
  int calls = 0;
  auto next = std::chrono::steady_clock::now();
  while (!a->SendDtmfPacket(*key)) {
    ++calls;
    next += std::chrono::milliseconds(20);
    std::this_thread::sleep_until(next);
  }
  EXPECT_EQ(calls, 4);  // 100 ms: packets 1-4 one at a time, then 5 with the two repeats
  EXPECT_EQ(a->Stats().packets_sent, 7);
  EXPECT_FALSE(a->BeginDtmf("x", 100).ok());
  SendTone(*a, 10);
  absl::MutexLock lock(&heard_b.mu);
  EXPECT_EQ(heard_b.digits, (std::vector<std::string>{"3"}));
}

}  // namespace
// Stop runs on two threads at once when the callee's BYE (the SIP stack's thread) and the
// session closing the leg meet: both return, and the receive thread is joined once. (Before,
// both joined it: the second join waited forever on a thread that was gone.)
TEST(RtpSessionTest, StopOnTwoThreadsAtOnceReturnsOnBoth) {
  for (int round = 0; round < 50; ++round) {
    auto a = Open();
    auto b = Open();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(a->Start(To(*b, "pcmu"), {}).ok());
    std::atomic<int> ready{0};
    auto stop = [&] {
      ++ready;
      while (ready < 2) {
      }
      a->Stop();
    };
    std::thread one(stop);
    std::thread two(stop);
    one.join();
    two.join();
    EXPECT_FALSE(a->SendFrame(std::vector<int16_t>(320), false).ok());
  }
}

// A mid-call offer moves the peer's media to another address: our packets go there at once,
// before anything came from there, and packets still arriving from the old address right after
// do not pull them back. The same address, 0.0.0.0 (an old-style hold) or a name move nothing.
TEST(RtpSessionTest, MoveRemoteSendsToTheNewAddress) {
  Heard heard_b, heard_c;  // declared first: destroyed after the sessions
  // The old address's late packets below come within a fraction of a second of the move; the
  // settle time is long enough that a slow machine does not make them look like the peer's.
  auto a = Open(std::chrono::seconds(10));
  auto b = Open();
  auto c = Open();
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(a->Start(To(*b, "pcmu"), {}).ok());
  ASSERT_TRUE(b->Start(To(*a, "pcmu"), heard_b.Callbacks()).ok());
  ASSERT_TRUE(c->Start(To(*a, "pcmu"), heard_c.Callbacks()).ok());
  SendTone(*a, 10);
  EXPECT_EQ(b->Stats().packets_received, 10);
  EXPECT_FALSE(a->MoveRemote("127.0.0.1", b->port()));
  EXPECT_FALSE(a->MoveRemote("0.0.0.0", c->port()));
  EXPECT_FALSE(a->MoveRemote("localhost", c->port()));
  ASSERT_TRUE(a->MoveRemote("127.0.0.1", c->port()));
  SendTone(*b, 5);  // late packets from the old address
  SendTone(*a, 10);
  EXPECT_EQ(b->Stats().packets_received, 10);
  EXPECT_EQ(c->Stats().packets_received, 10);
}

// Packets from the old address after the settle time are the peer's own (a NAT that kept its
// mapping while the SDP changed): symmetric RTP follows them again.
TEST(RtpSessionTest, MoveRemoteGivesWayToThePeersOwnPacketsLater) {
  auto a = Open(std::chrono::milliseconds(100));
  auto b = Open();
  auto c = Open();
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(a->Start(To(*b, "pcmu"), {}).ok());
  ASSERT_TRUE(b->Start(To(*a, "pcmu"), {}).ok());
  ASSERT_TRUE(c->Start(To(*a, "pcmu"), {}).ok());
  SendTone(*b, 5);  // a latches on b
  ASSERT_TRUE(a->MoveRemote("127.0.0.1", c->port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the settle time
  SendTone(*b, 5);
  SendTone(*a, 10);
  EXPECT_EQ(b->Stats().packets_received, 10);
  EXPECT_EQ(c->Stats().packets_received, 0);
}

}  // namespace parley::sip
