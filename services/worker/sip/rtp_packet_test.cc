#include "services/worker/sip/rtp_packet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace parley::sip {
namespace {

TEST(RtpPacketTest, BuildThenParseKeepsEveryField) {
  std::string wire = BuildRtp(
      {.payload_type = 8, .marker = true, .sequence = 65535, .timestamp = 0xdeadbeef, .ssrc = 7},
      "abc");
  ASSERT_EQ(wire.size(), 15u);
  absl::StatusOr<RtpPacket> p = ParseRtp(wire);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->payload_type, 8);
  EXPECT_TRUE(p->marker);
  EXPECT_EQ(p->sequence, 65535);
  EXPECT_EQ(p->timestamp, 0xdeadbeefu);
  EXPECT_EQ(p->ssrc, 7u);
  EXPECT_EQ(p->payload, "abc");
}

TEST(RtpPacketTest, SkipsCsrcExtensionAndPadding) {
  std::string wire = BuildRtp({.payload_type = 0, .sequence = 1, .timestamp = 2, .ssrc = 3}, "");
  wire[0] = static_cast<char>(0x80 | 0x20 | 0x10 | 0x01);  // padding, extension, one CSRC
  wire += std::string("\x00\x00\x00\x09", 4);              // CSRC
  wire += std::string("\xbe\xde\x00\x01", 4);              // extension header, 1 word
  wire += std::string("\x01\x02\x03\x04", 4);              // extension word
  wire += "PAY";
  wire += std::string("\x00\x00\x03", 3);  // 3 bytes of padding
  absl::StatusOr<RtpPacket> p = ParseRtp(wire);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->payload, "PAY");
}

TEST(RtpPacketTest, RejectsWhatIsNotRtp) {
  EXPECT_FALSE(ParseRtp("short").ok());
  std::string wire = BuildRtp({}, "x");
  wire[0] = 0x40;  // version 1
  EXPECT_FALSE(ParseRtp(wire).ok());
  wire = BuildRtp({}, "x");
  wire[0] = static_cast<char>(0x8f);  // 15 CSRCs that are not there
  EXPECT_FALSE(ParseRtp(wire).ok());
  wire = BuildRtp({}, "x");
  wire[0] = static_cast<char>(0xa0);  // padding longer than the payload
  wire.back() = 9;
  EXPECT_FALSE(ParseRtp(wire).ok());
}

TEST(RtcpTest, WalksACompoundPacket) {
  std::string rr = BuildRtcpReceiverReport(0x01020304);
  EXPECT_TRUE(IsRtcp(rr));
  EXPECT_FALSE(IsRtcp(BuildRtp({.payload_type = 0}, "x")));
  absl::StatusOr<std::vector<RtcpPacketInfo>> packets = ParseRtcp(rr + rr);
  ASSERT_TRUE(packets.ok()) << packets.status();
  ASSERT_EQ(packets->size(), 2u);
  EXPECT_EQ((*packets)[0].type, 201);
  EXPECT_EQ((*packets)[1].ssrc, 0x01020304u);
  EXPECT_FALSE(ParseRtcp(rr.substr(0, 6)).ok());
  std::string longer = rr;
  longer[3] = 9;  // claims 40 bytes
  EXPECT_FALSE(ParseRtcp(longer).ok());
}

TEST(TelephoneEventTest, RoundTripsAndNamesKeys) {
  TelephoneEvent e{.event = 11, .end = true, .volume = 10, .duration = 800};
  absl::StatusOr<TelephoneEvent> back = ParseTelephoneEvent(BuildTelephoneEvent(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->event, 11);
  EXPECT_TRUE(back->end);
  EXPECT_EQ(back->volume, 10);
  EXPECT_EQ(back->duration, 800);
  EXPECT_EQ(TelephoneEventDigit(11), "#");
  EXPECT_EQ(TelephoneEventDigit(10), "*");
  EXPECT_EQ(TelephoneEventDigit(15), "D");
  EXPECT_EQ(TelephoneEventDigit(16), "");
  EXPECT_EQ(TelephoneEventCode("7"), 7);
  EXPECT_EQ(TelephoneEventCode("A"), 12);
  EXPECT_EQ(TelephoneEventCode("x"), -1);
  EXPECT_FALSE(ParseTelephoneEvent("abc").ok());
}

TEST(G711Test, KnownCodesAndSmallRoundTripError) {
  // Reference points of the G.711 tables.
  EXPECT_EQ(LinearToUlaw(0), 0xff);
  EXPECT_EQ(UlawToLinear(0xff), 0);
  EXPECT_EQ(LinearToUlaw(32767), 0x80);
  EXPECT_EQ(LinearToUlaw(-32768), 0x00);
  EXPECT_EQ(LinearToAlaw(0), 0xd5);
  EXPECT_EQ(AlawToLinear(0xd5), 8);
  for (int s = -32768; s <= 32767; s += 7) {
    const auto v = static_cast<int16_t>(s);
    const int tolerance = std::max(16, std::abs(s) / 16);  // ~4 bits of mantissa
    EXPECT_NEAR(UlawToLinear(LinearToUlaw(v)), v, tolerance) << s;
    EXPECT_NEAR(AlawToLinear(LinearToAlaw(v)), v, tolerance) << s;
  }
  std::vector<int16_t> pcm = {0, 1000, -1000, 20000};
  EXPECT_EQ(DecodeG711(EncodeG711(pcm, false), false).size(), 4u);
}

}  // namespace
}  // namespace parley::sip
