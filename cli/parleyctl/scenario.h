// Agent test scenarios for `parleyctl test`: a simulated callee (a persona) takes a call from an
// agent, and the scenario says what must be true afterwards.
//
// A scenario file is YAML, one or more documents (separated by `---`); documents of other kinds
// are skipped, and `parleyctl apply` skips scenarios, so they can live beside the agents:
//
//   kind: scenario
//   name: books-first-slot           # lower-kebab-case, unique among the scenarios run together
//   description: A keen lead takes the first slot.   # optional
//   agent: lead-qualifier
//   campaign: lead-followup-us       # optional
//   persona: cooperative-lead        # a persona name (looked up in --personas DIR), or a file
//                                    # path relative to this file (anything with '/' or .yaml)
//   to: "+14155550100"               # optional; default: a fresh number per run, so no memory
//                                    # or DNC entry of an earlier run gets in the way
//   context: {slot_1: "tomorrow at ten"}   # optional call context (strings, numbers, …)
//   timeout_s: 300                   # optional; the call is canceled and the scenario fails after
//   expect:
//     outcome: completed             # required: the call's final status
//     ended_reason: graph_end        # optional
//     nodes: [greet, verify, exit]   # the graph nodes entered, exactly and in order, or
//     nodes_include: [book, exit]    # … these among them, in this order
//     state: {appointment_booked: true, appointment_slot: slot_1}   # conversation state values
//     transcript_contains:           # phrases (case-insensitive) in the transcript
//       - "all set"
//       - {role: agent, text: "you're all set"}     # role: agent or callee
//     dnc: true                      # the number is (true) / is not (false) on the DNC list
//
//   PARLEY_ASSIGN_OR_RETURN(std::vector<Scenario> all, LoadScenarios("deploy/examples/tests"));
//   ... run each call, fill an Observed ...
//   std::vector<std::string> failures = CheckScenario(all[0].expect, observed);  // empty: PASS
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace parley::cli {

struct TranscriptPhrase {
  std::string role;  // "agent", "callee", or "" for either
  std::string text;
};

struct Expectations {
  std::string outcome;  // a CallStatus name: completed, busy, no_answer, …
  std::optional<std::string> ended_reason;
  std::optional<std::vector<std::string>> nodes;
  std::vector<std::string> nodes_include;
  std::vector<std::pair<std::string, nlohmann::json>> state;  // by key
  std::vector<TranscriptPhrase> transcript_contains;
  std::optional<bool> dnc;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string agent;
  std::string campaign;
  std::string persona;  // as written: a name or a path
  std::string to;       // empty: a fresh number per run
  nlohmann::json context = nlohmann::json::object();
  absl::Duration timeout = absl::Minutes(5);
  Expectations expect;
  std::string source;  // the file it came from

  // Whether `persona` names a file (relative to the scenario's file) rather than a persona.
  bool PersonaIsPath() const;
  // The persona file's path, resolved against the scenario file's directory.
  std::string PersonaPath() const;
};

// The scenarios in `text`; `source` names it in errors. Fails with INVALID_ARGUMENT
// "<source>: scenario <name or #n>: <field>: <problem>" for malformed YAML, an unknown field,
// a missing name, agent, persona or expect.outcome, an unknown outcome, a value of the wrong type,
// a transcript phrase with an unknown role, or `nodes` together with `nodes_include`.
absl::StatusOr<std::vector<Scenario>> ParseScenarios(std::string_view text,
                                                     std::string_view source);

// The scenarios of a file, or of every *.yaml / *.yml file under a directory (recursively, in
// path order). Fails with NOT_FOUND for a path that cannot be read, INVALID_ARGUMENT as
// ParseScenarios does, when nothing holds a scenario, or when two scenarios share a name.
absl::StatusOr<std::vector<Scenario>> LoadScenarios(const std::string& path);

// What happened on a scenario's call.
struct Observed {
  std::string outcome;  // CallStatus name
  std::string ended_reason;
  std::string error;  // the final status event's `error` detail, if any (why a call failed)
  std::vector<std::string> nodes;
  nlohmann::json state = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> transcript;  // role, text
  std::optional<bool> dnc;                                      // unknown when not looked up
};

// Each expectation that `observed` does not meet, as one line ("outcome: want completed, got
// busy (callee_busy)"); empty when all hold.
std::vector<std::string> CheckScenario(const Expectations& expect, const Observed& observed);

}  // namespace parley::cli
