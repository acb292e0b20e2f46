#include "common/docs/resource_docs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace parley::docs {
namespace {

namespace fs = std::filesystem;
using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::string> Refs(const std::vector<ResourceDoc>& docs) {
  std::vector<std::string> refs;
  for (const ResourceDoc& doc : docs) refs.push_back(Reference(doc));
  return refs;
}

// The message of the error ParseResourceDocs gives for `yaml` (source "a.yaml"); asserts that it
// is INVALID_ARGUMENT.
std::string ParseError(std::string_view yaml) {
  absl::StatusOr<std::vector<ResourceDoc>> docs = ParseResourceDocs(yaml, "a.yaml");
  EXPECT_FALSE(docs.ok()) << yaml;
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument) << docs.status();
  return std::string(docs.status().message());
}

TEST(ParseResourceDocsTest, ParsesMultipleDocuments) {
  constexpr std::string_view kYaml =
      "# Shared resources.\n"                      // 1
      "kind: trunk\n"                              // 2
      "name: sim-phone\n"                          // 3
      "labels: {env: dev, tier: 1, beta: true}\n"  // 4
      "spec:\n"                                    // 5
      "  kind: grpc\n"                             // 6
      "  grpc: {address: 127.0.0.1:50060}\n"       // 7
      "---\n"                                      // 8
      "---\n"                                      // 9  (empty document: skipped)
      "# The voice.\n"                             // 10
      "kind: template\n"                           // 11
      "name: offline\n"                            // 12
      "spec: {}\n"                                 // 13
      "---\n"                                      // 14
      "kind: dnc\n"                                // 15
      "spec: {number: +14155550100, reason: opt_out}\n";
  absl::StatusOr<std::vector<ResourceDoc>> docs = ParseResourceDocs(kYaml, "dir/common.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 3u);

  const ResourceDoc& trunk = (*docs)[0];
  EXPECT_EQ(trunk.kind, "trunk");
  EXPECT_EQ(trunk.name, "sim-phone");
  EXPECT_EQ(trunk.labels,
            (std::map<std::string, std::string>{{"env", "dev"}, {"tier", "1"}, {"beta", "true"}}));
  EXPECT_EQ(trunk.spec, json({{"kind", "grpc"}, {"grpc", {{"address", "127.0.0.1:50060"}}}}));
  EXPECT_EQ(trunk.source, "dir/common.yaml");
  EXPECT_EQ(trunk.line, 2);
  EXPECT_EQ(Location(trunk), "dir/common.yaml:2");

  EXPECT_EQ((*docs)[1].kind, "template");
  EXPECT_EQ((*docs)[1].line, 11);
  EXPECT_EQ((*docs)[1].spec, json::object());
  EXPECT_TRUE((*docs)[1].labels.empty());

  const ResourceDoc& dnc = (*docs)[2];
  EXPECT_EQ(dnc.kind, "dnc");
  EXPECT_EQ(dnc.name, "");
  EXPECT_EQ(dnc.spec, json({{"number", "+14155550100"}, {"reason", "opt_out"}}));
  EXPECT_EQ(Reference(dnc), "dnc/+14155550100");
  EXPECT_EQ(dnc.line, 15);
}

TEST(ParseResourceDocsTest, ConvertsScalarsToJsonTypes) {
  constexpr std::string_view kYaml = R"(kind: campaign
name: types
spec:
  bools: [true, false, True, FALSE]
  words: [yes, no, on, off, "true"]
  ints: [0, 42, -7, 9223372036854775807]
  floats: [0.5, -1.25, 1e3, 2.0]
  quoted: ["42", '0123', "09:00", "null", ""]
  times: [09:00, 20:00, 1:30]
  leading_zero: 0123
  phone: +14155550100
  nulls: [null, ~, Null]
  empty:
  nested:
    window: {days: [mon, fri], start: "09:00", end: 20:00}
    list_of_maps:
      - {a: 1}
      - b: [x, {c: d}]
  text: |
    line one
    line two
)";
  absl::StatusOr<std::vector<ResourceDoc>> docs = ParseResourceDocs(kYaml, "a.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 1u);
  const json& spec = docs->front().spec;

  EXPECT_EQ(spec["bools"], json({true, false, true, false}));
  EXPECT_EQ(spec["words"], json({"yes", "no", "on", "off", "true"}));
  EXPECT_EQ(spec["ints"], json({0, 42, -7, INT64_MAX}));
  for (const json& v : spec["ints"]) EXPECT_TRUE(v.is_number_integer()) << v;
  EXPECT_EQ(spec["floats"], json({0.5, -1.25, 1000.0, 2.0}));
  for (const json& v : spec["floats"]) EXPECT_TRUE(v.is_number_float()) << v;
  EXPECT_EQ(spec["quoted"], json({"42", "0123", "09:00", "null", ""}));
  EXPECT_EQ(spec["times"], json({"09:00", "20:00", "1:30"}));
  EXPECT_EQ(spec["leading_zero"], json("0123"));
  EXPECT_EQ(spec["phone"], json("+14155550100"));
  EXPECT_EQ(spec["nulls"], json({nullptr, nullptr, nullptr}));
  EXPECT_TRUE(spec.contains("empty"));
  EXPECT_TRUE(spec["empty"].is_null());
  EXPECT_EQ(spec["nested"], json::parse(R"({
      "window": {"days": ["mon", "fri"], "start": "09:00", "end": "20:00"},
      "list_of_maps": [{"a": 1}, {"b": ["x", {"c": "d"}]}]})"));
  EXPECT_EQ(spec["text"], json("line one\nline two\n"));
}

TEST(ParseResourceDocsTest, ParsesJson) {
  constexpr std::string_view kJson = R"({
	"kind": "agent",
	"name": "json-agent",
	"labels": {"team": "sales"},
	"spec": {"template": "t", "prompt_versions": {"p": 2}, "default_context": {"n": 1.5, "b": false, "z": null, "s": "007"}}
})";
  absl::StatusOr<std::vector<ResourceDoc>> docs = ParseResourceDocs(kJson, "a.json");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ(docs->front().name, "json-agent");
  EXPECT_EQ(docs->front().spec, json::parse(R"({"template": "t", "prompt_versions": {"p": 2},
      "default_context": {"n": 1.5, "b": false, "z": null, "s": "007"}})"));
}

TEST(ParseResourceDocsTest, TopLevelListHoldsSeveralDocuments) {
  absl::StatusOr<std::vector<ResourceDoc>> docs = ParseResourceDocs(
      R"([{"kind": "prompt", "name": "p1", "spec": {"text": "hi"}},
          {"kind": "prompt", "name": "p2", "spec": {"text": "bye"}}])",
      "list.json");
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(Refs(*docs), ElementsAre("prompt/p1", "prompt/p2"));
  EXPECT_EQ((*docs)[1].line, 2);
}

TEST(ParseResourceDocsTest, EmptyAndCommentOnlyTextsHaveNoDocuments) {
  for (std::string_view text : {"", "\n\n", "# just a comment\n", "---\n---\n"}) {
    absl::StatusOr<std::vector<ResourceDoc>> docs = ParseResourceDocs(text, "a.yaml");
    ASSERT_TRUE(docs.ok()) << docs.status();
    EXPECT_TRUE(docs->empty());
  }
}

TEST(ParseResourceDocsErrorsTest, UnknownKindNamesTheLine) {
  EXPECT_EQ(ParseError("kind: trunk\nname: t\nspec: {kind: grpc}\n---\n"
                       "# typo below\nkind: tempalte\nname: x\nspec: {}\n"),
            "a.yaml:6: kind: unknown kind \"tempalte\" (want template, prompt, graph, agent, "
            "campaign, trunk, credential, inbound_route, dnc)");
}

TEST(ParseResourceDocsErrorsTest, KindIsRequiredAndAString) {
  EXPECT_THAT(ParseError("name: x\nspec: {}\n"), StartsWith("a.yaml:1: kind: required (want "));
  EXPECT_EQ(ParseError("kind: [template]\nname: x\nspec: {}\n"),
            "a.yaml:1: kind: must be a string");
}

TEST(ParseResourceDocsErrorsTest, MalformedYamlReportsTheLine) {
  // Line 6 is indented by three spaces where two or four would do.
  EXPECT_THAT(ParseError("kind: template\n"
                         "name: x\n"
                         "spec:\n"
                         "  stt:\n"
                         "    provider: pocketsphinx\n"
                         "   language: en-US\n"),
              StartsWith("a.yaml:6: malformed YAML: "));
  // A tab used for indentation on line 3.
  EXPECT_THAT(ParseError("kind: template\nname: x\n\tspec: {}\n"),
              StartsWith("a.yaml:3: malformed YAML: "));
  // An unclosed flow sequence in the second document.
  EXPECT_THAT(ParseError("kind: prompt\nname: p\nspec: {}\n---\nkind: prompt\nname: q\n"
                         "spec: {variables: [a, b}\n"),
              StartsWith("a.yaml:7: malformed YAML: "));
}

TEST(ParseResourceDocsErrorsTest, NameIsRequiredExceptForDnc) {
  EXPECT_EQ(ParseError("kind: trunk\nname: t\nspec: {}\n---\nkind: template\nspec: {}\n"),
            "a.yaml:5: name: required");
  EXPECT_EQ(ParseError("kind: template\nname:\nspec: {}\n"), "a.yaml:2: name: required");
  EXPECT_TRUE(ParseResourceDocs("kind: dnc\nspec: {number: \"+14155550100\"}\n", "a.yaml").ok());
}

TEST(ParseResourceDocsErrorsTest, NameMustBeKebabCase) {
  EXPECT_THAT(ParseError("kind: template\nname: Payment Reminder\nspec: {}\n"),
              StartsWith("a.yaml:2: name: \"Payment Reminder\" is not a valid name"));
  EXPECT_THAT(ParseError("kind: template\nname: -x\nspec: {}\n"), StartsWith("a.yaml:2: name: "));
  EXPECT_THAT(ParseError("kind: template\nname: " + std::string(64, 'a') + "\nspec: {}\n"),
              StartsWith("a.yaml:2: name: "));
  EXPECT_EQ(ParseError("kind: template\nname: {a: b}\nspec: {}\n"),
            "a.yaml:2: name: must be a string");
  // A name that YAML would read as a number is still taken as written.
  absl::StatusOr<std::vector<ResourceDoc>> docs =
      ParseResourceDocs("kind: template\nname: 2024\nspec: {}\n", "a.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->front().name, "2024");
}

TEST(ParseResourceDocsErrorsTest, SpecMustBeAMapping) {
  EXPECT_EQ(ParseError("\n\nkind: template\nname: x\nspec: [a, b]\n"),
            "a.yaml:5: spec: must be a mapping");
  EXPECT_EQ(ParseError("kind: template\nname: x\nspec: hello\n"),
            "a.yaml:3: spec: must be a mapping");
  EXPECT_EQ(ParseError("kind: template\nname: x\nspec:\n"), "a.yaml:3: spec: must be a mapping");
  EXPECT_EQ(ParseError("\n\nkind: template\nname: x\n"), "a.yaml:3: spec: required");
}

TEST(ParseResourceDocsErrorsTest, DocumentShapeAndFields) {
  EXPECT_EQ(ParseError("just text\n"),
            "a.yaml:1: a document must be a mapping with kind, name and spec");
  EXPECT_EQ(ParseError("kind: template\nname: x\nsepc: {}\n"),
            "a.yaml:3: sepc: unknown field (want kind, name, labels, spec)");
  EXPECT_EQ(ParseError("kind: template\nname: x\nname: y\nspec: {}\n"),
            "a.yaml:3: duplicate key \"name\"");
  EXPECT_EQ(ParseError("kind: template\nname: x\nlabels: [a]\nspec: {}\n"),
            "a.yaml:3: labels: must be a mapping of strings");
  EXPECT_EQ(ParseError("kind: template\nname: x\nlabels:\n  team: {a: b}\nspec: {}\n"),
            "a.yaml:4: labels.team: must be a string");
  EXPECT_EQ(ParseError("kind: template\nname: x\nspec:\n  stt: {}\n  stt: {}\n"),
            "a.yaml:5: duplicate key \"stt\"");
}

TEST(ParseResourceDocsErrorsTest, DncSpec) {
  EXPECT_EQ(ParseError("kind: dnc\nspec:\n  reason: opt_out\n"), "a.yaml:2: spec.number: required");
  EXPECT_EQ(ParseError("kind: dnc\nspec:\n  number: \"+14155550100\"\n  why: x\n"),
            "a.yaml:4: spec.why: unknown field (want number, campaign, reason, call_id)");
  EXPECT_EQ(ParseError("kind: dnc\nspec:\n  number: 14155550100\n"),
            "a.yaml:3: spec.number: must be a string");
}

TEST(ParseResourceDocsErrorsTest, SameResourceTwice) {
  EXPECT_EQ(ParseError("kind: prompt\nname: p\nspec: {}\n---\nkind: graph\nname: p\nspec: {}\n"
                       "---\nkind: prompt\nname: p\nspec: {text: x}\n"),
            "a.yaml:9: prompt/p: defined twice (first at a.yaml:1)");
}

class LoadResourceDocsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "parley-docs-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& relative, std::string_view text) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }

  std::string Path(const std::string& relative) const { return (dir_ / relative).string(); }

  fs::path dir_;
};

TEST_F(LoadResourceDocsTest, LoadsADirectoryInPathOrder) {
  Write("b.yaml", "kind: agent\nname: b\nspec: {}\n---\nkind: template\nname: b\nspec: {}\n");
  Write("a.yml", "kind: trunk\nname: a\nspec: {}\n");
  Write("sub/c.json", R"({"kind": "prompt", "name": "c", "spec": {}})");
  Write("sub/deeper/d.yaml", "kind: graph\nname: d\nspec: {}\n");
  Write("notes.txt", "kind: nonsense\n");
  Write("README.md", "# not loaded\n");
  Write(".hidden.yaml", "not: loaded\n");
  Write(".git/x.yaml", "not: loaded\n");

  absl::StatusOr<std::vector<ResourceDoc>> docs = LoadResourceDocs(dir_.string());
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(Refs(*docs), ElementsAre("trunk/a", "agent/b", "template/b", "prompt/c", "graph/d"));
  EXPECT_EQ((*docs)[0].source, Path("a.yml"));
  EXPECT_EQ((*docs)[2].source, Path("b.yaml"));
  EXPECT_EQ((*docs)[2].line, 5);
  EXPECT_EQ((*docs)[4].source, Path("sub/deeper/d.yaml"));

  absl::StatusOr<std::vector<ResourceDoc>> top =
      LoadResourceDocs(dir_.string(), {.recursive = false});
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_THAT(Refs(*top), ElementsAre("trunk/a", "agent/b", "template/b"));
}

// Personas are read by `parleyctl phone`, not applied: a directory holding them (like
// deploy/examples/personas) loads as if they were not there, even with fields a resource could
// not have.
TEST_F(LoadResourceDocsTest, SkipsClientSidePersonas) {
  Write("agent.yaml", "kind: agent\nname: a\nspec: {}\n");
  Write("personas/lead.yaml", "kind: persona\nname: lead\nspec:\n  replies: [\"Yes.\"]\n");
  Write("personas/odd.yaml", "kind: persona\nname: Not_A_Resource_Name\nextra: 1\n");
  Write("mixed.yaml", "kind: persona\nname: lead\nspec: {}\n---\nkind: trunk\nname: t\nspec: {}\n");
  Write("tests/lead.yaml",
        "kind: scenario\nname: books\nagent: a\npersona: lead\nexpect: {outcome: completed}\n");
  absl::StatusOr<std::vector<ResourceDoc>> docs = LoadResourceDocs(dir_.string());
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(Refs(*docs), ElementsAre("agent/a", "trunk/t"));
  EXPECT_TRUE(IsClientSideKind("persona"));
  EXPECT_TRUE(IsClientSideKind("scenario"));
  EXPECT_FALSE(IsKnownKind("persona"));
  // Still an unknown kind is an error, and so is a persona-like typo.
  Write("bad.yaml", "kind: persnoa\nname: x\nspec: {}\n");
  EXPECT_FALSE(LoadResourceDocs(dir_.string()).ok());
}

TEST_F(LoadResourceDocsTest, LoadsOneFileWhateverItsExtension) {
  Write("x.txt", "kind: trunk\nname: x\nspec: {}\n");
  absl::StatusOr<std::vector<ResourceDoc>> docs = LoadResourceDocs(Path("x.txt"));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(Refs(*docs), ElementsAre("trunk/x"));
  EXPECT_EQ(docs->front().source, Path("x.txt"));
}

TEST_F(LoadResourceDocsTest, ErrorsNameTheFile) {
  Write("a.yaml", "kind: trunk\nname: x\nspec: {}\n");
  Write("b.yaml", "kind: trunk\nname: y\nspec: {}\n---\nkind: trunk\nname: x\nspec: {}\n");
  absl::StatusOr<std::vector<ResourceDoc>> docs = LoadResourceDocs(dir_.string());
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(docs.status().message(),
            Path("b.yaml") + ":5: trunk/x: defined twice (first at " + Path("a.yaml") + ":1)");

  Write("b.yaml", "kind: trunk\nname: y\nspec:\n  kind: grpc\n kind: sip\n");
  docs = LoadResourceDocs(dir_.string());
  EXPECT_THAT(std::string(docs.status().message()),
              StartsWith(Path("b.yaml") + ":5: malformed YAML: "));
}

TEST_F(LoadResourceDocsTest, MissingPathIsNotFound) {
  absl::StatusOr<std::vector<ResourceDoc>> docs = LoadResourceDocs(Path("nope"));
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(docs.status().message()), HasSubstr("nope: no such file or directory"));
}

TEST_F(LoadResourceDocsTest, EmptyDirectoryHasNoDocuments) {
  absl::StatusOr<std::vector<ResourceDoc>> docs = LoadResourceDocs(dir_.string());
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_TRUE(docs->empty());
}

TEST(OrderForApplyTest, ReferencedKindsComeFirstAndOrderWithinAKindIsKept) {
  std::vector<ResourceDoc> docs;
  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"dnc", ""},
                                                        {"campaign", "c1"},
                                                        {"agent", "a1"},
                                                        {"inbound_route", "r1"},
                                                        {"graph", "g1"},
                                                        {"template", "t2"},
                                                        {"prompt", "p1"},
                                                        {"template", "t1"},
                                                        {"trunk", "k1"},
                                                        {"credential", "s1"},
                                                        {"agent", "a0"}}) {
    docs.push_back(ResourceDoc{.kind = kind, .name = name});
  }
  docs[0].spec = {{"number", "+14155550100"}};
  EXPECT_THAT(Refs(OrderForApply(docs)),
              ElementsAre("credential/s1", "trunk/k1", "prompt/p1", "template/t2", "template/t1",
                          "graph/g1", "agent/a1", "agent/a0", "campaign/c1", "inbound_route/r1",
                          "dnc/+14155550100"));
}

TEST(IsKnownKindTest, ExactLowerCaseNames) {
  EXPECT_TRUE(IsKnownKind("inbound_route"));
  EXPECT_TRUE(IsKnownKind("dnc"));
  EXPECT_FALSE(IsKnownKind("Template"));
  EXPECT_FALSE(IsKnownKind("persona"));
}

}  // namespace
}  // namespace parley::docs
