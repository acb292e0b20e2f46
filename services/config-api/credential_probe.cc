#include "services/config-api/credential_probe.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/llm/api_error.h"
#include "common/status/status.h"

namespace parley::config {
namespace {

struct ProbeSpec {
  const char* provider;
  const char* default_root;
  const char* path;
  const char* auth_prefix;   // the header line before the key
  const char* extra_header;  // "" for none
};

constexpr ProbeSpec kProbes[] = {
    {"openai", "https://api.openai.com/v1", "/models", "Authorization: Bearer ", ""},
    {"groq", "https://api.groq.com/openai/v1", "/models", "Authorization: Bearer ", ""},
    {"cerebras", "https://api.cerebras.ai/v1", "/models", "Authorization: Bearer ", ""},
    {"deepgram", "https://api.deepgram.com/v1", "/projects", "Authorization: Token ", ""},
    {"elevenlabs", "https://api.elevenlabs.io/v1", "/models", "xi-api-key: ", ""},
    {"assemblyai", "https://api.assemblyai.com/v2", "/transcript?limit=1", "Authorization: ", ""},
    {"cartesia", "https://api.cartesia.ai", "/voices",
     "X-API-Key: ", "Cartesia-Version: 2024-11-13"},
};

const ProbeSpec* FindProbe(std::string_view provider) {
  for (const ProbeSpec& p : kProbes) {
    if (provider == p.provider) return &p;
  }
  return nullptr;
}

// "api.openai.com" from "https://api.openai.com/v1/models".
std::string HostOf(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  return std::string(url.substr(0, url.find_first_of("/?")));
}

std::string Masked(std::string text, std::string_view secret) {
  if (secret.size() >= 4) {
    text = absl::StrReplaceAll(text, {{AbslView(secret), "…"}});
  }
  return text;
}

}  // namespace

std::string ProbedProviderNames() {
  std::string names;
  for (const ProbeSpec& p : kProbes) {
    if (!names.empty()) names += ", ";
    names += p.provider;
  }
  return names;
}

HttpCredentialProber::HttpCredentialProber(HttpCredentialProberOptions options)
    : options_(std::move(options)),
      http_({.provider = "credential probe", .max_idle_handles = 2}) {}

absl::StatusOr<ProbeResult> HttpCredentialProber::Probe(std::string_view provider,
                                                        std::string_view secret) {
  const ProbeSpec* spec = FindProbe(provider);
  if (spec == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("no probe for provider \"",
                                                      AbslView(provider),
                                                      "\" (probed: ", ProbedProviderNames(), ")"));
  }
  if (secret.empty()) return ProbeResult{false, "the credential holds no secret"};
  auto root = options_.base_urls.find(std::string(provider));
  std::string url = absl::StrCat(
      absl::StripSuffix(root != options_.base_urls.end() ? root->second : spec->default_root, "/"),
      spec->path);
  llm::HttpRequest request{
      .method = "GET",
      .url = url,
      .headers = {absl::StrCat(spec->auth_prefix, AbslView(secret)), "Accept: application/json"},
      .timeout = options_.timeout};
  if (spec->extra_header[0] != '\0') request.headers.push_back(spec->extra_header);
  // The body of a successful listing is not needed; only its status.
  absl::StatusOr<llm::HttpResponse> response = http_.Perform(
      request, [](std::string_view) { return absl::OkStatus(); }, nullptr);
  const std::string host = HostOf(url);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        Masked(absl::StrCat(host, ": ", response.status().message()), secret));
  }
  if (response->ok()) {
    return ProbeResult{
        true, absl::StrCat("HTTP ", response->status, " from ", host, ": the key was accepted")};
  }
  absl::Status error = llm::StatusFromHttpError(provider, response->status, response->body);
  if (response->status >= 500) {
    return absl::UnavailableError(Masked(std::string(error.message()), secret));
  }
  // "<provider>: HTTP 401: <message>" → "HTTP 401 from <host>: <message>".
  std::string detail(error.message());
  std::string prefix = absl::StrCat(AbslView(provider), ": HTTP ", response->status, ": ");
  if (absl::StartsWith(detail, prefix)) detail = detail.substr(prefix.size());
  return ProbeResult{
      false, Masked(absl::StrCat("HTTP ", response->status, " from ", host, ": ", detail), secret)};
}

}  // namespace parley::config
