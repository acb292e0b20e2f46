#include "services/worker/sip/sdp.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace parley::sip {
namespace {

TEST(SdpTest, OfferListsCodecsInOrderWithTelephoneEvents) {
  std::string offer = BuildSdpOffer(
      {.address = "192.0.2.10", .rtp_port = 10002, .codecs = {"pcma", "opus"}, .session_id = 5});
  EXPECT_TRUE(absl::StrContains(offer, "m=audio 10002 RTP/AVP 8 111 101 102\r\n")) << offer;
  EXPECT_TRUE(absl::StrContains(offer, "c=IN IP4 192.0.2.10\r\n"));
  EXPECT_TRUE(absl::StrContains(offer, "a=rtpmap:111 opus/48000/2\r\n"));
  EXPECT_TRUE(absl::StrContains(offer, "a=rtpmap:101 telephone-event/8000\r\n"));
  EXPECT_TRUE(absl::StrContains(offer, "a=rtpmap:102 telephone-event/48000\r\n"));
  // The offer reads back as an answer to itself: the first codec, the matching event clock.
  absl::StatusOr<MediaAnswer> self = ReadSdpAnswer(offer, {"pcma", "opus"});
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->codec.name, "pcma");
  EXPECT_EQ(self->dtmf_payload_type, 101);
}

TEST(SdpTest, AnswerPicksItsFirstCodecThatWeOffered) {
  const std::string answer =
      "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 96 0 100\r\na=rtpmap:96 opus/48000/2\r\n"
      "a=rtpmap:100 telephone-event/48000\r\na=sendrecv\r\n";
  absl::StatusOr<MediaAnswer> a = ReadSdpAnswer(answer, {"pcmu", "opus"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->address, "10.0.0.1");
  EXPECT_EQ(a->port, 4000);
  EXPECT_EQ(a->codec.name, "opus");
  EXPECT_EQ(a->codec.payload_type, 96);  // the answerer's number
  EXPECT_EQ(a->codec.clock_rate, 48000);
  EXPECT_EQ(a->dtmf_payload_type, 100);
  EXPECT_TRUE(a->send_audio);
  // Only PCMU offered: the static payload type 0 without rtpmap.
  a = ReadSdpAnswer(answer, {"pcmu"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->codec.name, "pcmu");
  EXPECT_EQ(a->codec.payload_type, 0);
}

TEST(SdpTest, RejectsUnusableAnswers) {
  EXPECT_FALSE(ReadSdpAnswer("", {"pcmu"}).ok());
  EXPECT_FALSE(ReadSdpAnswer("not sdp at all", {"pcmu"}).ok());
  const std::string head =
      "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";
  EXPECT_FALSE(ReadSdpAnswer(head + "m=audio 0 RTP/AVP 0\r\n", {"pcmu"}).ok());      // rejected
  EXPECT_FALSE(ReadSdpAnswer(head + "m=video 4000 RTP/AVP 31\r\n", {"pcmu"}).ok());  // no audio
  EXPECT_FALSE(ReadSdpAnswer(head + "m=audio 4000 RTP/AVP 8\r\n", {"pcmu"}).ok());   // no codec
  // sofia-sip's parser never returns for these (found by fuzz/sdp_fuzz.cc): refused up front.
  EXPECT_FALSE(ReadSdpAnswer(head + "m=audio 6000 RT,/AVP 0\r\n", {"pcmu"}).ok());
  EXPECT_FALSE(ReadSdpAnswer(head + "m=audio 6000 RT;/AVP 0\r\n", {"pcmu"}).ok());
  absl::StatusOr<MediaAnswer> held =
      ReadSdpAnswer(head + "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", {"pcmu"});
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(held->send_audio);
}

// A re-INVITE's offer read as MediaAnswer: the answer mirrors its direction (RFC 3264 §6.1).
TEST(SdpTest, AnswerDirectionMirrorsTheOffer) {
  const std::string head =
      "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0\r\n";
  const std::pair<std::string, std::string> cases[] = {{"a=sendonly\r\n", "recvonly"},
                                                       {"a=inactive\r\n", "inactive"},
                                                       {"a=recvonly\r\n", "sendonly"},
                                                       {"a=sendrecv\r\n", "sendrecv"},
                                                       {"", "sendrecv"}};
  for (const auto& [attribute, expected] : cases) {
    absl::StatusOr<MediaAnswer> offer = ReadSdpAnswer(head + attribute, {"pcmu"});
    ASSERT_TRUE(offer.ok()) << offer.status();
    EXPECT_EQ(AnswerDirection(*offer), expected) << attribute;
  }
  const std::string answer = BuildSdpOffer({.address = "192.0.2.10",
                                            .rtp_port = 10002,
                                            .codecs = {"pcmu"},
                                            .session_id = 5,
                                            .version = 3,
                                            .direction = "recvonly"});
  EXPECT_TRUE(absl::StrContains(answer, "o=parley 5 3 IN IP4")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "a=recvonly\r\n")) << answer;
  EXPECT_FALSE(absl::StrContains(answer, "a=sendrecv")) << answer;
}

// An inbound call's answer to a hold re-INVITE: our first answer with the mirrored direction
// and the next o= version; unchanged (same version) when the direction stays.
TEST(SdpTest, WithDirectionChangesTheDirectionAndTheVersion) {
  const std::string sdp =
      "v=0\r\no=parley 7 1 IN IP4 192.0.2.10\r\ns=parley\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
      "m=audio 10002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n";
  const std::string held = WithDirection(sdp, "recvonly");
  EXPECT_TRUE(absl::StrContains(held, "o=parley 7 2 IN IP4 192.0.2.10\r\n")) << held;
  EXPECT_TRUE(absl::StrContains(held, "a=recvonly\r\n")) << held;
  EXPECT_FALSE(absl::StrContains(held, "a=sendrecv")) << held;
  EXPECT_EQ(WithDirection(held, "recvonly"), held);
  const std::string resumed = WithDirection(held, "sendrecv");
  EXPECT_TRUE(absl::StrContains(resumed, "o=parley 7 3 IN")) << resumed;
  EXPECT_TRUE(absl::StrContains(resumed, "a=sendrecv\r\n")) << resumed;
  const std::string bare = WithDirection("v=0\r\no=- 1 5 IN IP4 10.0.0.1\r\n", "inactive");
  EXPECT_EQ(bare, "v=0\r\no=- 1 6 IN IP4 10.0.0.1\r\na=inactive\r\n");
}

}  // namespace
}  // namespace parley::sip
