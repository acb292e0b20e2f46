#include "common/phone/phone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/phone/time_zone_table.h"

namespace parley::phone {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Normalized(std::string_view input, std::string_view region) {
  auto e164 = NormalizeE164(input, region);
  EXPECT_TRUE(e164.ok()) << input << " [" << region << "]: " << e164.status();
  return e164.ok() ? *e164 : "";
}

std::string Error(std::string_view input, std::string_view region, std::string_view field = "to") {
  auto e164 = NormalizeE164(input, region, field);
  EXPECT_EQ(e164.status().code(), absl::StatusCode::kInvalidArgument) << input;
  return std::string(e164.status().message());
}

TEST(NormalizeE164Test, HumanFormats) {
  EXPECT_EQ(Normalized("(415) 555-2671", "US"), "+14155552671");
  EXPECT_EQ(Normalized("415.555.2671", "us"), "+14155552671");
  EXPECT_EQ(Normalized("  +1 415 555 2671 ", ""), "+14155552671");
  EXPECT_EQ(Normalized("+44 20 7946 0958", "US"), "+442079460958");
  EXPECT_EQ(Normalized("020 7946 0958", "GB"), "+442079460958");
  EXPECT_EQ(Normalized("00 49 30 901820", "DE"), "+4930901820");
  EXPECT_EQ(Normalized("00 49 30 901820", "GB"), "+4930901820");
  EXPECT_EQ(Normalized("011 49 30 901820", "US"), "+4930901820");
  EXPECT_EQ(Normalized("tel:+1-415-555-2671", "US"), "+14155552671");
  EXPECT_EQ(Normalized("TEL:+1-415-555-2671", "GB"), "+14155552671");
  EXPECT_EQ(Normalized("+14155552671", "US"), "+14155552671");
}

TEST(NormalizeE164Test, DoubleZeroPrefixWhereTheRegionDialsAnother) {
  EXPECT_EQ(Normalized("00 49 30 901820", "US"), "+4930901820");
  EXPECT_EQ(Normalized("0044 20 7946 0958", ""), "+442079460958");
}

// Found by the phone_normalize fuzz target: the metadata takes +431110 as valid, IsE164 (7+
// digits) does not, so NormalizeE164 must refuse it rather than return it.
TEST(NormalizeE164Test, NumbersShorterThanSevenDigitsAreRefused) {
  absl::StatusOr<std::string> e164 = NormalizeE164("004311-10", "US");
  EXPECT_EQ(e164.status().code(), absl::StatusCode::kInvalidArgument) << e164.value_or("");
  EXPECT_THAT(std::string(e164.status().message()), HasSubstr("fewer than 7 digits"));
}

TEST(NormalizeE164Test, Empty) {
  EXPECT_EQ(Error("", "US"), "to: empty");
  EXPECT_EQ(Error(" \t ", "US"), "to: empty");
  EXPECT_EQ(Error("", "US", "from"), "from: empty");
}

TEST(NormalizeE164Test, NotANumber) {
  EXPECT_EQ(Error("abc", "US"), "to: cannot parse \"abc\" as a phone number");
  EXPECT_EQ(Error("+", "US"), "to: cannot parse \"+\" as a phone number");
  EXPECT_EQ(Error("1", "US"), "to: cannot parse \"1\" as a phone number");
}

TEST(NormalizeE164Test, LettersAreRefused) {
  EXPECT_EQ(Error("1-800-FLOWERS", "US"), "to: cannot parse \"1-800-FLOWERS\" as a phone number");
  EXPECT_EQ(Error("415 555 2671 ext 12", "US"),
            "to: cannot parse \"415 555 2671 ext 12\" as a phone number");
  EXPECT_EQ(Error("call 4155552671", "US"),
            "to: cannot parse \"call 4155552671\" as a phone number");
}

TEST(NormalizeE164Test, ExtensionsAreRefused) {
  EXPECT_EQ(Error("+1 415 555 2671#12", "US"), "to: extensions are not supported");
}

TEST(NormalizeE164Test, InvalidForRegion) {
  EXPECT_EQ(Error("123", "US"), "to: not a valid number for region US");       // too short
  EXPECT_EQ(Error("555-2671", "US"), "to: not a valid number for region US");  // no area code
  EXPECT_EQ(Error("(555) 555-5555", "US"), "to: not a valid number for region US");
  EXPECT_EQ(Error("+44 20 7946 09580000", "US"), "to: not a valid number for region GB");
  EXPECT_EQ(Error("2125550123", "GB"), "to: not a valid number for region GB");
}

// Found by fuzzing (common/phone/fuzz): libphonenumber takes this as a valid German number, whose
// E.164 form would have 17 digits — which IsE164 (rightly) refuses.
TEST(NormalizeE164Test, LongerThanE164AllowsIsRefused) {
  EXPECT_EQ(Error("0(415) 555-267161820", "DE"),
            "to: not a valid number for region DE (more than 15 digits)");
  EXPECT_EQ(Error("+49 415 555 267161820", "US"),
            "to: not a valid number for region DE (more than 15 digits)");
}

TEST(NormalizeE164Test, CountryCodeProblems) {
  EXPECT_EQ(Error("+999 1234567", "US"),
            "to: cannot parse \"+999 1234567\" as a phone number (unknown country code)");
  EXPECT_EQ(Error("(415) 555-2671", ""),
            "to: cannot parse \"(415) 555-2671\" as a phone number (no country code, and no "
            "default region to assume one)");
}

TEST(NormalizeE164Test, UnknownRegion) {
  EXPECT_EQ(Error("(415) 555-2671", "XX"), "region: unknown region \"XX\"");
  EXPECT_EQ(Error("(415) 555-2671", "USA"), "region: unknown region \"USA\"");
  EXPECT_EQ(Error("", "XX"), "region: unknown region \"XX\"");
}

TEST(NormalizeE164Test, LongInputIsShortenedInErrors) {
  const std::string input(100, '#');
  const std::string message = Error(input, "US");
  EXPECT_LT(message.size(), 90u);
}

TEST(IsE164Test, AcceptsValidE164Only) {
  EXPECT_TRUE(IsE164("+14155552671"));
  EXPECT_TRUE(IsE164("+442079460958"));
  EXPECT_TRUE(IsE164("+4930901820"));
  EXPECT_FALSE(IsE164(""));
  EXPECT_FALSE(IsE164("14155552671"));        // no '+'
  EXPECT_FALSE(IsE164("+1 415 555 2671"));    // spaces
  EXPECT_FALSE(IsE164("+1-415-555-2671"));    // separators
  EXPECT_FALSE(IsE164("+04155552671"));       // leading zero
  EXPECT_FALSE(IsE164("+123456"));            // too short for the format
  EXPECT_FALSE(IsE164("+1234567890123456"));  // 16 digits
  EXPECT_FALSE(IsE164("+15555555555"));       // right shape, not a valid number
  EXPECT_FALSE(IsE164("+14155552671x"));
  EXPECT_FALSE(IsE164("+9991234567"));  // unknown country code
}

TEST(RegionOfTest, Regions) {
  EXPECT_EQ(RegionOf("+14155552671"), "US");
  EXPECT_EQ(RegionOf("+14165550123"), "CA");
  EXPECT_EQ(RegionOf("+442079460958"), "GB");
  EXPECT_EQ(RegionOf("+4930901820"), "DE");
  EXPECT_EQ(RegionOf("+17875550123"), "PR");
  EXPECT_EQ(RegionOf("+15555555555"), "");
  EXPECT_EQ(RegionOf("not a number"), "");
  EXPECT_EQ(RegionOf(""), "");
}

TEST(TimeZonesOfTest, UsByAreaCode) {
  for (const char* ny : {"+12125550123", "+16465550123", "+19175550123", "+17185550123"}) {
    EXPECT_THAT(TimeZonesOf(ny), ElementsAre("America/New_York")) << ny;
  }
  for (const char* la : {"+14155552671", "+15105550123", "+16505550123", "+14085550123",
                         "+12135550123", "+13105550123", "+18185550123"}) {
    EXPECT_THAT(TimeZonesOf(la), ElementsAre("America/Los_Angeles")) << la;
  }
  EXPECT_THAT(TimeZonesOf("+13125550123"), ElementsAre("America/Chicago"));
  EXPECT_THAT(TimeZonesOf("+17735550123"), ElementsAre("America/Chicago"));
  EXPECT_THAT(TimeZonesOf("+13035550123"), ElementsAre("America/Denver"));
  EXPECT_THAT(TimeZonesOf("+16025550123"), ElementsAre("America/Phoenix"));
  EXPECT_THAT(TimeZonesOf("+12065550123"), ElementsAre("America/Los_Angeles"));
  EXPECT_THAT(TimeZonesOf("+13055550123"), ElementsAre("America/New_York"));
  EXPECT_THAT(TimeZonesOf("+14045550123"), ElementsAre("America/New_York"));
  EXPECT_THAT(TimeZonesOf("+16175550123"), ElementsAre("America/New_York"));
  EXPECT_THAT(TimeZonesOf("+17135550123"), ElementsAre("America/Chicago"));
  EXPECT_THAT(TimeZonesOf("+12145550123"), ElementsAre("America/Chicago"));
  EXPECT_THAT(TimeZonesOf("+18085550123"), ElementsAre("Pacific/Honolulu"));
  EXPECT_THAT(TimeZonesOf("+19075550123"), ElementsAre("America/Anchorage"));
  EXPECT_THAT(TimeZonesOf("+19155550123"), ElementsAre("America/Denver"));  // El Paso
}

TEST(TimeZonesOfTest, SplitAreaCodesListBothZones) {
  EXPECT_THAT(TimeZonesOf("+18505550123"), ElementsAre("America/Chicago", "America/New_York"));
}

TEST(TimeZonesOfTest, Canada) {
  EXPECT_THAT(TimeZonesOf("+14165550123"), ElementsAre("America/Toronto"));
  EXPECT_THAT(TimeZonesOf("+16045550123"), ElementsAre("America/Vancouver"));
}

TEST(TimeZonesOfTest, OtherCountriesByRegion) {
  EXPECT_THAT(TimeZonesOf("+442079460958"), ElementsAre("Europe/London"));
  EXPECT_THAT(TimeZonesOf("+4930901820"), ElementsAre("Europe/Berlin"));
  EXPECT_THAT(TimeZonesOf("+17875550123"), ElementsAre("America/Puerto_Rico"));
  EXPECT_THAT(ZonesForRegion("ES"), ElementsAre("Europe/Madrid", "Atlantic/Canary"));
  EXPECT_THAT(ZonesForRegion("FR"), ElementsAre("Europe/Paris"));
}

TEST(TimeZonesOfTest, UnknownIsEmpty) {
  EXPECT_THAT(TimeZonesOf("+18005550123"), IsEmpty());  // toll-free: no place
  EXPECT_THAT(TimeZonesOf("+15555555555"), IsEmpty());  // not valid
  EXPECT_THAT(TimeZonesOf("+61212345678"), IsEmpty());  // Australia: several zones, no table
  EXPECT_THAT(TimeZonesOf("garbage"), IsEmpty());
  EXPECT_THAT(TimeZonesOf(""), IsEmpty());
  EXPECT_THAT(ZonesForRegion("US"), IsEmpty());
  EXPECT_THAT(ZonesForRegion("XX"), IsEmpty());
  EXPECT_THAT(ZonesForNanpAreaCode(999), IsEmpty());
}

TEST(PhoneTest, ConcurrentUse) {
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 200; ++i) {
        auto e164 = NormalizeE164("(415) 555-2671", "US");
        if (!e164.ok() || *e164 != "+14155552671" || RegionOf(*e164) != "US" ||
            TimeZonesOf(*e164).size() != 1) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace parley::phone

namespace parley::phone {
namespace {

// Found by the phone_normalize fuzz target: Parse strips one of two national prefixes ("1", the
// old Mexican mobile prefix), and the E.164 it gives reads back with the other one stripped too.
TEST(NormalizeE164Test, ResultsThatDoNotReadBackAsThemselvesAreRefused) {
  absl::StatusOr<std::string> e164 = NormalizeE164("+52116752124671", "US");
  EXPECT_EQ(e164.status().code(), absl::StatusCode::kInvalidArgument) << e164.value_or("");
  EXPECT_THAT(std::string(e164.status().message()),
              HasSubstr("not a valid number for region MX (its E.164 form +5216752124671 reads "
                        "back as another number)"));
  // One prefix, the form people still write, is accepted and read as the number without it.
  EXPECT_EQ(Normalized("+52 1 675 212 4671", "US"), "+526752124671");
  EXPECT_EQ(Normalized("+526752124671", ""), "+526752124671");
}

// "+1" and ten digits take a shortcut past libphonenumber's Parse; the written-out national form
// takes the full path. Both must agree on every number: valid or not, and the same E.164.
TEST(NormalizeE164Test, NanpShortcutAgreesWithTheFullParse) {
  absl::BitGen gen(std::seed_seq{42});
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string digits =
        absl::StrFormat("%03d%03d%04d", absl::Uniform(gen, 200, 1000), absl::Uniform(gen, 0, 1000),
                        absl::Uniform(gen, 0, 10000));
    const std::string e164 = "+1" + digits;
    const std::string national =
        absl::StrCat("(", digits.substr(0, 3), ") ", digits.substr(3, 3), "-", digits.substr(6));
    absl::StatusOr<std::string> fast = NormalizeE164(e164, "US");
    absl::StatusOr<std::string> full = NormalizeE164(national, "US");
    ASSERT_EQ(fast.ok(), full.ok()) << e164 << ": " << fast.status() << " / " << full.status();
    EXPECT_EQ(IsE164(e164), full.ok()) << e164;
    if (fast.ok()) {
      EXPECT_EQ(*fast, *full);
      ++valid;
    } else {
      EXPECT_EQ(fast.status().code(), full.status().code());
    }
  }
  // Both kinds were exercised (US, Canadian and Caribbean area codes among them).
  EXPECT_GT(valid, 1000);
  EXPECT_LT(valid, 19000);
  EXPECT_EQ(*NormalizeE164("+14165550123", "GB"), "+14165550123");  // Toronto: full check
  EXPECT_EQ(NormalizeE164("+11234567890", "US").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::phone
