// Authenticated encryption of secrets at rest (provider API keys, SIP passwords) under the
// deployment's master key (PARLEY_MASTER_KEY), plus masking of secrets for display.
//
//   PARLEY_ASSIGN_OR_RETURN(auto box, parley::crypto::SecretBox::FromMasterKey(master_key));
//   PARLEY_ASSIGN_OR_RETURN(std::string sealed, box.Seal(api_key, "credential/openai"));
//   ... store `sealed` (binary) ...
//   PARLEY_ASSIGN_OR_RETURN(std::string api_key, box.Open(sealed, "credential/openai"));
//   parley::crypto::MaskSecret(api_key);   // "sk-…f3a9", safe to show and log
//
// The associated data binds a sealed value to where it belongs (kind/name): a value copied to
// another row does not open there. It is authenticated, not encrypted, and not stored.
//
// Sealed format (version 1), binary: 0x01 | 12-byte random nonce | ciphertext | 16-byte GCM tag.
// The version byte is authenticated together with the associated data. A fresh nonce per Seal
// keeps AES-GCM safe for far more values than Parley will ever seal under one key (random 96-bit
// nonces stay within NIST's bound up to 2^32 messages).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace parley::crypto {

// An AES-256-GCM key. Thread-safe: Seal and Open are const and share no mutable state. Movable,
// not copyable (one copy of the key per owner); the key is wiped when the box is destroyed or
// moved from, and a moved-from box refuses to work (FAILED_PRECONDITION).
class SecretBox final {
 public:
  // Key length in bytes.
  static constexpr size_t kKeySize = 32;

  // Parses the master key: 64 hex characters, or base64 of exactly 32 bytes (standard or
  // URL-safe alphabet, with or without '=' padding); surrounding whitespace is ignored. Anything
  // else → INVALID_ARGUMENT "PARLEY_MASTER_KEY: must be 32 bytes as 64 hex characters or base64"
  // (the key is never echoed).
  static absl::StatusOr<SecretBox> FromMasterKey(std::string_view key);

  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();

  // Encrypts and authenticates `plaintext`, binding it to `associated_data`. Returns the sealed
  // bytes (format above; 29 bytes longer than the plaintext), different on every call. INTERNAL if
  // OpenSSL fails (no randomness), FAILED_PRECONDITION on a moved-from box.
  absl::StatusOr<std::string> Seal(std::string_view plaintext,
                                   std::string_view associated_data) const;

  // Returns the plaintext of a value sealed by Seal with the same key and associated data.
  // DATA_LOSS when it does not authenticate — tampered or truncated bytes, another key, other
  // associated data, an unknown format version. DATA_LOSS rather than INVALID_ARGUMENT because
  // sealed values come from our own storage, not from a request: a failure means stored data is
  // unusable (typically PARLEY_MASTER_KEY changed), which no retry or corrected request fixes.
  // The three causes are indistinguishable by design (GCM reveals only "does not authenticate").
  // INTERNAL if OpenSSL fails, FAILED_PRECONDITION on a moved-from box.
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

 private:
  explicit SecretBox(const std::array<std::uint8_t, kKeySize>& key);
  void Wipe();

  std::array<std::uint8_t, kKeySize> key_;
  bool has_key_ = false;
};

// Returns a new random master key as 64 lowercase hex characters (for `parleyctl` and setup
// scripts). Aborts the process if the system's random generator fails: a key must never be weak.
std::string GenerateMasterKey();

// Returns a display form of a secret that identifies it without revealing it ("…" is U+2026):
//   - 12 characters or more: the vendor prefix — everything up to and including the first '-' or
//     '_' when that is at most 4 characters ("sk-", "ghp_", "xai-") — then "…" and the last 4
//     characters: MaskSecret("sk-proj-4fQ9x2Lm7Tf3a9") is "sk-…f3a9",
//     MaskSecret("AKIAIOSFODNN7EXAMPLE") is "…MPLE";
//   - 8 to 11 characters: "…" and the last 2 characters ("…a9");
//   - shorter (including empty): "…" alone.
std::string MaskSecret(std::string_view secret);

}  // namespace parley::crypto
