// Redaction applied to everything Parley logs: secrets never reach a log line, and phone numbers
// keep only their last four digits.
//
//   parley::log::MaskPhone("+14155552671")            → "+*******2671"
//   parley::log::RedactText("auth Bearer abc123 ok")  → "auth Bearer [REDACTED] ok"
//   parley::log::RedactField("api_key", "sk-123")     → "[REDACTED]"
//
// The logger (log.h) calls these on every message and field; code that formats text for other
// sinks (events, error messages returned to API clients) can call them directly.
#pragma once

#include <string>
#include <string_view>

namespace parley::log {

// Masks all digits of a phone number but the last four; keeps a leading '+', drops separators.
// Numbers with four digits or fewer are masked entirely.
std::string MaskPhone(std::string_view number);

// Returns `text` with secrets and phone numbers masked: bearer tokens, `key=value` pairs whose key
// names a secret, passwords in URLs (`scheme://user:pass@`), API-key-shaped words (`sk-…`), values
// registered with RegisterSecret, and digit runs that look like phone numbers (7–15 digits after a
// leading `+` or `(`, otherwise 10–15).
std::string RedactText(std::string_view text);

// Redaction for a structured field: secret-named keys (token, secret, password, key, authorization,
// credential…) are replaced whole; phone-named keys (to, from, phone, number…) are masked; any
// other value goes through RedactText.
std::string RedactField(std::string_view key, std::string_view value);

// Registers a secret value (a master key, an API token) so that any later occurrence in logged text
// is replaced. Values shorter than 6 characters are ignored (too likely to match ordinary text).
void RegisterSecret(std::string_view value);

// True when `key` names a secret (case-insensitive substring match on a fixed list).
bool IsSecretKey(std::string_view key);

}  // namespace parley::log
