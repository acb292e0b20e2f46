// Transition conditions of a conversation graph: parsing and evaluation.
//
// A condition (GraphSpec Transition.condition) is a boolean expression over the conversation
// state: dotted paths into the state (`verified`, `context.amount_due`, `items.0.sku`; the caller
// puts the call context under "context"), JSON literals (numbers, "double-quoted strings", true,
// false, null), comparisons `== != < <= > >=`, `!`, `&&`, `||` and parentheses. Precedence, from
// tightest: `!`, comparisons (not chainable), `&&`, `||`.
//
// Semantics (JSON comparison): a missing path reads null; `!x` is true for null, false, 0 and "";
// numbers compare numerically (1 == 1.0), strings lexicographically (by byte); values of different
// types are never equal and never ordered (`"5" == 5`, `null < 1` and `"a" < 1` are all false);
// a bare value is true unless it is null, false, 0 or "". An empty condition is always true.
//
// config-api validates syntax when a graph is stored; the worker evaluates after each turn:
//
//   PARLEY_ASSIGN_OR_RETURN(Condition c, Condition::Parse("verified == true && amount_due > 100"));
//   bool take = c.Evaluate(state);   // state: {"verified": true, "amount_due": 120, "context":
//   {...}}
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace parley::graph {

// A parsed condition; cheap to copy (the syntax tree is shared and immutable).
class Condition final {
 public:
  // Parses `expr`. An empty or all-blank expression gives a condition that is always true.
  // Fails with INVALID_ARGUMENT "<what is wrong> at column N" (N counts bytes from 1) on a syntax
  // error; the message carries no field path, callers prefix their own.
  static absl::StatusOr<Condition> Parse(std::string_view expr);

  // The condition's value for `state` (any JSON; non-objects make every path read null).
  // Never fails.
  bool Evaluate(const nlohmann::json& state) const;

  // The syntax tree; defined in condition.cc.
  struct Node;

 private:
  explicit Condition(std::shared_ptr<const Node> root) : root_(std::move(root)) {}

  std::shared_ptr<const Node> root_;  // null: always true
};

// Parses `expr` and evaluates it against `state` (see Condition). Fails only on a syntax error,
// with INVALID_ARGUMENT "<what is wrong> at column N".
absl::StatusOr<bool> EvaluateCondition(std::string_view expr, const nlohmann::json& state);

}  // namespace parley::graph
