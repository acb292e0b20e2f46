#include "common/graph/condition.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace parley::graph {

using nlohmann::json;

struct Condition::Node {
  enum class Op { kLiteral, kPath, kNot, kAnd, kOr, kEq, kNe, kLt, kLe, kGt, kGe };
  Op op = Op::kLiteral;
  json literal;                   // kLiteral
  std::vector<std::string> path;  // kPath
  std::unique_ptr<Node> lhs;      // kNot and binary operators
  std::unique_ptr<Node> rhs;      // binary operators
};

namespace {

using Node = Condition::Node;
using Op = Node::Op;

// Deep and long enough for any hand-written condition, small enough that the recursive parser,
// evaluator and destructor never exhaust the stack.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxLength = 4096;

enum class TokenKind { kEnd, kPath, kLiteral, kOp, kLParen, kRParen };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;               // as written, for messages
  size_t column = 0;              // 1-based
  json literal;                   // kLiteral
  std::vector<std::string> path;  // kPath
  Op op = Op::kLiteral;           // kOp
};

absl::Status SyntaxError(const std::string& what, size_t column) {
  return absl::InvalidArgumentError(absl::StrCat(what, " at column ", column));
}

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

std::string Describe(const Token& t) {
  return t.kind == TokenKind::kEnd ? "end of expression" : absl::StrCat("'", t.text, "'");
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < s_.size() &&
             (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
        ++pos_;
      }
      Token t;
      t.column = pos_ + 1;
      if (pos_ >= s_.size()) {
        tokens.push_back(std::move(t));
        return tokens;
      }
      const char c = s_[pos_];
      if (IsIdentStart(c)) {
        auto status = LexPath(t);
        if (!status.ok()) return status;
      } else if (IsDigit(c) || c == '-') {
        auto status = LexNumber(t);
        if (!status.ok()) return status;
      } else if (c == '"') {
        auto status = LexString(t);
        if (!status.ok()) return status;
      } else {
        auto status = LexPunct(t);
        if (!status.ok()) return status;
      }
      tokens.push_back(std::move(t));
    }
  }

 private:
  absl::Status LexPath(Token& t) {
    const size_t begin = pos_;
    std::vector<std::string> segments;
    while (true) {
      const size_t seg_begin = pos_;
      while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
      if (pos_ == seg_begin) {
        return SyntaxError("expected a name after '.'", pos_ + 1);
      }
      segments.emplace_back(s_.substr(seg_begin, pos_ - seg_begin));
      if (pos_ >= s_.size() || s_[pos_] != '.') break;
      ++pos_;
    }
    t.text = std::string(s_.substr(begin, pos_ - begin));
    if (segments.size() == 1 && (t.text == "true" || t.text == "false" || t.text == "null")) {
      t.kind = TokenKind::kLiteral;
      t.literal = json::parse(t.text);
      return absl::OkStatus();
    }
    t.kind = TokenKind::kPath;
    t.path = std::move(segments);
    return absl::OkStatus();
  }

  // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  absl::Status LexNumber(Token& t) {
    const size_t begin = pos_;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
      return pos_ - from;
    };
    if (pos_ >= s_.size() || !IsDigit(s_[pos_])) {
      return SyntaxError("expected a digit after '-'", pos_ + 1);
    }
    if (s_[pos_] == '0') {
      ++pos_;
      if (pos_ < s_.size() && IsDigit(s_[pos_])) {
        return SyntaxError("numbers must not have leading zeros", begin + 1);
      }
    } else {
      digits();
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return SyntaxError("expected a digit after '.'", pos_ + 1);
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return SyntaxError("expected a digit in the exponent", pos_ + 1);
    }
    if (pos_ < s_.size() && IsIdentStart(s_[pos_])) {
      return SyntaxError(
          absl::StrCat("unexpected character '", std::string(1, s_[pos_]), "' after a number"),
          pos_ + 1);
    }
    t.kind = TokenKind::kLiteral;
    t.text = std::string(s_.substr(begin, pos_ - begin));
    t.literal = json::parse(t.text, nullptr, /*allow_exceptions=*/false);
    if (t.literal.is_discarded()) return SyntaxError("invalid number", begin + 1);
    return absl::OkStatus();
  }

  absl::Status LexString(Token& t) {
    const size_t begin = pos_;
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      pos_ += (s_[pos_] == '\\') ? 2 : 1;
    }
    if (pos_ >= s_.size()) return SyntaxError("unterminated string", begin + 1);
    ++pos_;
    t.kind = TokenKind::kLiteral;
    t.text = std::string(s_.substr(begin, pos_ - begin));
    // JSON's own parser gives exactly JSON's escapes and rejects raw control characters.
    t.literal = json::parse(t.text, nullptr, /*allow_exceptions=*/false);
    if (t.literal.is_discarded()) return SyntaxError("invalid string literal", begin + 1);
    return absl::OkStatus();
  }

  absl::Status LexPunct(Token& t) {
    const char c = s_[pos_];
    const char next = pos_ + 1 < s_.size() ? s_[pos_ + 1] : '\0';
    auto take = [&](TokenKind kind, size_t len, Op op = Op::kLiteral) {
      t.kind = kind;
      t.op = op;
      t.text = std::string(s_.substr(pos_, len));
      pos_ += len;
      return absl::OkStatus();
    };
    switch (c) {
      case '(':
        return take(TokenKind::kLParen, 1);
      case ')':
        return take(TokenKind::kRParen, 1);
      case '=':
        if (next == '=') return take(TokenKind::kOp, 2, Op::kEq);
        return SyntaxError("unexpected '=' (did you mean '=='?)", pos_ + 1);
      case '!':
        if (next == '=') return take(TokenKind::kOp, 2, Op::kNe);
        return take(TokenKind::kOp, 1, Op::kNot);
      case '<':
        if (next == '=') return take(TokenKind::kOp, 2, Op::kLe);
        return take(TokenKind::kOp, 1, Op::kLt);
      case '>':
        if (next == '=') return take(TokenKind::kOp, 2, Op::kGe);
        return take(TokenKind::kOp, 1, Op::kGt);
      case '&':
        if (next == '&') return take(TokenKind::kOp, 2, Op::kAnd);
        return SyntaxError("unexpected '&' (did you mean '&&'?)", pos_ + 1);
      case '|':
        if (next == '|') return take(TokenKind::kOp, 2, Op::kOr);
        return SyntaxError("unexpected '|' (did you mean '||'?)", pos_ + 1);
      case '\'':
        return SyntaxError("unexpected \"'\" (strings use double quotes)", pos_ + 1);
      default:
        break;
    }
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      return SyntaxError(absl::StrCat("unexpected byte 0x", absl::Hex(u, absl::kZeroPad2)),
                         pos_ + 1);
    }
    return SyntaxError(absl::StrCat("unexpected character '", std::string(1, c), "'"), pos_ + 1);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Recursive descent over:
//   or      := and ('||' and)*
//   and     := compare ('&&' compare)*
//   compare := unary (('=='|'!='|'<'|'<='|'>'|'>=') unary)?
//   unary   := '!' unary | primary
//   primary := '(' or ')' | literal | path
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Node>> Run() {
    auto root = ParseOr(0);
    if (!root.ok()) return root;
    if (Peek().kind != TokenKind::kEnd) {
      return SyntaxError(absl::StrCat("unexpected ", Describe(Peek())), Peek().column);
    }
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool PeekOp(Op op) const { return Peek().kind == TokenKind::kOp && Peek().op == op; }

  static std::unique_ptr<Node> Binary(Op op, std::unique_ptr<Node> lhs, std::unique_ptr<Node> rhs) {
    auto node = std::make_unique<Node>();
    node->op = op;
    node->lhs = std::move(lhs);
    node->rhs = std::move(rhs);
    return node;
  }

  absl::Status CheckDepth(int depth) const {
    if (depth > kMaxDepth) return SyntaxError("expression nested too deeply", Peek().column);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseOr(int depth) {
    if (auto s = CheckDepth(depth); !s.ok()) return s;
    auto lhs = ParseAnd(depth);
    if (!lhs.ok()) return lhs;
    std::unique_ptr<Node> node = *std::move(lhs);
    while (PeekOp(Op::kOr)) {
      Next();
      auto rhs = ParseAnd(depth);
      if (!rhs.ok()) return rhs;
      node = Binary(Op::kOr, std::move(node), *std::move(rhs));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseAnd(int depth) {
    auto lhs = ParseCompare(depth);
    if (!lhs.ok()) return lhs;
    std::unique_ptr<Node> node = *std::move(lhs);
    while (PeekOp(Op::kAnd)) {
      Next();
      auto rhs = ParseCompare(depth);
      if (!rhs.ok()) return rhs;
      node = Binary(Op::kAnd, std::move(node), *std::move(rhs));
    }
    return node;
  }

  static bool IsComparison(const Token& t) {
    if (t.kind != TokenKind::kOp) return false;
    switch (t.op) {
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        return true;
      default:
        return false;
    }
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseCompare(int depth) {
    auto lhs = ParseUnary(depth);
    if (!lhs.ok()) return lhs;
    if (!IsComparison(Peek())) return lhs;
    const Op op = Next().op;
    auto rhs = ParseUnary(depth);
    if (!rhs.ok()) return rhs;
    if (IsComparison(Peek())) {
      return SyntaxError("comparisons cannot be chained (use '&&')", Peek().column);
    }
    return Binary(op, *std::move(lhs), *std::move(rhs));
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseUnary(int depth) {
    if (auto s = CheckDepth(depth); !s.ok()) return s;
    if (!PeekOp(Op::kNot)) return ParsePrimary(depth);
    Next();
    auto operand = ParseUnary(depth + 1);
    if (!operand.ok()) return operand;
    auto node = std::make_unique<Node>();
    node->op = Op::kNot;
    node->lhs = *std::move(operand);
    return node;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParsePrimary(int depth) {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kLParen: {
        Next();
        auto inner = ParseOr(depth + 1);
        if (!inner.ok()) return inner;
        if (Peek().kind != TokenKind::kRParen) {
          return SyntaxError(absl::StrCat("expected ')', found ", Describe(Peek())), Peek().column);
        }
        Next();
        return inner;
      }
      case TokenKind::kLiteral: {
        auto node = std::make_unique<Node>();
        node->op = Op::kLiteral;
        node->literal = Next().literal;
        return node;
      }
      case TokenKind::kPath: {
        auto node = std::make_unique<Node>();
        node->op = Op::kPath;
        node->path = Next().path;
        return node;
      }
      default:
        return SyntaxError(absl::StrCat("expected a value, found ", Describe(t)), t.column);
    }
  }

  std::vector<Token> tokens_;  // always ends with kEnd
  size_t pos_ = 0;
};

const json& Lookup(const json& state, const std::vector<std::string>& path) {
  static const json* const kNull = new json(nullptr);
  const json* cur = &state;
  for (const std::string& segment : path) {
    if (cur->is_object()) {
      auto it = cur->find(segment);
      if (it == cur->end()) return *kNull;
      cur = &*it;
    } else if (cur->is_array() && !segment.empty() && segment.size() < 10 &&
               segment.find_first_not_of("0123456789") == std::string::npos) {
      const size_t index = std::stoul(segment);
      if (index >= cur->size()) return *kNull;
      cur = &(*cur)[index];
    } else {
      return *kNull;
    }
  }
  return *cur;
}

bool Truthy(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_float()) return v.get<double>() != 0.0;
  if (v.is_number()) return v.get<int64_t>() != 0;  // unsigned > INT64_MAX wraps but stays != 0
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return true;  // arrays and objects, even empty ones
}

// -1, 0 or 1; nullopt when either is NaN. Integers compare exactly, whatever their signedness.
std::optional<int> CompareNumbers(const json& a, const json& b) {
  if (a.is_number_float() || b.is_number_float()) {
    const double x = a.get<double>();
    const double y = b.get<double>();
    if (std::isnan(x) || std::isnan(y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  auto huge = [](const json& v) {
    return v.is_number_unsigned() &&
           v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  };
  if (huge(a) || huge(b)) {
    if (!huge(a)) return -1;
    if (!huge(b)) return 1;
    const uint64_t x = a.get<uint64_t>();
    const uint64_t y = b.get<uint64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const int64_t x = a.get<int64_t>();
  const int64_t y = b.get<int64_t>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool Equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
  if (a.type() != b.type()) return false;
  return a == b;
}

// The ordering of a and b if both are numbers or both strings; nullopt otherwise.
std::optional<int> Order(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b);
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

json Eval(const Node& n, const json& state) {
  switch (n.op) {
    case Op::kLiteral:
      return n.literal;
    case Op::kPath:
      return Lookup(state, n.path);
    case Op::kNot:
      return !Truthy(Eval(*n.lhs, state));
    case Op::kAnd:
      return Truthy(Eval(*n.lhs, state)) && Truthy(Eval(*n.rhs, state));
    case Op::kOr:
      return Truthy(Eval(*n.lhs, state)) || Truthy(Eval(*n.rhs, state));
    case Op::kEq:
      return Equal(Eval(*n.lhs, state), Eval(*n.rhs, state));
    case Op::kNe:
      return !Equal(Eval(*n.lhs, state), Eval(*n.rhs, state));
    default:
      break;
  }
  const std::optional<int> order = Order(Eval(*n.lhs, state), Eval(*n.rhs, state));
  if (!order.has_value()) return false;
  switch (n.op) {
    case Op::kLt:
      return *order < 0;
    case Op::kLe:
      return *order <= 0;
    case Op::kGt:
      return *order > 0;
    case Op::kGe:
      return *order >= 0;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<Condition> Condition::Parse(std::string_view expr) {
  if (expr.size() > kMaxLength) {
    return SyntaxError(absl::StrCat("expression longer than ", kMaxLength, " bytes"),
                       kMaxLength + 1);
  }
  auto tokens = Lexer(expr).Run();
  if (!tokens.ok()) return tokens.status();
  if (tokens->size() == 1) return Condition(nullptr);  // blank: no condition
  auto root = Parser(*std::move(tokens)).Run();
  if (!root.ok()) return root.status();
  return Condition(std::shared_ptr<const Node>(*std::move(root)));
}

bool Condition::Evaluate(const json& state) const {
  if (root_ == nullptr) return true;
  return Truthy(Eval(*root_, state));
}

absl::StatusOr<bool> EvaluateCondition(std::string_view expr, const json& state) {
  auto condition = Condition::Parse(expr);
  if (!condition.ok()) return condition.status();
  return condition->Evaluate(state);
}

}  // namespace parley::graph
