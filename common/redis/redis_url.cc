#include "common/redis/redis_url.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace parley::redis {
namespace {

absl::Status BadUrl(absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("redis url: ", reason));
}

// Decodes %XX escapes so passwords may contain '@', ':' and '/'.
absl::StatusOr<std::string> PercentDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) ||
        !absl::ascii_isxdigit(in[i + 2])) {
      return BadUrl("bad percent escape");
    }
    auto hex = [](char c) {
      return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
    };
    out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
    i += 2;
  }
  return out;
}

}  // namespace

absl::StatusOr<RedisUrl> ParseRedisUrl(std::string_view std_url) {
  const absl::string_view url(std_url.data(), std_url.size());
  constexpr absl::string_view kScheme = "redis://";
  if (!absl::StartsWith(url, kScheme)) return BadUrl("must start with redis://");
  absl::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return BadUrl("query strings and fragments are not supported");
  }

  RedisUrl parsed;
  // The password may contain '@' only percent-encoded, so the last '@' ends the credentials.
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = credentials.find(':');
    if (colon == absl::string_view::npos) return BadUrl("credentials must be [username]:password");
    auto username = PercentDecode(credentials.substr(0, colon));
    if (!username.ok()) return username.status();
    auto password = PercentDecode(credentials.substr(colon + 1));
    if (!password.ok()) return password.status();
    parsed.username = *std::move(username);
    parsed.password = *std::move(password);
  }

  absl::string_view authority = rest;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    authority = rest.substr(0, slash);
    absl::string_view db = rest.substr(slash + 1);
    if (!db.empty() &&
        (!absl::SimpleAtoi(db, &parsed.db) || parsed.db < 0 || !absl::ascii_isdigit(db[0]))) {
      return BadUrl(absl::StrCat("database must be a non-negative integer, got \"", db, "\""));
    }
  }

  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return BadUrl("unterminated [ in IPv6 host");
    parsed.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return BadUrl("expected :port after ]");
      port = after.substr(1);
      if (port.empty()) return BadUrl("empty port");
    }
  } else if (size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    parsed.host = std::string(authority.substr(0, colon));
    port = authority.substr(colon + 1);
    if (port.empty()) return BadUrl("empty port");
  } else {
    parsed.host = std::string(authority);
  }
  if (parsed.host.empty()) return BadUrl("empty host");
  if (!port.empty() && (!absl::SimpleAtoi(port, &parsed.port) || parsed.port < 1 ||
                        parsed.port > 65535 || !absl::ascii_isdigit(port[0]))) {
    return BadUrl(absl::StrCat("port must be 1..65535, got \"", port, "\""));
  }
  return parsed;
}

}  // namespace parley::redis
