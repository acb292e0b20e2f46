// Parsing of the Redis address Parley services take from PARLEY_REDIS_URL.
//
// Accepted form: redis://[[username]:password@]host[:port][/db]
// The port defaults to 6379 and the database to 0; the password may be percent-encoded. IPv6 hosts
// go in brackets: redis://[::1]:6379.
//
//   PARLEY_ASSIGN_OR_RETURN(RedisUrl url, ParseRedisUrl("redis://:s3cret@redis:6379/2"));
//   // url.host == "redis", url.port == 6379, url.password == "s3cret", url.db == 2
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace parley::redis {

struct RedisUrl {
  std::string host;
  int port = 6379;
  std::string username;  // empty: AUTH with the password only (the pre-ACL form)
  std::string password;  // empty: no AUTH
  int db = 0;
};

// Returns the parsed URL; INVALID_ARGUMENT naming the problem when `url` is not of the form above
// (wrong scheme, empty host, port outside 1..65535, db not a non-negative integer, bad escape).
absl::StatusOr<RedisUrl> ParseRedisUrl(std::string_view url);

}  // namespace parley::redis
