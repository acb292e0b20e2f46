// Persona files: parsing, defaults, and validation errors that name the field.
#include "common/callee/persona.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace parley::callee {
namespace {

using ::testing::HasSubstr;

std::string Error(std::string_view yaml) {
  absl::StatusOr<std::vector<Persona>> personas = ParsePersonas(yaml, "p.yaml");
  EXPECT_FALSE(personas.ok()) << yaml;
  EXPECT_EQ(personas.status().code(), absl::StatusCode::kInvalidArgument) << personas.status();
  return std::string(personas.status().message());
}

TEST(PersonaTest, ParsesEveryField) {
  constexpr std::string_view kYaml = R"(
kind: persona
name: lead
labels: {team: sales}
spec:
  description: A test lead.
  answer: answer
  ring_ms: 1500
  voice: {name: en-gb, speed: 1.2, pitch: 40}
  pause_ms: 600
  replies:
    - "Yes, speaking."
    - when: ["three months", timeline]
      say: As soon as possible.
    - silence: true
    - say: Who is this?
      interrupt_after_ms: 1500
      pause_ms: 300
  hangup: {after_last_reply_ms: 2000, after_s: 120}
)";
  absl::StatusOr<std::vector<Persona>> personas = ParsePersonas(kYaml, "p.yaml");
  ASSERT_TRUE(personas.ok()) << personas.status();
  ASSERT_EQ(personas->size(), 1u);
  const Persona& p = personas->front();
  EXPECT_EQ(p.name, "lead");
  EXPECT_EQ(p.description, "A test lead.");
  EXPECT_EQ(p.answer, AnswerMode::kAnswer);
  EXPECT_EQ(p.ring_ms, 1500);
  EXPECT_EQ(p.voice.name, "en-gb");
  EXPECT_DOUBLE_EQ(p.voice.speed, 1.2);
  EXPECT_EQ(p.voice.pitch, 40);
  ASSERT_EQ(p.replies.size(), 4u);
  EXPECT_EQ(p.replies[0].say, "Yes, speaking.");
  EXPECT_TRUE(p.replies[0].when.empty());
  EXPECT_EQ(p.replies[1].when, (std::vector<std::string>{"three months", "timeline"}));
  EXPECT_TRUE(p.replies[2].silence);
  EXPECT_EQ(p.replies[3].interrupt_after_ms, 1500);
  EXPECT_EQ(p.PauseFor(p.replies[3]), 300);
  EXPECT_EQ(p.PauseFor(p.replies[0]), 600);
  EXPECT_EQ(p.hangup_after_last_reply_ms, 2000);
  EXPECT_EQ(p.hangup_after_s, 120);
  EXPECT_EQ(p.source, "p.yaml");
}

TEST(PersonaTest, DefaultsAndOtherKindsSkipped) {
  absl::StatusOr<std::vector<Persona>> personas = ParsePersonas(
      "kind: template\nname: t\nspec: {}\n---\nkind: persona\nname: quiet\nspec: {}\n", "p.yaml");
  ASSERT_TRUE(personas.ok()) << personas.status();
  ASSERT_EQ(personas->size(), 1u);
  const Persona& p = personas->front();
  EXPECT_EQ(p.answer, AnswerMode::kAnswer);
  EXPECT_EQ(p.ring_ms, 1000);
  EXPECT_EQ(p.pause_ms, 700);
  EXPECT_EQ(p.voice.name, "en-us");
  EXPECT_TRUE(p.replies.empty());
  EXPECT_FALSE(p.hangup_after_s.has_value());
}

TEST(PersonaTest, AnswerModesAndVoicemail) {
  for (std::string_view mode :
       {"answer", "busy", "no_answer", "decline", "hangup_while_ringing", "voicemail"}) {
    absl::StatusOr<std::vector<Persona>> personas = ParsePersonas(
        "kind: persona\nname: x\nspec: {answer: " + std::string(mode) + "}\n", "p.yaml");
    ASSERT_TRUE(personas.ok()) << personas.status();
    EXPECT_EQ(AnswerModeName(personas->front().answer), mode);
  }
  absl::StatusOr<std::vector<Persona>> vm = ParsePersonas(
      "kind: persona\nname: vm\nspec:\n  answer: voicemail\n  voicemail:\n"
      "    greeting: Hi, you've reached Sam.\n    beep_ms: 300\n    record_s: 5\n",
      "p.yaml");
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->front().voicemail.greeting, "Hi, you've reached Sam.");
  EXPECT_EQ(vm->front().voicemail.beep_ms, 300);
  EXPECT_EQ(vm->front().voicemail.beep_hz, 1000);
  EXPECT_EQ(vm->front().voicemail.record_s, 5);
}

TEST(PersonaTest, FaultsForChaosTests) {
  absl::StatusOr<std::vector<Persona>> p = ParsePersonas(
      "kind: persona\nname: bad-line\nspec:\n  faults: {garbage_audio: true, "
      "stop_audio_after_ms: 3000, hangup_mid_reply_ms: 400}\n",
      "p.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)[0].faults.garbage_audio);
  EXPECT_EQ((*p)[0].faults.stop_audio_after_ms, 3000);
  EXPECT_EQ((*p)[0].faults.hangup_mid_reply_ms, 400);
  EXPECT_THAT(Error("kind: persona\nname: x\nspec:\n  faults: {drop_half: true}\n"),
              HasSubstr("spec.faults.drop_half: unknown field"));
}

TEST(PersonaTest, ErrorsNameTheField) {
  const std::string head = "kind: persona\nname: x\nspec:\n";
  EXPECT_EQ(Error(head + "  replies:\n    - a\n    - b\n    - say: \"\"\n"),
            "p.yaml: spec.replies[2].say: empty");
  EXPECT_EQ(Error(head + "  replies:\n    - when: [hello]\n"),
            "p.yaml: spec.replies[0].say: required (or silence: true)");
  EXPECT_EQ(Error(head + "  replies:\n    - {say: hi, when: [\"\"]}\n"),
            "p.yaml: spec.replies[0].when[0]: empty");
  EXPECT_EQ(Error(head + "  replies:\n    - {silence: true, say: hi}\n"),
            "p.yaml: spec.replies[0].say: a silence entry says nothing");
  EXPECT_THAT(Error(head + "  replies:\n    - {say: hi, sya: x}\n"),
              HasSubstr("p.yaml: spec.replies[0].sya: unknown field"));
  EXPECT_THAT(Error(head + "  answer: maybe\n"),
              HasSubstr("p.yaml: spec.answer: unknown mode \"maybe\" (want answer, busy,"));
  EXPECT_EQ(Error(head + "  ring_ms: -5\n"), "p.yaml: spec.ring_ms: must be between 0 and 600000");
  EXPECT_EQ(Error(head + "  pause_ms: soon\n"), "p.yaml: spec.pause_ms: must be a whole number");
  EXPECT_EQ(Error(head + "  voice: {speed: fast}\n"), "p.yaml: spec.voice.speed: must be a number");
  EXPECT_THAT(Error(head + "  hangup: {after: 3}\n"),
              HasSubstr("spec.hangup.after: unknown field"));
  EXPECT_EQ(Error(head + "  voicemail: {greeting: hi}\n"),
            "p.yaml: spec.voicemail: only for answer: voicemail");
  EXPECT_THAT(Error(head + "  replis: []\n"), HasSubstr("p.yaml: spec.replis: unknown field"));
  EXPECT_EQ(Error("kind: persona\nspec: {}\n"), "p.yaml: name: required");
  EXPECT_EQ(Error("kind: persona\nname: x\n"), "p.yaml: spec: required");
  EXPECT_THAT(Error("kind: persona\nname: x\nspec: {}\nextra: 1\n"),
              HasSubstr("p.yaml: extra: unknown field"));
  EXPECT_THAT(Error("kind: persona\nname: x\nspec: [\n"), HasSubstr("malformed YAML"));
}

TEST(PersonaTest, LoadFileWantsExactlyOnePersona) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "persona_test";
  std::filesystem::create_directories(dir);
  const std::string none = (dir / "none.yaml").string();
  { std::ofstream(none) << "kind: template\nname: t\nspec: {}\n"; }
  absl::StatusOr<Persona> p = LoadPersonaFile(none);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("found 0"));
  EXPECT_EQ(LoadPersonaFile((dir / "missing.yaml").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PersonaTest, ShippedPersonasParse) {
  const std::filesystem::path dir =
      std::filesystem::path(PARLEY_SOURCE_DIR) / "deploy/examples/personas";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    absl::StatusOr<Persona> p = LoadPersonaFile(entry.path().string());
    EXPECT_TRUE(p.ok()) << p.status();
    ++count;
  }
  EXPECT_GE(count, 7);
}

}  // namespace
}  // namespace parley::callee
