// A Lua script run server-side with EVALSHA: the body crosses the network once per Redis server
// lifetime, not once per call, and the script runs atomically.
//
// Scripts are built once (usually a function-local static) and run with RedisPool::Eval, which
// loads the body with SCRIPT LOAD when Redis answers NOSCRIPT — after a Redis restart or a
// SCRIPT FLUSH — and retries once, so callers never see NOSCRIPT.
//
//   const RedisScript& IncrIfBelow() {
//     static const auto* kScript = new RedisScript(R"lua(
//       local n = tonumber(redis.call('GET', KEYS[1]) or '0')
//       if n >= tonumber(ARGV[1]) then return -1 end
//       return redis.call('INCR', KEYS[1])
//     )lua");
//     return *kScript;
//   }
//   PARLEY_ASSIGN_OR_RETURN(RedisReply r, pool.Eval(IncrIfBelow(), {key}, {"10"}));
#pragma once

#include <string>

namespace parley::redis {

class RedisScript final {
 public:
  // Holds `source` and its SHA1 (lower-case hex, as Redis names scripts). Never fails.
  explicit RedisScript(std::string source);

  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

}  // namespace parley::redis
