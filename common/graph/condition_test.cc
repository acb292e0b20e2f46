#include "common/graph/condition.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::graph {
namespace {

using Json = nlohmann::json;

// The condition's value for `state`; fails the test on a syntax error.
bool Eval(const std::string& expr, const Json& state) {
  absl::StatusOr<bool> result = EvaluateCondition(expr, state);
  EXPECT_TRUE(result.ok()) << expr << ": " << result.status();
  return result.value_or(false);
}

// The syntax error message for `expr` ("" if it parses).
std::string Error(const std::string& expr) {
  absl::StatusOr<Condition> c = Condition::Parse(expr);
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << expr;
  return std::string(c.status().message());
}

TEST(ConditionParseTest, AcceptsTheDocumentedGrammar) {
  for (const char* expr : {
           "verified == true",
           "amount_due > 100",
           "!appointment_booked",
           "qualified && budget >= 1000",
           "a || b && c",
           "(a || b) && !(c == null)",
           "context.customer.tier == \"gold\"",
           "items.0.sku != \"x\"",
           "score <= -1.5e3",
           "name == \"say \\\"hi\\\" \\u00e9\"",
           "!!done",
           "  x  ",
           "true",
           "1 < 2",
       }) {
    EXPECT_EQ(Error(expr), "") << expr;
  }
}

TEST(ConditionParseTest, BlankIsAlwaysTrue) {
  EXPECT_TRUE(Eval("", Json::object()));
  EXPECT_TRUE(Eval("   ", Json::object()));
}

TEST(ConditionParseTest, ReportsWhatIsWrongAndTheColumn) {
  EXPECT_EQ(Error("verified = true"), "unexpected '=' (did you mean '=='?) at column 10");
  EXPECT_EQ(Error("a & b"), "unexpected '&' (did you mean '&&'?) at column 3");
  EXPECT_EQ(Error("a | b"), "unexpected '|' (did you mean '||'?) at column 3");
  EXPECT_EQ(Error("a &&"), "expected a value, found end of expression at column 5");
  EXPECT_EQ(Error("&& a"), "expected a value, found '&&' at column 1");
  EXPECT_EQ(Error("(a || b"), "expected ')', found end of expression at column 8");
  EXPECT_EQ(Error("a || b)"), "unexpected ')' at column 7");
  EXPECT_EQ(Error("()"), "expected a value, found ')' at column 2");
  EXPECT_EQ(Error("a b"), "unexpected 'b' at column 3");
  EXPECT_EQ(Error("a < b < c"), "comparisons cannot be chained (use '&&') at column 7");
  EXPECT_EQ(Error("name == 'bob'"), "unexpected \"'\" (strings use double quotes) at column 9");
  EXPECT_EQ(Error("name == \"bob"), "unterminated string at column 9");
  EXPECT_EQ(Error("name == \"a\\qb\""), "invalid string literal at column 9");
  EXPECT_EQ(Error("a.b. == 1"), "expected a name after '.' at column 5");
  EXPECT_EQ(Error("x == 01"), "numbers must not have leading zeros at column 6");
  EXPECT_EQ(Error("x == 1."), "expected a digit after '.' at column 8");
  EXPECT_EQ(Error("x == 1e"), "expected a digit in the exponent at column 8");
  EXPECT_EQ(Error("x == - 1"), "expected a digit after '-' at column 7");
  EXPECT_EQ(Error("x == 12abc"), "unexpected character 'a' after a number at column 8");
  EXPECT_EQ(Error("x # y"), "unexpected character '#' at column 3");
  EXPECT_EQ(Error("a and b"), "unexpected 'and' at column 3");
}

TEST(ConditionParseTest, RejectsRunawayInput) {
  EXPECT_EQ(Error(std::string(100, '!') + "x"), "expression nested too deeply at column 66");
  EXPECT_EQ(Error(std::string(100, '(') + "x" + std::string(100, ')')),
            "expression nested too deeply at column 66");
  EXPECT_EQ(Error(std::string(5000, ' ')), "expression longer than 4096 bytes at column 4097");
}

TEST(ConditionEvalTest, MissingPathsReadNull) {
  const Json state = {{"a", {{"b", 1}}}};
  EXPECT_TRUE(Eval("missing == null", state));
  EXPECT_TRUE(Eval("a.x == null", state));
  EXPECT_TRUE(Eval("a.b.c == null", state));  // through a number
  EXPECT_FALSE(Eval("missing", state));
  EXPECT_TRUE(Eval("!missing", state));
  EXPECT_FALSE(Eval("missing == 0", state));
  EXPECT_FALSE(Eval("missing < 1", state));
  EXPECT_FALSE(Eval("missing >= 0", state));
  EXPECT_TRUE(Eval("x == null", Json::array()));  // a non-object state
}

TEST(ConditionEvalTest, NotIsTrueExactlyForFalsyValues) {
  const Json state = {{"f", false},
                      {"z", 0},
                      {"zf", 0.0},
                      {"e", ""},
                      {"n", nullptr},
                      {"t", true},
                      {"one", 1},
                      {"s", "x"},
                      {"ea", Json::array()},
                      {"eo", Json::object()}};
  for (const char* falsy : {"f", "z", "zf", "e", "n", "missing"}) {
    EXPECT_TRUE(Eval(std::string("!") + falsy, state)) << falsy;
    EXPECT_FALSE(Eval(falsy, state)) << falsy;
  }
  for (const char* truthy : {"t", "one", "s", "ea", "eo"}) {
    EXPECT_FALSE(Eval(std::string("!") + truthy, state)) << truthy;
    EXPECT_TRUE(Eval(truthy, state)) << truthy;
  }
  EXPECT_TRUE(Eval("!!t", state));
}

TEST(ConditionEvalTest, NumbersCompareNumerically) {
  const Json state = {
      {"amount_due", 120}, {"ratio", 0.5}, {"neg", -3}, {"big", 18446744073709551615ULL}};
  EXPECT_TRUE(Eval("amount_due > 100", state));
  EXPECT_FALSE(Eval("amount_due > 120", state));
  EXPECT_TRUE(Eval("amount_due >= 120", state));
  EXPECT_TRUE(Eval("amount_due <= 120.0", state));
  EXPECT_TRUE(Eval("amount_due == 120.0", state));
  EXPECT_TRUE(Eval("amount_due != 121", state));
  EXPECT_TRUE(Eval("ratio < 1", state));
  EXPECT_TRUE(Eval("ratio == 5e-1", state));
  EXPECT_TRUE(Eval("neg < 0", state));
  EXPECT_TRUE(Eval("neg < big", state));
  EXPECT_TRUE(Eval("big > 9223372036854775807", state));
  EXPECT_TRUE(Eval("10 > 9", state));  // numerically, not "10" < "9"
}

TEST(ConditionEvalTest, StringsCompareLexicographically) {
  const Json state = {{"tier", "gold"}, {"name", "Zoe"}};
  EXPECT_TRUE(Eval("tier == \"gold\"", state));
  EXPECT_FALSE(Eval("tier == \"Gold\"", state));
  EXPECT_TRUE(Eval("tier != \"silver\"", state));
  EXPECT_TRUE(Eval("tier < \"silver\"", state));
  EXPECT_TRUE(Eval("\"10\" < \"9\"", state));
  EXPECT_TRUE(Eval("name < \"a\"", state));  // by byte: upper case sorts first
  EXPECT_TRUE(Eval("tier >= \"gold\"", state));
}

TEST(ConditionEvalTest, MixedTypesAreNeitherEqualNorOrdered) {
  const Json state = {{"s", "5"}, {"n", 5}, {"b", true}, {"z", nullptr}};
  EXPECT_FALSE(Eval("s == n", state));
  EXPECT_TRUE(Eval("s != n", state));
  EXPECT_FALSE(Eval("s < n", state));
  EXPECT_FALSE(Eval("s > n", state));
  EXPECT_FALSE(Eval("s >= n", state));
  EXPECT_FALSE(Eval("b == 1", state));
  EXPECT_FALSE(Eval("z == false", state));
  EXPECT_FALSE(Eval("b > false", state));  // booleans are not ordered
  EXPECT_TRUE(Eval("z == null", state));
}

TEST(ConditionEvalTest, BooleanOperatorsAndPrecedence) {
  const Json state = {{"t", true}, {"f", false}};
  EXPECT_TRUE(Eval("t && t", state));
  EXPECT_FALSE(Eval("t && f", state));
  EXPECT_TRUE(Eval("f || t", state));
  EXPECT_FALSE(Eval("f || f", state));
  // && binds tighter than ||: t || (f && f).
  EXPECT_TRUE(Eval("t || f && f", state));
  EXPECT_FALSE(Eval("(t || f) && f", state));
  // ! binds tighter than ==: (!f) == true.
  EXPECT_TRUE(Eval("!f == true", state));
  EXPECT_TRUE(Eval("!(f == true)", state));
  EXPECT_TRUE(Eval("(((t)))", state));
}

TEST(ConditionEvalTest, ReadsContextAndNestedState) {
  const Json state = {{"verified", true},
                      {"budget", 1500},
                      {"qualified", true},
                      {"context", {{"amount_due", 250.75}, {"customer_name", "Ada"}}},
                      {"items", Json::array({{{"sku", "a1"}}, {{"sku", "b2"}}})}};
  EXPECT_TRUE(Eval("verified == true && context.amount_due > 100", state));
  EXPECT_TRUE(Eval("context.customer_name == \"Ada\"", state));
  EXPECT_TRUE(Eval("qualified && budget >= 1000", state));
  EXPECT_TRUE(Eval("items.1.sku == \"b2\"", state));
  EXPECT_TRUE(Eval("items.2.sku == null", state));
  EXPECT_TRUE(Eval("context == context", state));  // structural equality
}

TEST(ConditionEvalTest, ParsedConditionIsReusable) {
  absl::StatusOr<Condition> c = Condition::Parse("count >= 3");
  ASSERT_TRUE(c.ok()) << c.status();
  const Condition copy = *c;
  EXPECT_FALSE(copy.Evaluate({{"count", 2}}));
  EXPECT_TRUE(copy.Evaluate({{"count", 3}}));
  EXPECT_FALSE(c->Evaluate(Json::object()));
}

TEST(ConditionEvalTest, EvaluateConditionReportsSyntaxErrors) {
  absl::StatusOr<bool> r = EvaluateCondition("a ==", Json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::graph
