#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "common/json/merge_patch.h"
#include "common/json/proto_json.h"
#include "common/json/struct_convert.h"
#include "parley/v1/config.pb.h"

namespace parley::json {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

nlohmann::json J(const char* text) { return nlohmann::json::parse(text); }

// --- RFC 7386 Appendix A: every example, in order ------------------------------------------

struct MergeCase {
  const char* target;
  const char* patch;
  const char* result;
};

class MergePatchRfcTest : public ::testing::TestWithParam<MergeCase> {};

TEST_P(MergePatchRfcTest, MatchesAppendixA) {
  const MergeCase& c = GetParam();
  EXPECT_EQ(MergePatch(J(c.target), J(c.patch)), J(c.result))
      << "target " << c.target << " patch " << c.patch;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7386, MergePatchRfcTest,
    ::testing::Values(MergeCase{R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
                      MergeCase{R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
                      MergeCase{R"({"a":"b"})", R"({"a":null})", R"({})"},
                      MergeCase{R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
                      MergeCase{R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
                      MergeCase{R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
                      MergeCase{R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
                                R"({"a":{"b":"d"}})"},
                      MergeCase{R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
                      MergeCase{R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
                      MergeCase{R"({"a":"b"})", R"(["c"])", R"(["c"])"},
                      MergeCase{R"({"a":"foo"})", R"(null)", R"(null)"},
                      MergeCase{R"({"a":"foo"})", R"("bar")", R"("bar")"},
                      MergeCase{R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
                      MergeCase{R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
                      MergeCase{R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"}));

TEST(MergePatchTest, RfcSection3Example) {
  const auto target = J(R"({"title": "Goodbye!", "author": {"givenName": "John",
      "familyName": "Doe"}, "tags": ["example", "sample"], "content": "This will be unchanged"})");
  const auto patch = J(R"({"title": "Hello!", "phoneNumber": "+01-123-456-7890",
      "author": {"familyName": null}, "tags": ["example"]})");
  EXPECT_EQ(MergePatch(target, patch),
            J(R"({"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
                  "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"})"));
}

TEST(MergePatchTest, TemplateThenCampaignThenCall) {
  nlohmann::json merged = J(R"({"llm": {"provider": "openai", "temperature": 0.7},
                                "end_call_phrases": ["bye"]})");
  merged = MergePatch(std::move(merged), J(R"({"llm": {"temperature": 0.2}})"));
  merged = MergePatch(std::move(merged), J(R"({"llm": {"model": "m"}, "end_call_phrases": []})"));
  EXPECT_EQ(merged, J(R"({"llm": {"provider": "openai", "temperature": 0.2, "model": "m"},
                          "end_call_phrases": []})"));
}

TEST(ParseJsonObjectTest, ParsesObject) {
  auto parsed = ParseJsonObject(R"({"a": [1, 2]})", "patch");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, J(R"({"a": [1, 2]})"));
}

TEST(ParseJsonObjectTest, RejectsInvalidJsonWithoutQuotingIt) {
  auto parsed = ParseJsonObject(R"({"key": "sk-secret", oops})", "patch_json");
  ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              StartsWith("patch_json: not valid JSON (parse error at line 1, column"));
  EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr("sk-secret")));
  EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr("oops")));
  EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr("json.exception")));
}

TEST(ParseJsonObjectTest, RejectsEmptyAndOverflow) {
  EXPECT_THAT(std::string(ParseJsonObject("", "p").status().message()),
              StartsWith("p: not valid JSON ("));
  EXPECT_THAT(std::string(ParseJsonObject(R"({"a": 1e999})", "p").status().message()),
              StartsWith("p: not valid JSON ("));
}

TEST(ParseJsonObjectTest, RejectsNonObjects) {
  for (const char* text : {"[1]", "1", "\"x\"", "null", "true"}) {
    auto parsed = ParseJsonObject(text, "state");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(parsed.status().message(), "state: must be a JSON object") << text;
  }
}

// --- Struct <-> JSON -------------------------------------------------------------------------

TEST(StructConvertTest, RoundTripsNestedValues) {
  const auto original = J(R"({
      "s": "text", "t": true, "f": false, "n": null, "i": 42, "neg": -7, "zero": 0,
      "d": 0.25, "big": 9007199254740992, "list": [1, "two", [3.5, null], {"k": false}],
      "obj": {"inner": {"deeper": [[]], "empty": {}}}})");
  auto as_struct = JsonToStruct(original, "spec");
  ASSERT_TRUE(as_struct.ok()) << as_struct.status();
  const nlohmann::json back = StructToJson(*as_struct);
  EXPECT_EQ(back, original);
  EXPECT_TRUE(back["i"].is_number_integer());
  EXPECT_EQ(back.dump(), original.dump());  // 42 stays 42, not 42.0
}

TEST(StructConvertTest, NumbersKeepTheirKind) {
  google::protobuf::Value v;
  v.set_number_value(3.0);
  EXPECT_EQ(ValueToJson(v).dump(), "3");
  v.set_number_value(-3.0);
  EXPECT_EQ(ValueToJson(v).dump(), "-3");
  v.set_number_value(3.5);
  EXPECT_EQ(ValueToJson(v).dump(), "3.5");
  v.set_number_value(9007199254740992.0);  // 2^53: still exact
  EXPECT_TRUE(ValueToJson(v).is_number_integer());
  v.set_number_value(1e300);  // whole, but far beyond 2^53: stays a double
  EXPECT_TRUE(ValueToJson(v).is_number_float());
  v.set_number_value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(ValueToJson(v).is_null());
  v.set_number_value(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(ValueToJson(v).is_null());
}

TEST(StructConvertTest, JsonNumbersBecomeDoubles) {
  auto value = JsonToValue(J(R"([7, 18446744073709551615, -2, 1.5])"));
  ASSERT_TRUE(value.ok());
  const auto& list = value->list_value();
  ASSERT_EQ(list.values_size(), 4);
  EXPECT_EQ(list.values(0).number_value(), 7.0);
  EXPECT_EQ(list.values(1).number_value(), 18446744073709551615.0);
  EXPECT_EQ(list.values(2).number_value(), -2.0);
  EXPECT_EQ(list.values(3).number_value(), 1.5);
}

TEST(StructConvertTest, ScalarsAndNull) {
  EXPECT_EQ(JsonToValue(nullptr)->kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_EQ(JsonToValue(true)->bool_value(), true);
  EXPECT_EQ(JsonToValue("x")->string_value(), "x");
  EXPECT_TRUE(ValueToJson(google::protobuf::Value()).is_null());  // kind not set
  EXPECT_EQ(StructToJson(google::protobuf::Struct()), nlohmann::json::object());
}

TEST(StructConvertTest, StructRequiresAnObject) {
  for (const char* text : {"[1]", "1", "null", "\"s\""}) {
    auto s = JsonToStruct(J(text), "spec");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message(), "spec: must be a JSON object");
  }
}

TEST(StructConvertTest, RejectsBinaryWithPath) {
  nlohmann::json j = J(R"({"a": [1, {"b": null}]})");
  j["a"][1]["b"] = nlohmann::json::binary({1, 2, 3});
  auto s = JsonToStruct(j, "state");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), StartsWith("state.a[1].b: "));
}

TEST(StructConvertTest, LimitsNesting) {
  nlohmann::json ok = 1;
  for (int i = 0; i < kMaxStructDepth; ++i) ok = nlohmann::json{{"k", ok}};
  EXPECT_TRUE(JsonToStruct(ok).ok());
  nlohmann::json too_deep = nlohmann::json{{"k", ok}};
  EXPECT_EQ(JsonToStruct(too_deep).status().code(), absl::StatusCode::kInvalidArgument);
  nlohmann::json lists = 1;
  for (int i = 0; i < kMaxStructDepth + 1; ++i) lists = nlohmann::json::array({lists});
  EXPECT_EQ(JsonToValue(lists).status().code(), absl::StatusCode::kInvalidArgument);
}

// A Struct from a request, stored as JSON: what would not read back the same is refused, with
// the path, and exactly at JsonToStruct's own limit.
TEST(StructConvertTest, CheckStructRoundTripsMatchesWhatReadsBack) {
  google::protobuf::Struct deep;
  google::protobuf::Struct* at = &deep;
  for (int i = 1; i < kMaxStructDepth; ++i) {
    at = (*at->mutable_fields())["k"].mutable_struct_value();
  }
  (*at->mutable_fields())["leaf"].set_number_value(1);
  EXPECT_TRUE(CheckStructRoundTrips(deep, "context").ok());
  EXPECT_TRUE(JsonToStruct(StructToJson(deep)).ok());
  (*at->mutable_fields())["k"].mutable_struct_value();  // one level more
  absl::Status s = CheckStructRoundTrips(deep, "context");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), StartsWith("context.k.k."));
  EXPECT_THAT(std::string(s.message()), HasSubstr("nested deeper than 32 levels"));
  EXPECT_FALSE(JsonToStruct(StructToJson(deep)).ok());

  google::protobuf::Struct lists;
  google::protobuf::Value* v = &(*lists.mutable_fields())["l"];
  for (int i = 0; i < kMaxStructDepth; ++i) v = v->mutable_list_value()->add_values();
  v->set_number_value(1);
  EXPECT_EQ(CheckStructRoundTrips(lists, "context").ok(), JsonToStruct(StructToJson(lists)).ok());
  EXPECT_FALSE(CheckStructRoundTrips(lists, "context").ok());

  google::protobuf::Struct nan;
  (*nan.mutable_fields())["a"].mutable_list_value()->add_values()->set_string_value("x");
  (*nan.mutable_fields())["a"].mutable_list_value()->add_values()->set_number_value(
      std::numeric_limits<double>::quiet_NaN());
  s = CheckStructRoundTrips(nan, "context");
  EXPECT_EQ(std::string(s.message()), "context.a[1]: must be a finite number");
}

// --- ParseSpec: proto3 JSON into parley.v1 specs, errors with field paths ---------------------

std::string SpecError(const char* spec_text, const char* path = "template") {
  v1::TemplateSpec spec;
  absl::Status status = ParseSpec(J(spec_text), path, &spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << spec_text;
  return std::string(status.message());
}

std::string GraphError(const char* spec_text) {
  v1::GraphSpec spec;
  absl::Status status = ParseSpec(J(spec_text), "graph", &spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << spec_text;
  return std::string(status.message());
}

TEST(ParseSpecTest, ParsesValidSpec) {
  v1::TemplateSpec spec;
  ASSERT_TRUE(ParseSpec(J(R"({"description": "d", "llm": {"provider": "openai", "temperature": 0.5,
      "max_tokens": 200, "options": {"x": [1, {"y": null}]}, "fallbacks": [{"provider": "ollama"}]},
      "end_call_phrases": ["bye", "goodbye"]})"),
                        "template", &spec)
                  .ok());
  EXPECT_EQ(spec.description(), "d");
  EXPECT_EQ(spec.llm().temperature(), 0.5);
  EXPECT_EQ(spec.llm().max_tokens(), 200);
  EXPECT_EQ(spec.llm().fallbacks(0).provider(), "ollama");
  EXPECT_EQ(spec.end_call_phrases_size(), 2);
}

TEST(ParseSpecTest, ClearsOutputFirst) {
  v1::TemplateSpec spec;
  spec.set_greeting("old");
  ASSERT_TRUE(ParseSpec(J(R"({"description": "d"})"), "template", &spec).ok());
  EXPECT_EQ(spec.greeting(), "");
}

TEST(ParseSpecTest, RequiresAnObject) {
  EXPECT_EQ(SpecError("[1]"), "template: must be a JSON object");
  EXPECT_EQ(SpecError("3"), "template: must be a JSON object");
}

TEST(ParseSpecTest, UnknownFieldTopLevel) {
  EXPECT_EQ(SpecError(R"({"descriptionx": "a"})"), "template.descriptionx: unknown field");
}

TEST(ParseSpecTest, UnknownFieldNested) {
  EXPECT_EQ(SpecError(R"({"llm": {"temprature": 1}})"), "template.llm.temprature: unknown field");
}

TEST(ParseSpecTest, UnknownFieldInRepeatedElements) {
  EXPECT_EQ(SpecError(R"({"llm": {"fallbacks": [{}, {"bogus": 1}]}})"),
            "template.llm.fallbacks[1].bogus: unknown field");
  EXPECT_EQ(GraphError(R"({"nodes": [{"name": "a"}, {"transitions": [{"to": "b", "bogus": 1}]}]})"),
            "graph.nodes[1].transitions[0].bogus: unknown field");
}

TEST(ParseSpecTest, UnknownFieldWithOddName) {
  EXPECT_EQ(SpecError(R"({"tts": {"sp: eed": 1}})"), "template.tts.sp: eed: unknown field");
}

TEST(ParseSpecTest, RecursiveRepeatedFieldKeepsItsName) {
  // protobuf reports "(llm.fallbacks[0][1].model)"; the inner list is fallbacks too.
  EXPECT_EQ(SpecError(R"({"llm": {"fallbacks": [{"fallbacks": [{}, {"model": 4}]}]}})"),
            "template.llm.fallbacks[0].fallbacks[1].model: expected a string, got 4");
  EXPECT_EQ(SpecError(R"({"llm": {"fallbacks": [{"fallbacks": [{}, {"nope": 4}]}]}})"),
            "template.llm.fallbacks[0].fallbacks[1].nope: unknown field");
}

TEST(ParseSpecTest, WrongTypes) {
  EXPECT_EQ(SpecError(R"({"llm": {"temperature": "abc"}})"),
            "template.llm.temperature: expected a number, got \"abc\"");
  EXPECT_EQ(SpecError(R"({"llm": {"max_tokens": 1.5}})"),
            "template.llm.max_tokens: expected a 32-bit integer, got 1.5");
  EXPECT_EQ(SpecError(R"({"llm": {"max_tokens": 99999999999}})"),
            "template.llm.max_tokens: expected a 32-bit integer, got 99999999999");
  EXPECT_EQ(SpecError(R"({"description": 5})"), "template.description: expected a string, got 5");
  EXPECT_EQ(SpecError(R"({"limits": {"max_duration_s": true}})"),
            "template.limits.max_duration_s: expected a 32-bit integer, got true");
  EXPECT_EQ(SpecError(R"({"llm": {"fallbacks": [{}, {"temperature": true}]}})"),
            "template.llm.fallbacks[1].temperature: expected a number, got true");
}

TEST(ParseSpecTest, WrongShapes) {
  EXPECT_EQ(SpecError(R"({"llm": 5})"), "template.llm: expected an object, got 5");
  EXPECT_EQ(SpecError(R"({"llm": {"temperature": {}}})"),
            "template.llm.temperature: expected a number, got an object");
  EXPECT_EQ(SpecError(R"({"llm": {"options": 3}})"),
            "template.llm.options: expected an object, got 3");
  EXPECT_EQ(SpecError(R"({"end_call_phrases": [1]})"),
            "template.end_call_phrases[0]: expected a string, got 1");
  EXPECT_EQ(SpecError(R"({"end_call_phrases": [{}]})"),
            "template.end_call_phrases: expected a string, got an object");
  EXPECT_EQ(GraphError(R"({"nodes": [{}, {"transitions": [{}, {"set_state": []}]}]})"),
            "graph.nodes[1].transitions[1].set_state: expected an object, got a list");
  EXPECT_EQ(GraphError(R"({"nodes": [{}, {"transitions": [{"to": 3}]}]})"),
            "graph.nodes[1].transitions[0].to: expected a string, got 3");
  EXPECT_EQ(GraphError(R"({"nodes": [3]})"), "graph.nodes[0]: expected an object, got 3");
}

TEST(ParseSpecTest, MapEntriesAreNamedByKey) {
  EXPECT_EQ(GraphError(R"({"tools": [{"http": {"headers": {"A": "x", "X-Key": 2}}}]})"),
            "graph.tools[0].http.headers.X-Key: expected a string, got 2");
  EXPECT_EQ(GraphError(R"({"tools": [{"http": {"headers": {"a": "x", "b c": [1]}}}]})"),
            "graph.tools[0].http.headers[\"b c\"]: expected a string, got a list");
  EXPECT_EQ(GraphError(R"({"tools": [{"http": {"headers": []}}]})"),
            "graph.tools[0].http.headers: expected an object, got a list");
  v1::AgentSpec agent;
  absl::Status status =
      ParseSpec(J(R"({"prompt_versions": {"greet": 2, "verify": "x"}})"), "agent", &agent);
  EXPECT_EQ(status.message(), "agent.prompt_versions.verify: expected a 32-bit integer, got \"x\"");
}

TEST(ParseSpecTest, LongValuesAreShortened) {
  const std::string message = SpecError(
      R"({"tts": {"speed": "a very long string value that goes on and on and on and on"}})");
  EXPECT_THAT(message, StartsWith("template.tts.speed: expected a number, got \"a very long"));
  EXPECT_THAT(message, HasSubstr("…"));
  EXPECT_THAT(message, Not(HasSubstr("on and on and on and on")));
}

TEST(ParseSpecTest, FailureLeavesMessageClear) {
  v1::TemplateSpec spec;
  EXPECT_FALSE(ParseSpec(J(R"({"description": "d", "llm": {"x": 1}})"), "t", &spec).ok());
  EXPECT_EQ(spec.ByteSizeLong(), 0u);
}

TEST(MessageToJsonTest, UsesProtoFieldNames) {
  v1::TemplateSpec spec;
  spec.mutable_llm()->set_max_tokens(100);
  spec.mutable_llm()->set_temperature(0.5);
  spec.add_end_call_phrases("bye");
  (*spec.mutable_llm()->mutable_options()->mutable_fields())["k"].set_string_value("v");
  EXPECT_EQ(MessageToJson(spec), J(R"({"llm": {"max_tokens": 100, "temperature": 0.5,
                                                "options": {"k": "v"}},
                                       "end_call_phrases": ["bye"]})"));
}

TEST(MessageToJsonTest, RoundTripsThroughParseSpec) {
  const auto spec_json = J(R"({"start_node": "greet", "nodes": [{"name": "greet",
      "say": ["hi"], "transitions": [{"to": "exit", "set_state": {"done": true}}]}]})");
  v1::GraphSpec graph;
  ASSERT_TRUE(ParseSpec(spec_json, "graph", &graph).ok());
  EXPECT_EQ(MessageToJson(graph), spec_json);
}

}  // namespace
}  // namespace parley::json
