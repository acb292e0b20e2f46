#include "cli/parleyctl/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace parley::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CsvTest, HeaderRowsQuotesAndLines) {
  absl::StatusOr<CsvTable> t = ParseCsv(
      "\xEF\xBB\xBFnumber, customer_name ,note\r\n"
      "+14155550100,Ada,\"says \"\"hi\"\", twice\"\r\n"
      "\n"
      "(415) 555-2671,\"Grace\nHopper\",\n"
      "+14155550102,Alan,last",
      "calls.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->header, ElementsAre("number", "customer_name", "note"));
  ASSERT_EQ(t->rows.size(), 3u);
  EXPECT_EQ(t->rows[0].line, 2);
  EXPECT_THAT(t->rows[0].fields, ElementsAre("+14155550100", "Ada", "says \"hi\", twice"));
  EXPECT_EQ(t->rows[1].line, 4);  // the blank line 3 is skipped, not counted as a row
  EXPECT_THAT(t->rows[1].fields, ElementsAre("(415) 555-2671", "Grace\nHopper", ""));
  EXPECT_EQ(t->rows[2].line, 6);  // a quoted line break moves the line count on
  EXPECT_THAT(t->rows[2].fields, ElementsAre("+14155550102", "Alan", "last"));
}

TEST(CsvTest, ErrorsNameTheLine) {
  auto unterminated = ParseCsv("number,name\n+1415,Ada\n+1416,\"Grace\n+1417,Alan\n", "c.csv");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.status().message(), "c.csv:3: unterminated quoted field");

  auto columns = ParseCsv("number,name\n+1415,Ada\n+1416,Grace,extra\n", "c.csv");
  ASSERT_FALSE(columns.ok());
  EXPECT_EQ(columns.status().message(), "c.csv:3: 3 fields, but the header has 2");

  auto after_quote = ParseCsv("number,name\n\"+1415\"x,Ada\n", "c.csv");
  ASSERT_FALSE(after_quote.ok());
  EXPECT_THAT(after_quote.status().message(), HasSubstr("c.csv:2: unexpected character"));

  EXPECT_THAT(ParseCsv("", "c.csv").status().message(), HasSubstr("c.csv:1: empty file"));
  EXPECT_THAT(ParseCsv("number,,x\n", "c.csv").status().message(), HasSubstr("empty column name"));
  EXPECT_THAT(ParseCsv("number,a,a\n", "c.csv").status().message(),
              HasSubstr("column \"a\" appears twice"));
}

TEST(CsvTest, LinesQuoteOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvLine({"1", "+14155550100", "", "said \"hi\", then\nleft"}),
            "1,+14155550100,,\"said \"\"hi\"\", then\nleft\"");
  // What CsvLine writes, ParseCsv reads back.
  auto back = ParseCsv("a,b\n" + CsvLine({"x,y", "\"q\""}) + "\n", "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(back->rows[0].fields, ElementsAre("x,y", "\"q\""));
}

}  // namespace
}  // namespace parley::cli
