// The pure parts of taking calls in: which number an INVITE is for, and the SDP answer (read back
// with the same parser an offer goes through).
#include "services/worker/sip/sip_inbound.h"

#include <gtest/gtest.h>

#include "services/worker/sip/sdp.h"

namespace parley::sip {
namespace {

TEST(InboundNumberTest, NormalisesTheUserPartToE164) {
  EXPECT_EQ(InboundNumber("+14155550123", "US"), "+14155550123");
  EXPECT_EQ(InboundNumber("14155550123", "US"), "+14155550123");
  EXPECT_EQ(InboundNumber("4155550123", "US"), "+14155550123");
  EXPECT_EQ(InboundNumber("+1-415-555-0123;npdi", "US"), "+14155550123");
  EXPECT_EQ(InboundNumber("442079460958", "US"), "+442079460958");
  EXPECT_EQ(InboundNumber("02079460958", "GB"), "+442079460958");
}

TEST(InboundNumberTest, NamesAndNonsenseAreNoNumber) {
  EXPECT_EQ(InboundNumber("", "US"), "");
  EXPECT_EQ(InboundNumber("alice", "US"), "");
  EXPECT_EQ(InboundNumber("+", "US"), "");
  EXPECT_EQ(InboundNumber("123", "US"), "");
  EXPECT_EQ(InboundNumber("1-800-FLOWERS", "US"), "");
}

TEST(SdpAnswerTest, AnswersWithTheOffersPayloadTypes) {
  const std::string offer =
      "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 96 0 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:97 telephone-event/48000\r\n";
  absl::StatusOr<MediaAnswer> media = ReadSdpAnswer(offer, {"opus", "pcmu"});
  ASSERT_TRUE(media.ok()) << media.status();
  EXPECT_EQ(media->codec.name, "opus");
  EXPECT_EQ(media->codec.payload_type, 96);
  const std::string answer = BuildSdpAnswer("192.0.2.10", 10002, *media, 7);
  absl::StatusOr<MediaAnswer> back = ReadSdpAnswer(answer, {"opus", "pcmu"});
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << answer;
  EXPECT_EQ(back->address, "192.0.2.10");
  EXPECT_EQ(back->port, 10002);
  EXPECT_EQ(back->codec.name, "opus");
  EXPECT_EQ(back->codec.payload_type, 96);
  EXPECT_EQ(back->dtmf_payload_type, 97);
  EXPECT_EQ(answer.find("PCMU"), std::string::npos) << "one codec in an answer";
}

TEST(SdpAnswerTest, G711WithoutTelephoneEvents) {
  const std::string offer =
      "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
  absl::StatusOr<MediaAnswer> media = ReadSdpAnswer(offer, {"opus", "pcmu", "pcma"});
  ASSERT_TRUE(media.ok()) << media.status();
  const std::string answer = BuildSdpAnswer("192.0.2.10", 10002, *media, 7);
  EXPECT_NE(answer.find("m=audio 10002 RTP/AVP 8\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("a=rtpmap:8 PCMA/8000\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("telephone-event"), std::string::npos) << answer;
}

}  // namespace
}  // namespace parley::sip
