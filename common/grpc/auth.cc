#include "common/grpc/auth.h"

#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log/redact.h"
#include "common/status/status.h"

namespace parley::grpcx {
namespace {

constexpr std::string_view kKnownScopes[] = {kScopeCalls, kScopeConfig, kScopeService};

bool IsKnownScope(std::string_view scope) {
  for (std::string_view known : kKnownScopes) {
    if (known == scope) return true;
  }
  return false;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool Principal::HasScope(std::string_view scope) const {
  return scopes.contains(scope) || scopes.contains(kScopeService);
}

absl::StatusOr<TokenAuth> TokenAuth::Parse(std::string_view spec) {
  TokenAuth auth;
  int index = 0;
  for (absl::string_view raw : absl::StrSplit(AbslView(spec), ',', absl::SkipWhitespace())) {
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ':');
    std::string where = absl::StrCat("PARLEY_API_TOKENS[", index, "]");
    if (parts.size() != 2 && parts.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": want [name:]token:scope[+scope...]"));
    }
    Entry e;
    e.token = std::string(parts[parts.size() - 2]);
    e.principal.name = parts.size() == 3 ? std::string(parts[0]) : absl::StrCat("token", index);
    if (e.token.size() < 8) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": token shorter than 8 characters"));
    }
    for (absl::string_view scope : absl::StrSplit(parts.back(), '+')) {
      if (!IsKnownScope(std::string_view(scope.data(), scope.size()))) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": unknown scope \"", scope, "\" (want calls, config or service)"));
      }
      e.principal.scopes.emplace(std::string(scope));
    }
    log::RegisterSecret(e.token);
    auth.entries_.push_back(std::move(e));
    ++index;
  }
  return auth;
}

TokenAuth TokenAuth::Disabled() { return TokenAuth(); }

absl::StatusOr<Principal> TokenAuth::Check(std::string_view authorization,
                                           std::string_view scope) const {
  if (!enabled()) {
    Principal anonymous{.name = "anonymous"};
    for (std::string_view s : kKnownScopes) anonymous.scopes.emplace(s);
    return anonymous;
  }
  absl::string_view header = absl::StripAsciiWhitespace(AbslView(authorization));
  if (header.empty())
    return absl::UnauthenticatedError("missing authorization metadata (want Bearer <token>)");
  if (!absl::StartsWithIgnoreCase(header, "bearer ")) {
    return absl::UnauthenticatedError("authorization must be \"Bearer <token>\"");
  }
  absl::string_view stripped = absl::StripAsciiWhitespace(header.substr(7));
  std::string_view token(stripped.data(), stripped.size());
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(e.token, token)) match = &e;
  }
  if (match == nullptr) return absl::UnauthenticatedError("unknown bearer token");
  if (!match->principal.HasScope(scope)) {
    return absl::PermissionDeniedError(absl::StrCat("token \"", match->principal.name,
                                                    "\" lacks scope \"", AbslView(scope), "\""));
  }
  return match->principal;
}

absl::StatusOr<Principal> TokenAuth::Authorize(const grpc::ServerContextBase& context,
                                               std::string_view scope) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  std::string_view header;
  if (it != metadata.end()) header = std::string_view(it->second.data(), it->second.size());
  return Check(header, scope);
}

}  // namespace parley::grpcx
