#include "common/speech/sentence_chunker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::speech {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Feeds `text` `piece` bytes at a time, then flushes; returns every chunk.
std::vector<std::string> ChunkAll(std::string_view text, size_t piece = 1,
                                  SentenceChunkerOptions options = {}) {
  SentenceChunker chunker(options);
  std::vector<std::string> chunks;
  for (size_t i = 0; i < text.size(); i += piece) {
    for (std::string& c : chunker.Push(text.substr(i, piece))) chunks.push_back(std::move(c));
  }
  if (auto rest = chunker.Flush()) chunks.push_back(*std::move(rest));
  return chunks;
}

TEST(SentenceChunkerTest, SplitsAtSentenceEnds) {
  EXPECT_THAT(ChunkAll("Hello there. How are you? I'm great! Thanks"),
              ElementsAre("Hello there.", "How are you?", "I'm great!", "Thanks"));
}

TEST(SentenceChunkerTest, SameChunksWhateverTheTokenBoundaries) {
  const std::string text =
      "Dr. Smith paid $1.50 for it, e.g. a bargain. Pi is 3.14! Really?! \"Yes.\" Then we left.";
  const std::vector<std::string> expected = {"Dr. Smith paid $1.50 for it, e.g. a bargain.",
                                             "Pi is 3.14!", "Really?!", "\"Yes.\"",
                                             "Then we left."};
  for (size_t piece : {1, 2, 3, 5, 7, 100}) EXPECT_EQ(ChunkAll(text, piece), expected) << piece;
}

TEST(SentenceChunkerTest, DoesNotSplitAbbreviationsNumbersOrInitials) {
  EXPECT_THAT(ChunkAll("Mr. and Mrs. Jones met Dr. Who. Done."),
              ElementsAre("Mr. and Mrs. Jones met Dr. Who.", "Done."));
  EXPECT_THAT(ChunkAll("Bring fruit, e.g. Apples, i.e. Red ones. Ok."),
              ElementsAre("Bring fruit, e.g. Apples, i.e. Red ones.", "Ok."));
  EXPECT_THAT(ChunkAll("It costs $1.50 or 3.14 euros. See example.com now."),
              ElementsAre("It costs $1.50 or 3.14 euros.", "See example.com now."));
  EXPECT_THAT(ChunkAll("Ask J. R. Smith. He knows."), ElementsAre("Ask J. R. Smith.", "He knows."));
  EXPECT_THAT(ChunkAll("We open at 9 a.m. and close late."),
              ElementsAre("We open at 9 a.m. and close late."));
}

TEST(SentenceChunkerTest, NewlinesEndChunksAndBlankLinesVanish) {
  EXPECT_THAT(ChunkAll("First line\n\nSecond line\n- a point\n"),
              ElementsAre("First line", "Second line", "- a point"));
}

TEST(SentenceChunkerTest, WaitsForTheNextWordBeforeEndingAtAPeriod) {
  SentenceChunker chunker;
  EXPECT_THAT(chunker.Push("It costs 3."), IsEmpty());  // could be 3.50
  EXPECT_THAT(chunker.Push(" "), IsEmpty());            // could be "3. and"
  EXPECT_THAT(chunker.Push("T"), ElementsAre("It costs 3."));
  EXPECT_EQ(chunker.pending(), "T");
  EXPECT_THAT(chunker.Push("hanks! "), ElementsAre("Thanks!"));  // '!' needs no look-ahead
  EXPECT_EQ(chunker.Flush(), std::nullopt);
}

TEST(SentenceChunkerTest, FlushReturnsTheRestAndResets) {
  SentenceChunker chunker;
  EXPECT_THAT(chunker.Push("One. Two, three"), ElementsAre("One."));
  EXPECT_EQ(chunker.Flush(), "Two, three");
  EXPECT_EQ(chunker.Flush(), std::nullopt);
  EXPECT_THAT(chunker.Push("Next reply. "), IsEmpty());
  EXPECT_EQ(chunker.Flush(), "Next reply.");
}

TEST(SentenceChunkerTest, DropsChunksWithNothingToSay) {
  EXPECT_THAT(ChunkAll("Hi.\n---\n...\n  \nBye."), ElementsAre("Hi.", "Bye."));
}

TEST(SentenceChunkerTest, LowercaseAfterPeriodContinuesTheSentence) {
  EXPECT_THAT(ChunkAll("Well... maybe. Approx. five people came. Ok."),
              ElementsAre("Well... maybe.", "Approx. five people came.", "Ok."));
}

TEST(SentenceChunkerTest, SplitsOverlongTextAtClauseMarksThenSpaces) {
  const std::vector<std::string> chunks =
      ChunkAll("one two three, four five six seven eight nine ten", 1, {.max_chars = 20});
  EXPECT_THAT(chunks, ElementsAre("one two three,", "four five six seven", "eight nine ten"));
  for (const std::string& c : chunks) EXPECT_LE(c.size(), 20u);
}

TEST(SentenceChunkerTest, KeepsUtf8Intact) {
  EXPECT_THAT(ChunkAll("Ça va? Très bien. “Merci.” Au revoir", 1),
              ElementsAre("Ça va?", "Très bien.", "“Merci.”", "Au revoir"));
}

}  // namespace
}  // namespace parley::speech
