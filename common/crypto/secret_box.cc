#include "common/crypto/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::crypto {
namespace {

constexpr std::uint8_t kVersion = 0x01;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kOverhead = 1 + kNonceSize + kTagSize;
// EVP_*Update take an int length; longer inputs go through in chunks.
constexpr size_t kChunk = 1 << 30;

using Key = std::array<std::uint8_t, SecretBox::kKeySize>;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

absl::Status InvalidKey() {
  return absl::InvalidArgumentError(
      "PARLEY_MASTER_KEY: must be 32 bytes as 64 hex characters or base64");
}

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(absl::StrCat("OpenSSL ", AbslView(what), " failed"));
}

absl::Status NotAuthentic() {
  return absl::DataLossError(
      "sealed secret: does not authenticate (another master key, other associated data, or "
      "corrupted)");
}

// Holds decoded key bytes and wipes them on every path out of FromMasterKey.
struct WipedKey {
  Key bytes{};
  ~WipedKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view text, Key* out) {
  if (text.size() != 2 * out->size()) return false;
  for (size_t i = 0; i < out->size(); ++i) {
    const int hi = HexDigit(text[2 * i]);
    const int lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Value of a base64 character in either the standard (+/) or the URL-safe (-_) alphabet.
int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Decodes base64 that must yield exactly out->size() bytes. Padding is optional, but if present
// it must be complete.
bool DecodeBase64(std::string_view text, Key* out) {
  size_t padding = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 2 || (padding > 0 && (text.size() + padding) % 4 != 0)) return false;
  // Without padding, n bytes take ceil(4n/3) characters.
  if (text.size() != (out->size() * 4 + 2) / 3) return false;
  std::uint32_t buffer = 0;
  int bits = 0;
  size_t written = 0;
  for (char c : text) {
    const int digit = Base64Digit(c);
    if (digit < 0) return false;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(digit);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (written == out->size()) return false;
      (*out)[written++] = static_cast<std::uint8_t>(buffer >> bits);
    }
  }
  return written == out->size();
}

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Feeds `data` to EVP_{Encrypt,Decrypt}Update as additional authenticated data (out == nullptr).
template <class UpdateFn>
bool UpdateAad(EVP_CIPHER_CTX* ctx, UpdateFn update, std::string_view data) {
  int ignored = 0;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    if (update(ctx, nullptr, &ignored, Bytes(data.substr(off)), static_cast<int>(n)) != 1) {
      return false;
    }
  }
  return true;
}

// Runs `update` over `in`, writing to `out` (the same length: GCM is a stream mode).
template <class UpdateFn>
bool UpdateData(EVP_CIPHER_CTX* ctx, UpdateFn update, std::string_view in, unsigned char* out) {
  for (size_t off = 0; off < in.size(); off += kChunk) {
    const size_t n = std::min(kChunk, in.size() - off);
    int written = 0;
    if (update(ctx, out + off, &written, Bytes(in.substr(off)), static_cast<int>(n)) != 1 ||
        written != static_cast<int>(n)) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::FromMasterKey(std::string_view key) {
  key = TrimSpace(key);
  WipedKey decoded;
  if (!DecodeHex(key, &decoded.bytes) && !DecodeBase64(key, &decoded.bytes)) return InvalidKey();
  return SecretBox(decoded.bytes);
}

SecretBox::SecretBox(const Key& key) : key_(key), has_key_(true) {}

SecretBox::SecretBox(SecretBox&& other) noexcept : key_(other.key_), has_key_(other.has_key_) {
  other.Wipe();
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    has_key_ = other.has_key_;
    other.Wipe();
  }
  return *this;
}

SecretBox::~SecretBox() { Wipe(); }

void SecretBox::Wipe() {
  OPENSSL_cleanse(key_.data(), key_.size());
  has_key_ = false;
}

absl::StatusOr<std::string> SecretBox::Seal(std::string_view plaintext,
                                            std::string_view associated_data) const {
  if (!has_key_) return absl::FailedPreconditionError("SecretBox: used after move");
  std::string sealed(kOverhead + plaintext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  out[0] = kVersion;
  unsigned char* nonce = out + 1;
  unsigned char* ciphertext = nonce + kNonceSize;
  unsigned char* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, kNonceSize) != 1) return OpenSslError("RAND_bytes");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int final_len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      !UpdateAad(ctx.get(), EVP_EncryptUpdate, std::string_view(sealed.data(), 1)) ||
      !UpdateAad(ctx.get(), EVP_EncryptUpdate, associated_data) ||
      !UpdateData(ctx.get(), EVP_EncryptUpdate, plaintext, ciphertext) ||
      EVP_EncryptFinal_ex(ctx.get(), tag, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    OPENSSL_cleanse(sealed.data(), sealed.size());
    return OpenSslError("AES-256-GCM encryption");
  }
  return sealed;
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed,
                                            std::string_view associated_data) const {
  if (!has_key_) return absl::FailedPreconditionError("SecretBox: used after move");
  if (sealed.size() < kOverhead || static_cast<std::uint8_t>(sealed[0]) != kVersion) {
    return NotAuthentic();
  }
  const auto* nonce = Bytes(sealed.substr(1, kNonceSize));
  const std::string_view ciphertext = sealed.substr(1 + kNonceSize, sealed.size() - kOverhead);
  // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; copy the tag rather than cast const away.
  std::array<unsigned char, kTagSize> tag;
  std::copy_n(Bytes(sealed.substr(sealed.size() - kTagSize)), kTagSize, tag.begin());

  std::string plaintext(ciphertext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      !UpdateAad(ctx.get(), EVP_DecryptUpdate, sealed.substr(0, 1)) ||
      !UpdateAad(ctx.get(), EVP_DecryptUpdate, associated_data) ||
      !UpdateData(ctx.get(), EVP_DecryptUpdate, ciphertext, out) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return OpenSslError("AES-256-GCM decryption");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out + plaintext.size(), &final_len) != 1) {
    // The tag does not match: whatever was decrypted is unauthenticated; do not leave it around.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return NotAuthentic();
  }
  return plaintext;
}

std::string GenerateMasterKey() {
  Key key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    std::fputs("parley: RAND_bytes failed; refusing to generate a weak master key\n", stderr);
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * key.size());
  for (std::uint8_t byte : key) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0x0F];
  }
  OPENSSL_cleanse(key.data(), key.size());
  return hex;
}

std::string MaskSecret(std::string_view secret) {
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026 "…"
  constexpr size_t kMaxPrefix = 4;
  std::string masked;
  if (secret.size() >= 12) {
    const size_t separator = secret.find_first_of("-_");
    if (separator != std::string_view::npos && separator > 0 && separator + 1 <= kMaxPrefix) {
      masked.append(secret.substr(0, separator + 1));
    }
    masked.append(kEllipsis).append(secret.substr(secret.size() - 4));
  } else if (secret.size() >= 8) {
    masked.append(kEllipsis).append(secret.substr(secret.size() - 2));
  } else {
    masked.append(kEllipsis);
  }
  return masked;
}

}  // namespace parley::crypto
