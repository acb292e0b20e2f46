#include "services/config-api/validate_rules.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/phone/phone.h"
#include "common/status/status.h"
#include "nlohmann/json.hpp"
#include "services/config-api/validate.h"

namespace parley::config::validate_internal {
namespace {

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlpha(char c) { return IsLower(c) || IsUpper(c); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsBlankChar(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool HasControlOrBlank(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool IsPort(std::string_view s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), IsDigit)) return false;
  const int port = std::stoi(std::string(s));
  return port >= 1 && port <= 65535;
}

bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      // Labels are 1-63 alphanumerics and inner hyphens; a trailing dot (FQDN) is fine.
      if (label == 0 && i != s.size()) return false;
      if (label > 63) return false;
      if (label > 0 && (s[i - label] == '-' || s[i - 1] == '-')) return false;
      label = 0;
    } else if (IsAlnum(s[i]) || s[i] == '-' || s[i] == '_') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status Invalid(const std::string& path, const std::string& reason) {
  return InvalidField(path, reason);
}

std::string Field(const std::string& path, std::string_view name) {
  return absl::StrCat(path, ".", AbslView(name));
}

std::string Index(const std::string& path, int i) { return absl::StrCat(path, "[", i, "]"); }

std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsBlank(std::string_view s) { return std::all_of(s.begin(), s.end(), IsBlankChar); }

bool IsResourceName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsLower(c) || IsDigit(c) || c == '-'; });
}

bool IsToken(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
}

bool IsIdentifier(std::string_view s) {
  return !s.empty() && !IsDigit(s.front()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '_'; });
}

bool IsVariableName(std::string_view s) {
  bool first = true;
  while (true) {
    const size_t dot = s.find('.');
    const std::string_view segment = s.substr(0, dot);
    if (segment.empty()) return false;
    if (!std::all_of(segment.begin(), segment.end(),
                     [](char c) { return IsAlnum(c) || c == '_'; })) {
      return false;
    }
    if (first && IsDigit(segment.front())) return false;
    first = false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

bool IsUrl(std::string_view s, std::initializer_list<std::string_view> schemes) {
  const size_t sep = s.find("://");
  if (sep == std::string_view::npos || HasControlOrBlank(s)) return false;
  if (std::find(schemes.begin(), schemes.end(), s.substr(0, sep)) == schemes.end()) return false;
  const std::string_view rest = s.substr(sep + 3);
  return !rest.substr(0, rest.find_first_of("/?#")).empty();
}

bool IsSipUri(std::string_view s) {
  if (HasControlOrBlank(s)) return false;
  if (s.substr(0, 4) == "sip:") return s.size() > 4;
  if (s.substr(0, 5) == "sips:") return s.size() > 5;
  return false;
}

bool IsIpAddress(std::string_view s) {
  const std::string str(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, str.c_str(), buf) == 1 || inet_pton(AF_INET6, str.c_str(), buf) == 1;
}

bool IsHost(std::string_view s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    return IsIpAddress(s.substr(1, s.size() - 2));
  }
  return IsIpAddress(s) || IsDnsName(s);
}

bool IsHostPort(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view host = s.substr(0, colon);
  // A bare IPv6 address needs brackets to tell its colons from the port's.
  if (host.find(':') != std::string_view::npos && host.front() != '[') return false;
  return IsHost(host) && IsPort(s.substr(colon + 1));
}

bool IsLanguageTag(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsAlpha(s[i])) ++i;
  if (i < 2 || i > 8) return false;
  while (i < s.size()) {
    if (s[i] != '-') return false;
    const size_t begin = ++i;
    while (i < s.size() && IsAlnum(s[i])) ++i;
    if (i == begin || i - begin > 8) return false;
  }
  return true;
}

bool IsZoneName(std::string_view s) {
  if (s.empty() || s.front() == '/' || s == "localtime") return false;
  if (s.find("..") != std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsAlnum(c) || c == '/' || c == '_' || c == '-' || c == '+';
  });
}

bool IsRegionCode(std::string_view s) { return s.size() == 2 && IsUpper(s[0]) && IsUpper(s[1]); }

std::optional<int> ClockMinutes(std::string_view s, bool allow_24) {
  if (s.size() != 5 || s[2] != ':' || !IsDigit(s[0]) || !IsDigit(s[1]) || !IsDigit(s[3]) ||
      !IsDigit(s[4])) {
    return std::nullopt;
  }
  const int hours = (s[0] - '0') * 10 + (s[1] - '0');
  const int minutes = (s[3] - '0') * 10 + (s[4] - '0');
  if (allow_24 && hours == 24 && minutes == 0) return 24 * 60;
  if (hours > 23 || minutes > 59) return std::nullopt;
  return hours * 60 + minutes;
}

absl::Status RealInRange(const std::string& path, double v, double lo, double hi) {
  if (v >= lo && v <= hi) return absl::OkStatus();  // false for NaN
  return Invalid(path, absl::StrCat("must be in [", lo, ", ", hi, "]"));
}

absl::Status IntInRange(const std::string& path, int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return absl::OkStatus();
  return Invalid(path, absl::StrCat("must be in [", lo, ", ", hi, "]"));
}

absl::Status AtLeast(const std::string& path, int64_t v, int64_t lo) {
  if (v >= lo) return absl::OkStatus();
  return Invalid(path, absl::StrCat("must be >= ", lo));
}

absl::Status CheckResourceName(const std::string& path, std::string_view value) {
  if (value.empty()) return Invalid(path, "required");
  if (IsResourceName(value)) return absl::OkStatus();
  return Invalid(path, absl::StrCat(Quote(value),
                                    " is not a valid name (1-63 lower-case letters, digits and "
                                    "'-', starting and ending with a letter or digit)"));
}

absl::Status CheckRef(const std::string& path, std::string_view value, bool required) {
  if (value.empty() && !required) return absl::OkStatus();
  return CheckResourceName(path, value);
}

absl::Status CheckE164(const std::string& path, std::string_view value, bool required) {
  if (value.empty()) return required ? Invalid(path, "required") : absl::OkStatus();
  if (phone::IsE164(value)) return absl::OkStatus();
  return Invalid(path, "must be an E.164 number (+14155552671)");
}

absl::Status CheckTextVariables(const std::string& path, std::string_view text) {
  absl::StatusOr<std::vector<std::string>> vars = PromptVariables(text);
  if (vars.ok()) return absl::OkStatus();
  return Invalid(path, std::string(vars.status().message()));
}

}  // namespace parley::config::validate_internal
