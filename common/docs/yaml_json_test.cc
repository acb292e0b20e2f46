#include "common/docs/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace parley::docs {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

json Plain(std::string_view text) { return ResolvePlainScalar(text); }

TEST(ResolvePlainScalarTest, BoolsAndNulls) {
  EXPECT_EQ(Plain("true"), json(true));
  EXPECT_EQ(Plain("True"), json(true));
  EXPECT_EQ(Plain("FALSE"), json(false));
  EXPECT_TRUE(Plain("null").is_null());
  EXPECT_TRUE(Plain("~").is_null());
  EXPECT_TRUE(Plain("").is_null());
}

TEST(ResolvePlainScalarTest, NumbersAreDecimalOnly) {
  EXPECT_EQ(Plain("0"), json(0));
  EXPECT_EQ(Plain("42"), json(42));
  EXPECT_EQ(Plain("-7"), json(-7));
  EXPECT_TRUE(Plain("42").is_number_integer());
  EXPECT_EQ(Plain("9223372036854775807"), json(INT64_MAX));
  EXPECT_EQ(Plain("18446744073709551615"), json(UINT64_MAX));
  EXPECT_TRUE(Plain("123456789012345678901234567890").is_number_float());

  EXPECT_EQ(Plain("0.5"), json(0.5));
  EXPECT_EQ(Plain("-1.5e3"), json(-1500.0));
  EXPECT_EQ(Plain("1E2"), json(100.0));
  EXPECT_EQ(Plain(".5"), json(0.5));
  EXPECT_EQ(Plain("-.25"), json(-0.25));
  EXPECT_TRUE(Plain("2.0").is_number_float());
}

TEST(ResolvePlainScalarTest, AnythingUnclearStaysAString) {
  for (const char* text :
       {"yes",  "no", "on",   "off",  "y",     "n",    "Yes",   "09:00", "1:30",  "20:00:00",
        "0123", "00", "0x1F", "0o17", "1_000", ".inf", "-.inf", ".nan",  "+1",    "+14155550100",
        "+0.5", "1.", "1e",   "1e+",  "-",     ".",    "1.2.3", "12abc", "en-US", "127.0.0.1:50060",
        "1e999"}) {
    EXPECT_EQ(Plain(text), json(text)) << text;
  }
}

absl::StatusOr<json> One(std::string_view yaml) {
  absl::StatusOr<std::vector<json>> docs = ParseYamlAsJson(yaml, "t.yaml");
  if (!docs.ok()) return docs.status();
  EXPECT_EQ(docs->size(), 1u);
  return docs->empty() ? json() : docs->front();
}

TEST(YamlToJsonTest, QuotedAndBlockScalarsAreStrings) {
  absl::StatusOr<json> doc =
      One("a: \"true\"\n"
          "b: '42'\n"
          "c: \"09:00\"\n"
          "d: |\n"
          "  12\n"
          "e: >-\n"
          "  null\n"
          "f: \"\"\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(
      *doc,
      json({{"a", "true"}, {"b", "42"}, {"c", "09:00"}, {"d", "12\n"}, {"e", "null"}, {"f", ""}}));
}

TEST(YamlToJsonTest, ExplicitCoreTags) {
  absl::StatusOr<json> doc =
      One("a: !!str 12\n"
          "b: !!int \"12\"\n"
          "c: !!float 1\n"
          "d: !!bool \"true\"\n"
          "e: !!null ~\n"
          "f: !!str\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(*doc,
            json({{"a", "12"}, {"b", 12}, {"c", 1.0}, {"d", true}, {"e", nullptr}, {"f", ""}}));
  EXPECT_TRUE((*doc)["c"].is_number_float());
}

TEST(YamlToJsonTest, TagMismatchAndUnknownTagsAreErrors) {
  EXPECT_EQ(One("a: 1\nb: !!int abc\n").status().message(),
            "t.yaml:2: \"abc\" is not an integer (tagged !!int)");
  EXPECT_EQ(One("a: !!int 1.5\n").status().message(),
            "t.yaml:1: \"1.5\" is not an integer (tagged !!int)");
  EXPECT_EQ(One("a:\n  b: !custom x\n").status().message(),
            "t.yaml:2: unsupported tag \"!custom\"");
}

TEST(YamlToJsonTest, DuplicateKeysAreErrors) {
  absl::StatusOr<json> doc = One("spec:\n  a: 1\n  b: 2\n  a: 3\n");
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message(), "t.yaml:4: duplicate key \"a\"");
}

TEST(YamlToJsonTest, NonStringKeysAreErrors) {
  absl::StatusOr<json> doc = One("? [a, b]\n: 1\n");
  EXPECT_EQ(doc.status().message(), "t.yaml:1: mapping keys must be strings");
}

TEST(YamlToJsonTest, MergeKeysExpandWithExplicitKeysWinning) {
  absl::StatusOr<json> doc =
      One("base: &base {provider: espeak, voice: en-us}\n"
          "more: &more {voice: en-gb, speed: 1.1}\n"
          "tts:\n"
          "  voice: en-au\n"
          "  <<: [*base, *more]\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["tts"], json({{"provider", "espeak"}, {"voice", "en-au"}, {"speed", 1.1}}));

  EXPECT_EQ(One("a:\n  <<: 3\n").status().message(),
            "t.yaml:2: <<: merge value must be a mapping or a list of mappings");
}

TEST(YamlToJsonTest, AliasesAreCopied) {
  absl::StatusOr<json> doc = One("a: &x [1, {b: c}]\nd: *x\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["d"], (*doc)["a"]);
}

TEST(YamlToJsonTest, AliasBombIsRefused) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
            ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev +
            ", " + prev + ", " + prev + "]\n";
  }
  absl::StatusOr<json> doc = One(yaml);
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(doc.status().message()), HasSubstr("more than 1,000,000 values"));
}

TEST(ParseYamlStreamTest, ReportsTheLineOfASyntaxError) {
  absl::StatusOr<std::vector<YAML::Node>> nodes =
      ParseYamlStream("a: 1\nb:\n  c: 2\n d: 3\n", "x/y.yaml");
  EXPECT_EQ(nodes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(nodes.status().message()), StartsWith("x/y.yaml:4: malformed YAML: "));
}

// Found by fuzzing (common/docs/fuzz): yaml-cpp 0.7's LoadAll loops forever, allocating, on a
// stray ',' at the start of a document — one byte made `parleyctl apply -f` hang.
TEST(ParseYamlStreamTest, AStrayCommaIsAnErrorNotAHang) {
  for (std::string_view text : {",", ",\n", "a: 1\n---\n,\n", "---\n, b\n", "# c\n,x"}) {
    absl::StatusOr<std::vector<YAML::Node>> nodes = ParseYamlStream(text, "t.yaml");
    EXPECT_EQ(nodes.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(nodes.status().message()), StartsWith("t.yaml:")) << text;
  }
  absl::StatusOr<std::vector<YAML::Node>> fine = ParseYamlStream("a: 1\n---\nb, c\n", "t.yaml");
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->size(), 2u);
}

TEST(ParseYamlAsJsonTest, SkipsEmptyDocuments) {
  absl::StatusOr<std::vector<json>> docs =
      ParseYamlAsJson("# nothing\n---\n---\na: 1\n---\n# still nothing\n", "t.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ(docs->front(), json({{"a", 1}}));
}

}  // namespace
}  // namespace parley::docs
