#include "common/redis/reply.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace parley::redis {
namespace {

absl::Status WrongType(const char* wanted, RedisReply::Type got) {
  return absl::InternalError(
      absl::StrCat("redis: expected ", wanted, " reply, got ", RedisReply::TypeName(got)));
}

}  // namespace

const char* RedisReply::TypeName(Type type) {
  switch (type) {
    case Type::kNil:
      return "nil";
    case Type::kString:
      return "string";
    case Type::kInteger:
      return "integer";
    case Type::kArray:
      return "array";
    case Type::kStatus:
      return "status";
    case Type::kError:
      return "error";
  }
  return "unknown";
}

absl::StatusOr<std::string> RedisReply::AsString() const {
  if (type != Type::kString && type != Type::kStatus) return WrongType("string", type);
  return str;
}

absl::StatusOr<long long> RedisReply::AsInt() const {
  if (type == Type::kInteger) return integer;
  long long value = 0;
  if (type == Type::kString && absl::SimpleAtoi(str, &value)) return value;
  return WrongType("integer", type);
}

absl::StatusOr<std::vector<std::string>> RedisReply::AsStrings() const {
  if (type != Type::kArray) return WrongType("array", type);
  std::vector<std::string> out;
  out.reserve(elements.size());
  for (const RedisReply& e : elements) {
    if (e.is_nil()) {
      out.emplace_back();
    } else if (e.type == Type::kString || e.type == Type::kStatus) {
      out.push_back(e.str);
    } else {
      return WrongType("array of strings", e.type);
    }
  }
  return out;
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> RedisReply::AsMap() const {
  if (type != Type::kArray) return WrongType("array", type);
  if (elements.size() % 2 != 0) return absl::InternalError("redis: odd-length field/value array");
  absl::flat_hash_map<std::string, std::string> out;
  out.reserve(elements.size() / 2);
  for (size_t i = 0; i < elements.size(); i += 2) {
    const RedisReply& field = elements[i];
    const RedisReply& value = elements[i + 1];
    if (field.type != Type::kString) return WrongType("string field", field.type);
    if (value.type != Type::kString) return WrongType("string value", value.type);
    out[field.str] = value.str;
  }
  return out;
}

}  // namespace parley::redis
