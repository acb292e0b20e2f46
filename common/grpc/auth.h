// Bearer-token authentication with scopes, shared by every Parley server.
//
// Tokens come from PARLEY_API_TOKENS: entries separated by ',' each `[name:]token:scope[+scope…]`,
// e.g. "crm:Q2x…:calls,ops:Zt9…:calls+config,worker:Hh3…:service". Scopes:
//   calls    place, read and cancel calls (dispatcher)
//   config   read and change configuration (config-api), read state and transcripts
//   service  service-to-service: everything, plus decrypted credentials
// An empty PARLEY_API_TOKENS disables authentication (every caller gets every scope); servers log
// a warning at startup when it is so.
//
//   PARLEY_ASSIGN_OR_RETURN(auto auth, TokenAuth::Parse(getenv("PARLEY_API_TOKENS")));
//   absl::StatusOr<Principal> who = auth.Authorize(*server_context, kScopeCalls);
//   if (!who.ok()) return ToGrpcStatus(who.status());   // UNAUTHENTICATED or PERMISSION_DENIED
#pragma once

#include <grpcpp/server_context.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status/status.h"

namespace parley::grpcx {

inline constexpr std::string_view kScopeCalls = "calls";
inline constexpr std::string_view kScopeConfig = "config";
inline constexpr std::string_view kScopeService = "service";

// Who called: the token's name (never the token itself) and its scopes.
struct Principal {
  std::string name;
  std::set<std::string, std::less<>> scopes;
  // True when the principal holds `scope`, or `service`, which implies every scope.
  bool HasScope(std::string_view scope) const;
};

class TokenAuth final {
 public:
  // Parses a PARLEY_API_TOKENS value. INVALID_ARGUMENT naming the entry for a malformed entry or
  // an unknown scope. Every token is registered with the log redactor.
  static absl::StatusOr<TokenAuth> Parse(std::string_view spec);
  // Authentication disabled: every caller is "anonymous" with every scope.
  static TokenAuth Disabled();

  bool enabled() const { return !entries_.empty(); }

  // Checks an `authorization` header value ("Bearer <token>").
  // UNAUTHENTICATED: missing, malformed or unknown token; PERMISSION_DENIED: scope not granted.
  absl::StatusOr<Principal> Check(std::string_view authorization, std::string_view scope) const;
  // Same, reading the header from the call's metadata (sync or callback API).
  absl::StatusOr<Principal> Authorize(const grpc::ServerContextBase& context,
                                      std::string_view scope) const;

 private:
  struct Entry {
    std::string token;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

}  // namespace parley::grpcx

// In a gRPC handler: returns UNAUTHENTICATED / PERMISSION_DENIED unless the caller of `context`
// (a grpc::ServerContext*) holds `scope` under `auth` (a TokenAuth). Put it first, before any
// side effect.
#define PARLEY_AUTHORIZE(auth, context, scope)                                            \
  do {                                                                                    \
    auto parley_principal_ = (auth).Authorize(*(context), (scope));                       \
    if (!parley_principal_.ok()) return ::parley::ToGrpcStatus(parley_principal_.status()); \
  } while (0)
