// The SSE splitter against the parsing rules of the WHATWG HTML standard, "Server-sent events"
// §9.2.6 (line terminators CRLF/LF/CR, comments, multi-line data, field value's leading space).
#include "common/llm/sse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::llm {
namespace {

using ::testing::ElementsAre;

// Feeds `pieces` one after another and returns the data of every event.
std::vector<std::string> DataOf(const std::vector<std::string>& pieces, SseParser& parser) {
  std::vector<std::string> data;
  for (const std::string& piece : pieces) {
    EXPECT_TRUE(parser.Feed(piece, [&](const SseEvent& e) { data.push_back(e.data); }).ok());
  }
  return data;
}

std::vector<std::string> DataOf(const std::vector<std::string>& pieces) {
  SseParser parser;
  return DataOf(pieces, parser);
}

TEST(SseParserTest, SplitsEventsOnBlankLines) {
  EXPECT_THAT(DataOf({"data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n"}),
              ElementsAre("{\"a\":1}", "{\"b\":2}", "[DONE]"));
}

TEST(SseParserTest, AcceptsCrlfAndLoneCr) {
  EXPECT_THAT(DataOf({"data: one\r\n\r\ndata: two\r\rdata: three\n\n"}),
              ElementsAre("one", "two", "three"));
}

TEST(SseParserTest, CrlfSplitAcrossReadsIsOneLineEnd) {
  // "\r" ends the line at once; the "\n" arriving in the next read must not end the event.
  SseParser parser;
  EXPECT_THAT(DataOf({"data: a\r", "\ndata: b\r", "\n\r", "\n"}, parser), ElementsAre("a\nb"));
  EXPECT_FALSE(parser.HasPartialEvent());
}

TEST(SseParserTest, EventSplitMidLineAndMidField) {
  std::string stream = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
  // Every split point of the stream gives the same single event.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    std::vector<std::string> data = DataOf({stream.substr(0, cut), stream.substr(cut)}, parser);
    ASSERT_THAT(data, ElementsAre("{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}"))
        << "cut at " << cut;
  }
  // And byte by byte.
  std::vector<std::string> bytes;
  for (char c : stream) bytes.push_back(std::string(1, c));
  EXPECT_EQ(DataOf(bytes).size(), 1u);
}

TEST(SseParserTest, IgnoresCommentsAndUnknownFields) {
  EXPECT_THAT(DataOf({": OPENROUTER PROCESSING\n\n", ":keep-alive\n", "retry: 1000\nfoo: bar\n",
                      "data: x\n: inside\n\n"}),
              ElementsAre("x"));
}

TEST(SseParserTest, JoinsMultiLineDataWithNewlines) {
  EXPECT_THAT(DataOf({"data: first\ndata:second\ndata:  third\n\n"}),
              ElementsAre("first\nsecond\n third"));
}

TEST(SseParserTest, KeepsEventNameAndId) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser
                  .Feed("event: error\nid: 7\ndata: {}\n\ndata: plain\n\n",
                        [&](const SseEvent& e) { events.push_back(e); })
                  .ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "error");
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[1].event, "");  // fields do not leak into the next event
}

TEST(SseParserTest, FieldWithoutColonAndEmptyData) {
  // "data" alone is a data line with an empty value; an event of only an event name is dropped.
  EXPECT_THAT(DataOf({"data\n\nevent: ping\n\ndata:\ndata:\n\n"}), ElementsAre("", "\n"));
}

TEST(SseParserTest, ReportsUnfinishedEvent) {
  SseParser parser;
  EXPECT_THAT(DataOf({"data: {\"par"}, parser), ElementsAre());
  EXPECT_TRUE(parser.HasPartialEvent());
  EXPECT_THAT(DataOf({"tial\":1}\n"}, parser), ElementsAre());
  EXPECT_TRUE(parser.HasPartialEvent());
  EXPECT_THAT(DataOf({"\n"}, parser), ElementsAre("{\"partial\":1}"));
  EXPECT_FALSE(parser.HasPartialEvent());
}

TEST(SseParserTest, RejectsEndlessLine) {
  SseParser parser({.max_event_bytes = 16});
  absl::Status status = parser.Feed("data: 0123456789abcdef", [](const SseEvent&) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace parley::llm
