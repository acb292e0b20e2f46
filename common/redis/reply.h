// A Redis reply as a plain value, copied out of hiredis so it outlives the connection.
//
// RedisPool::Command returns one; error replies never reach the caller as a RedisReply from Command
// (they become a status), but do appear as Type::kError elements of Pipeline results and of arrays
// (e.g. inside an EXEC reply).
//
//   PARLEY_ASSIGN_OR_RETURN(RedisReply reply, pool.Command({"GET", key}));
//   if (reply.is_nil()) return absl::NotFoundError(key);
//   PARLEY_ASSIGN_OR_RETURN(std::string value, reply.AsString());
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace parley::redis {

struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };

  Type type = Type::kNil;
  std::string str;  // kString (binary-safe), kStatus ("OK"), kError (the whole message)
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray

  static RedisReply Nil() { return {}; }
  static RedisReply String(std::string s) { return {Type::kString, std::move(s), 0, {}}; }
  static RedisReply Integer(long long i) { return {Type::kInteger, {}, i, {}}; }
  static RedisReply Status(std::string s) { return {Type::kStatus, std::move(s), 0, {}}; }
  static RedisReply Error(std::string s) { return {Type::kError, std::move(s), 0, {}}; }
  static RedisReply Array(std::vector<RedisReply> e) { return {Type::kArray, {}, 0, std::move(e)}; }

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_array() const { return type == Type::kArray; }

  // The text of a kString or kStatus reply; INTERNAL for any other type.
  absl::StatusOr<std::string> AsString() const;

  // The value of a kInteger reply, or of a kString holding a decimal integer (a counter read back
  // with GET or HGET); INTERNAL for any other reply.
  absl::StatusOr<long long> AsInt() const;

  // The strings of a kArray whose elements are all kString/kStatus (nil elements become "");
  // INTERNAL otherwise. Suits SMEMBERS, LRANGE, ZRANGE, MGET.
  absl::StatusOr<std::vector<std::string>> AsStrings() const;

  // Field → value for a kArray of alternating string fields and values (HGETALL, CONFIG GET);
  // INTERNAL when the array is odd-length or holds non-strings.
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> AsMap() const;

  // "nil", "string", "integer", "array", "status" or "error", for messages.
  static const char* TypeName(Type type);
};

}  // namespace parley::redis
