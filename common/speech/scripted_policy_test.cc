#include "common/speech/scripted_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/speech/words.h"

namespace parley::speech {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(WordsTest, PhraseWordsLowerCasesAndDropsPunctuation) {
  EXPECT_THAT(PhraseWords("Yes, that's ME!"), ElementsAre("yes", "that's", "me"));
  EXPECT_THAT(PhraseWords("  stop -- calling\tme "), ElementsAre("stop", "calling", "me"));
  EXPECT_THAT(PhraseWords("Café 42"), ElementsAre("café", "42"));
  EXPECT_THAT(PhraseWords("?!"), IsEmpty());
}

TEST(WordsTest, ContainsPhraseMatchesWholeWordsOnly) {
  EXPECT_TRUE(ContainsPhrase("Well, NO thanks.", "no thanks"));
  EXPECT_TRUE(ContainsPhrase("no", "No!"));
  EXPECT_TRUE(ContainsPhrase("please stop calling me", "stop calling"));
  EXPECT_FALSE(ContainsPhrase("I know", "no"));
  EXPECT_FALSE(ContainsPhrase("nobody home", "no"));
  EXPECT_FALSE(ContainsPhrase("stop, I said, calling", "stop calling"));
  EXPECT_FALSE(ContainsPhrase("anything", ""));
  EXPECT_FALSE(ContainsPhrase("", "no"));
}

const std::vector<IntentPhrases> kIntents = {
    {"opt_out", {"stop calling", "remove me from your list", "do not call"}},
    {"not_interested", {"not interested"}},
    {"interested", {"interested", "sounds good"}},
    {"deny", {"no", "wrong person"}},
    {"affirm", {"yes", "that's me", "speaking"}},
};

TEST(MatchIntentTest, FirstListedIntentWins) {
  EXPECT_EQ(MatchIntent("Yes, that's me.", kIntents), "affirm");
  EXPECT_EQ(MatchIntent("no", kIntents), "deny");
  EXPECT_EQ(MatchIntent("No! Please stop calling me.", kIntents), "opt_out");
  EXPECT_EQ(MatchIntent("I'm not interested, no.", kIntents), "not_interested");
  EXPECT_EQ(MatchIntent("That sounds good, yes", kIntents), "interested");
  EXPECT_EQ(MatchIntent("Remove me from your list!", kIntents), "opt_out");
}

TEST(MatchIntentTest, NothingMatchesWithoutWholeWords) {
  EXPECT_EQ(MatchIntent("I know the answer", kIntents), std::nullopt);  // "no" inside "know"
  EXPECT_EQ(MatchIntent("", kIntents), std::nullopt);
  EXPECT_EQ(MatchIntent("yesterday was nice", kIntents), std::nullopt);
  EXPECT_EQ(MatchIntent("yes", {}), std::nullopt);
}

TEST(FillVariablesTest, FillsFromTheFirstSourceThatHasTheValue) {
  const nlohmann::json context = {{"lead_name", "Dana"}, {"company", nullptr}};
  const nlohmann::json state = {{"lead_name", "ignored"},
                                {"company", "Acme"},
                                {"invoice", {{"total", 120.5}, {"paid", false}}},
                                {"items", {"first", "second"}},
                                {"visits", 3}};
  const nlohmann::json defaults = {{"sales_rep", "Sam"}};
  auto filled = FillVariables(
      "Hi {lead_name} from {company}! {invoice.total} due, paid: {invoice.paid}; "
      "{items.1}, {visits} visits. Ask {sales_rep}. {{literal}} }}",
      {&context, &state, nullptr, &defaults});
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(filled->text,
            "Hi Dana from Acme! 120.5 due, paid: false; second, 3 visits. Ask Sam. {literal} }");
  EXPECT_THAT(filled->missing, IsEmpty());
}

TEST(FillVariablesTest, MissingVariablesBecomeEmptyAndAreListed) {
  const nlohmann::json state = {{"items", {"a"}}, {"name", "Lee"}};
  auto filled = FillVariables("{greeting} {name}, {items.5} {items.x} {greeting}", {&state});
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(filled->text, " Lee,   ");
  EXPECT_THAT(filled->missing, ElementsAre("greeting", "items.5", "items.x"));
}

TEST(FillVariablesTest, ObjectsAndArraysAreCompactJson) {
  const nlohmann::json state = {{"slot", {{"day", "Tue"}}}, {"list", {1, 2}}};
  auto filled = FillVariables("{slot} {list}", {&state});
  ASSERT_TRUE(filled.ok());
  EXPECT_EQ(filled->text, R"({"day":"Tue"} [1,2])");
}

TEST(FillVariablesTest, MalformedBracesAreInvalidArgument) {
  const nlohmann::json empty = nlohmann::json::object();
  EXPECT_EQ(FillVariables("a {b", {&empty}).status().message(), "unmatched '{' at column 3");
  EXPECT_EQ(FillVariables("a } b", {&empty}).status().message(),
            "unmatched '}' at column 3 (use }} for a literal brace)");
  EXPECT_EQ(FillVariables("{}", {&empty}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FillVariables("{1st}", {&empty}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FillVariables("{a..b}", {&empty}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FillVariables("{a b}", {&empty}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(FillVariables("no variables at all", {}).ok());
}

}  // namespace
}  // namespace parley::speech
