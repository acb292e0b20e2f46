#include "services/worker/sip/sipfrag.h"

#include <gtest/gtest.h>

namespace parley::sip {
namespace {

TEST(SipfragTest, ReadsTheStatusLine) {
  std::optional<SipfragStatus> ok = ReadSipfragStatus("SIP/2.0 200 OK\r\n");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->code, 200);
  EXPECT_EQ(ok->line, "SIP/2.0 200 OK");
  std::optional<SipfragStatus> declined =
      ReadSipfragStatus("SIP/2.0 603 Declined\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(declined.has_value());
  EXPECT_EQ(declined->code, 603);
  EXPECT_EQ(declined->line, "SIP/2.0 603 Declined");
  std::optional<SipfragStatus> bare = ReadSipfragStatus("SIP/2.0 180");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->code, 180);
}

TEST(SipfragTest, RejectsWhatIsNotAStatusLine) {
  for (const char* body :
       {"", "SIP/2.0", "SIP/2.0 20 OK", "SIP/2.0 2000 OK", "SIP/3.0 200 OK", "SIP/2.0 099 Low",
        "SIP/2.0 700 High", "SIP/2.0 2x0 OK", "INVITE sip:bob@example.com SIP/2.0\r\n"}) {
    EXPECT_FALSE(ReadSipfragStatus(body).has_value()) << body;
  }
}

}  // namespace
}  // namespace parley::sip
