// TestCredential's probe: the smallest real request that proves a provider accepts a key —
// listing models or projects, which costs nothing and changes nothing.
//
//   provider                  request                                   auth header
//   openai, groq, cerebras    GET {base}/models                         Authorization: Bearer
//   deepgram                  GET https://api.deepgram.com/v1/projects  Authorization: Token
//   elevenlabs                GET https://api.elevenlabs.io/v1/models   xi-api-key
//   assemblyai                GET https://api.assemblyai.com/v2/transcript?limit=1
//                                                                       Authorization: <key>
//   cartesia                  GET https://api.cartesia.ai/voices        X-API-Key
//   (+Cartesia-Version)
//
//   HttpCredentialProber prober({});
//   PARLEY_ASSIGN_OR_RETURN(ProbeResult r, prober.Probe("openai", secret));
//   // r.ok == false, r.message == "HTTP 401 from api.openai.com: Incorrect API key provided"
//
// The secret never appears in a result: any echo of it in the provider's answer is masked.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/llm/http_stream.h"

namespace parley::config {

struct ProbeResult {
  bool ok = false;      // the provider accepted the key
  std::string message;  // for humans; never holds the secret
};

class CredentialProber {
 public:
  virtual ~CredentialProber() = default;
  // Probes `secret` for `provider`: ok=true on a 2xx answer, ok=false when the provider rejects
  // it (401/403, or another 4xx). Fails — and then nothing should be recorded — with
  // FAILED_PRECONDITION for a provider that has no probe (no key needed, or not an API:
  // "ollama", "sip", "webhook"), UNAVAILABLE/DEADLINE_EXCEEDED when the provider cannot be
  // reached or answers 5xx (that says nothing about the key).
  virtual absl::StatusOr<ProbeResult> Probe(std::string_view provider, std::string_view secret) = 0;
};

struct HttpCredentialProberOptions {
  // Per provider, the API root replacing the built-in one ("http://127.0.0.1:8080/v1"):
  // for tests and for proxies.
  std::map<std::string, std::string> base_urls;
  absl::Duration timeout = absl::Seconds(10);
};

class HttpCredentialProber final : public CredentialProber {
 public:
  explicit HttpCredentialProber(HttpCredentialProberOptions options);
  absl::StatusOr<ProbeResult> Probe(std::string_view provider, std::string_view secret) override;

 private:
  const HttpCredentialProberOptions options_;
  llm::HttpStream http_;
};

// The provider names Probe can test, comma-separated, for messages.
std::string ProbedProviderNames();

}  // namespace parley::config
