#include "common/log/redact.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"

namespace parley::log {
namespace {

constexpr std::string_view kRedacted = "[REDACTED]";
constexpr std::string_view kSecretKeys[] = {
    "token",  "secret",        "password",   "passwd",     "api_key",
    "apikey", "authorization", "credential", "master_key", "private_key"};
constexpr std::string_view kPhoneKeys[] = {"to", "from", "phone", "number", "caller", "callee"};

struct SecretRegistry {
  absl::Mutex mu;
  std::vector<std::string> values ABSL_GUARDED_BY(mu);
};

SecretRegistry& Registry() {
  static SecretRegistry* registry = new SecretRegistry();  // never destroyed
  return *registry;
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '/' || c == '+' || c == '=' || c == '~';
}

// Replaces the word starting at `pos` (up to the next non-word char) with kRedacted.
size_t RedactWordAt(std::string& s, size_t pos) {
  size_t end = pos;
  while (end < s.size() && IsWordChar(s[end])) ++end;
  if (end == pos) return pos;
  s.replace(pos, end - pos, kRedacted);
  return pos + kRedacted.size();
}

void RedactBearer(std::string& s) {
  for (size_t pos = 0;
       (pos = absl::AsciiStrToLower(s).find("bearer ", pos)) != std::string::npos;) {
    pos = RedactWordAt(s, pos + 7);
  }
}

// `password=abc`, `token: abc`, `"api_key":"abc"` → value redacted.
void RedactKeyValues(std::string& s) {
  std::string lower = absl::AsciiStrToLower(s);
  for (std::string_view key : kSecretKeys) {
    for (size_t pos = 0; (pos = lower.find(key, pos)) != std::string::npos;) {
      size_t v = pos + key.size();
      // Skip the rest of the key word (e.g. "token_id"), closing quotes, then a separator.
      while (v < s.size() && (std::isalnum(static_cast<unsigned char>(s[v])) || s[v] == '_')) ++v;
      size_t after_key = v;
      while (v < s.size() && (s[v] == '"' || s[v] == '\'' || s[v] == ' ')) ++v;
      if (v < s.size() && (s[v] == '=' || s[v] == ':')) {
        ++v;
        while (v < s.size() && (s[v] == ' ' || s[v] == '"' || s[v] == '\'')) ++v;
        if (v < s.size() && IsWordChar(s[v]) && s.compare(v, kRedacted.size(), kRedacted) != 0) {
          size_t next = RedactWordAt(s, v);
          lower = absl::AsciiStrToLower(s);
          pos = next;
          continue;
        }
      }
      pos = after_key;
    }
  }
}

// scheme://user:password@host → scheme://user:[REDACTED]@host
void RedactUrlPasswords(std::string& s) {
  for (size_t pos = 0; (pos = s.find("://", pos)) != std::string::npos;) {
    size_t start = pos + 3;
    size_t at = s.find('@', start);
    size_t slash = s.find_first_of("/ \t\n\"'", start);
    if (at == std::string::npos || (slash != std::string::npos && slash < at)) {
      pos = start;
      continue;
    }
    size_t colon = s.find(':', start);
    if (colon != std::string::npos && colon < at) {
      s.replace(colon + 1, at - colon - 1, kRedacted);
      pos = colon + 1 + kRedacted.size() + 1;
    } else {
      pos = at + 1;
    }
  }
}

// Provider-style API keys: sk-…, sk_live_…, xi-…, gsk_… of 16+ word characters.
void RedactApiKeyShapes(std::string& s) {
  constexpr std::string_view kPrefixes[] = {"sk-", "sk_", "gsk_", "pk_", "rk_", "xai-"};
  for (std::string_view prefix : kPrefixes) {
    for (size_t pos = 0; (pos = s.find(prefix, pos)) != std::string::npos;) {
      if (pos > 0 && std::isalnum(static_cast<unsigned char>(s[pos - 1]))) {
        pos += prefix.size();
        continue;
      }
      size_t end = pos;
      while (end < s.size() && IsWordChar(s[end])) ++end;
      if (end - pos >= 16) {
        s.replace(pos, end - pos, kRedacted);
        pos += kRedacted.size();
      } else {
        pos = end;
      }
    }
  }
}

void RedactRegistered(std::string& s) {
  SecretRegistry& registry = Registry();
  absl::MutexLock lock(&registry.mu);
  for (const std::string& secret : registry.values) {
    if (s.find(secret) != std::string::npos)
      s = absl::StrReplaceAll(s, {{secret, std::string(kRedacted)}});
  }
}

// Digit runs that look like phone numbers (with + ( ) - . and single spaces between digits) are
// masked.
void MaskPhoneRuns(std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    bool starts = std::isdigit(static_cast<unsigned char>(s[i])) ||
                  ((s[i] == '+' || s[i] == '(') && i + 1 < s.size() &&
                   std::isdigit(static_cast<unsigned char>(s[i + 1])));
    bool inside_word = i > 0 && (std::isalpha(static_cast<unsigned char>(s[i - 1])) ||
                                 s[i - 1] == '_' || s[i - 1] == '-');
    if (!starts || inside_word) {
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i;
    size_t last_digit_end = i;
    int digits = 0;
    while (j < s.size()) {
      char c = s[j];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        ++digits;
        last_digit_end = j + 1;
      } else if (!(c == '+' && j == i) && c != '(' && c != ')' && c != '-' && c != '.' &&
                 !(c == ' ' && j + 1 < s.size() &&
                   std::isdigit(static_cast<unsigned char>(s[j + 1])))) {
        break;
      }
      ++j;
    }
    std::string_view run(s.data() + i, last_digit_end - i);
    bool followed_by_word =
        last_digit_end < s.size() && std::isalpha(static_cast<unsigned char>(s[last_digit_end]));
    // A leading '+' or '(' marks a phone number from 7 digits; bare digit runs need 10, so that
    // dates, ports and durations in messages stay readable.
    int min_digits = (s[i] == '+' || s[i] == '(') ? 7 : 10;
    if (digits >= min_digits && digits <= 15 && !followed_by_word) {
      out += MaskPhone(run);
    } else {
      out.append(run);
    }
    i = last_digit_end;
  }
  s = std::move(out);
}

bool KeyMatches(std::string_view key, const std::string_view* list, size_t n, bool exact) {
  std::string lower = absl::AsciiStrToLower(std::string(key));
  for (size_t i = 0; i < n; ++i) {
    if (exact ? lower == list[i] || absl::EndsWith(lower, "_" + std::string(list[i]))
              : lower.find(list[i]) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string MaskPhone(std::string_view number) {
  std::string digits;
  for (char c : number) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  std::string out = number.starts_with('+') ? "+" : "";
  size_t keep = digits.size() > 4 ? 4 : 0;
  out.append(digits.size() - keep, '*');
  out.append(digits, digits.size() - keep, keep);
  return out;
}

std::string RedactText(std::string_view text) {
  std::string s(text);
  RedactRegistered(s);
  RedactBearer(s);
  RedactUrlPasswords(s);
  RedactKeyValues(s);
  RedactApiKeyShapes(s);
  MaskPhoneRuns(s);
  return s;
}

bool IsSecretKey(std::string_view key) {
  return KeyMatches(key, kSecretKeys, std::size(kSecretKeys), /*exact=*/false);
}

std::string RedactField(std::string_view key, std::string_view value) {
  if (IsSecretKey(key)) return std::string(kRedacted);
  if (KeyMatches(key, kPhoneKeys, std::size(kPhoneKeys), /*exact=*/true)) return MaskPhone(value);
  return RedactText(value);
}

void RegisterSecret(std::string_view value) {
  if (value.size() < 6) return;
  SecretRegistry& registry = Registry();
  absl::MutexLock lock(&registry.mu);
  if (std::find(registry.values.begin(), registry.values.end(), value) == registry.values.end()) {
    registry.values.emplace_back(value);
  }
}

}  // namespace parley::log
