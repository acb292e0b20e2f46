#include "services/dispatcher/config_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/status/status.h"

namespace parley::dispatcher {

absl::Status FromConfigStatus(const grpc::Status& status, std::string_view method) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return absl::OkStatus();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(
          absl::StrCat("config-api ", AbslView(method), ": ", status.error_message()));
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(status.error_message());
    default:
      return absl::InternalError(absl::StrCat("config-api ", AbslView(method), ": code ",
                                              static_cast<int>(status.error_code()), ": ",
                                              status.error_message()));
  }
}

ConfigClient::ConfigClient(std::shared_ptr<grpc::Channel> channel, ConfigClientOptions options)
    : stub_(parley::v1::ConfigService::NewStub(std::move(channel))), options_(std::move(options)) {}

absl::StatusOr<ConfigClient::Spec> ConfigClient::GetAgent(std::string_view name) {
  return GetSpec(parley::v1::RESOURCE_KIND_AGENT, "agent", name);
}

absl::StatusOr<ConfigClient::Spec> ConfigClient::GetCampaign(std::string_view name) {
  return GetSpec(parley::v1::RESOURCE_KIND_CAMPAIGN, "campaign", name);
}

ConfigClient::Spec ConfigClient::CachedAgent(std::string_view name) {
  return Cached("agent", name);
}

ConfigClient::Spec ConfigClient::CachedCampaign(std::string_view name) {
  return Cached("campaign", name);
}

ConfigClient::Spec ConfigClient::Cached(std::string_view field, std::string_view name) {
  std::string key = absl::StrCat(AbslView(field), "/", AbslView(name));
  absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(key);
  if (it != cache_.end() && it->second.expires > now) return it->second.spec;
  return nullptr;
}

absl::StatusOr<ConfigClient::Spec> ConfigClient::GetSpec(parley::v1::ResourceKind kind,
                                                         std::string_view field,
                                                         std::string_view name) {
  std::string key = absl::StrCat(AbslView(field), "/", AbslView(name));
  absl::Time now = absl::Now();
  Spec stale;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) return it->second.spec;
    if (it != cache_.end() && it->second.expires + options_.serve_stale_for > now) {
      stale = it->second.spec;
    }
  }
  parley::v1::GetResourceRequest request;
  request.set_kind(kind);
  request.set_name(std::string(name));
  parley::v1::Resource resource;
  auto context = grpcx::MakeContext(options_.rpc);
  grpc::Status status = stub_->GetResource(context.get(), request, &resource);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(absl::StrCat(AbslView(field), ": ", AbslView(field), " \"",
                                            AbslView(name), "\" not found"));
  }
  if (stale != nullptr && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    // config-api (or its Postgres) is away: the last answer is better than refusing calls.
    log::Warn("config-api unreachable; serving a stale spec",
              {{"resource", key}, {"error", status.error_message()}});
    return stale;
  }
  PARLEY_RETURN_IF_ERROR(FromConfigStatus(status, "GetResource"));
  auto spec = std::make_shared<const nlohmann::json>(json::StructToJson(resource.spec()));
  Put(std::move(key), spec);
  return Spec(spec);
}

void ConfigClient::Put(std::string key, Spec spec) {
  if (options_.cache_ttl <= absl::ZeroDuration() || options_.cache_capacity == 0) return;
  absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= options_.cache_capacity && !cache_.contains(key)) {
    absl::erase_if(cache_, [now](const auto& kv) { return kv.second.expires <= now; });
    // Still full of live entries: evict one at random-ish (hash order); the cache only saves
    // round trips, so which entry goes matters little.
    if (cache_.size() >= options_.cache_capacity) cache_.erase(cache_.begin());
  }
  cache_[std::move(key)] = Entry{std::move(spec), now + options_.cache_ttl};
}

absl::StatusOr<std::optional<WebhookTarget>> ConfigClient::GetWebhook(std::string_view campaign) {
  const std::string key(campaign);
  absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = webhooks_.find(key);
    if (it != webhooks_.end() && it->second.expires > now) return it->second.target;
  }
  PARLEY_ASSIGN_OR_RETURN(Spec spec, GetCampaign(campaign));
  std::optional<WebhookTarget> target;
  auto hook = spec->find("webhook");
  if (hook != spec->end() && hook->is_object() && hook->value("url", "") != "") {
    target.emplace();
    target->url = hook->value("url", "");
    auto events = hook->find("events");
    if (events != hook->end() && events->is_array() && !events->empty()) {
      target->status_events = target->reports = false;
      for (const auto& e : *events) {
        if (e == "status") target->status_events = true;
        if (e == "report") target->reports = true;
      }
    }
    const std::string secret_name = hook->value("secret", "");
    parley::v1::GetRuntimeConfigRequest request;
    request.set_agent(spec->value("agent", ""));
    request.set_campaign(key);
    parley::v1::RuntimeConfig config;
    auto context = grpcx::MakeContext(options_.rpc);
    PARLEY_RETURN_IF_ERROR(FromConfigStatus(
        stub_->GetRuntimeConfig(context.get(), request, &config), "GetRuntimeConfig"));
    if (!config.secrets_included()) {
      return absl::FailedPreconditionError(
          "webhook: config-api does not give the dispatcher secrets (its token needs the "
          "service scope)");
    }
    auto secret = config.credentials().find(secret_name);
    if (secret == config.credentials().end() || secret->second.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "webhook: credential \"", secret_name, "\" of campaign \"", key, "\" not resolved"));
    }
    target->secret = secret->second;
  }
  if (options_.cache_ttl > absl::ZeroDuration()) {
    absl::MutexLock lock(&mu_);
    if (webhooks_.size() >= options_.cache_capacity) webhooks_.clear();
    webhooks_[key] = WebhookEntry{target, now + options_.cache_ttl};
  }
  return target;
}

absl::StatusOr<DncCheck> ConfigClient::CheckDnc(std::string_view e164, std::string_view campaign) {
  parley::v1::CheckDncRequest request;
  request.set_number(std::string(e164));
  request.set_campaign(std::string(campaign));
  parley::v1::CheckDncResponse response;
  auto context = grpcx::MakeContext(options_.rpc);
  grpc::Status status = stub_->CheckDnc(context.get(), request, &response);
  // NOT_FOUND from CheckDnc would mean something odd (it answers blocked=false for unknown
  // numbers); never let it pass as "not blocked".
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::InternalError(absl::StrCat("config-api CheckDnc: ", status.error_message()));
  }
  PARLEY_RETURN_IF_ERROR(FromConfigStatus(status, "CheckDnc"));
  DncCheck check;
  check.blocked = response.blocked();
  check.campaign = response.entry().campaign();
  check.reason = response.entry().reason();
  return check;
}

absl::Status ConfigClient::ValidateOverrides(std::string_view agent, std::string_view campaign,
                                             const google::protobuf::Struct& overrides) {
  parley::v1::GetRuntimeConfigRequest request;
  request.set_agent(std::string(agent));
  request.set_campaign(std::string(campaign));
  *request.mutable_call_overrides() = overrides;
  request.set_validate_only(true);  // a yes/no answer: no prompts, credentials or secrets
  parley::v1::RuntimeConfig config;
  auto context = grpcx::MakeContext(options_.rpc);
  grpc::Status status = stub_->GetRuntimeConfig(context.get(), request, &config);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return InvalidField("overrides", status.error_message());
  }
  return FromConfigStatus(status, "GetRuntimeConfig");
}

}  // namespace parley::dispatcher
