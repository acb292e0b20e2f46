#include "common/redis/redis_script.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace parley::redis {
namespace {

std::string Sha1Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // EVP_Digest with SHA1 cannot fail short of memory exhaustion; the one-shot SHA1() call is
  // deprecated in OpenSSL 3.
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha1(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), size));
}

}  // namespace

RedisScript::RedisScript(std::string source)
    : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

}  // namespace parley::redis
