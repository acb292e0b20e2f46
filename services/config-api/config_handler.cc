#include "services/config-api/config_handler.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/phone/phone.h"
#include "common/status/status.h"
#include "services/config-api/references.h"
#include "services/config-api/resource_conversion.h"
#include "services/config-api/resource_kind.h"
#include "services/config-api/validate.h"

namespace parley::config {
namespace {

using parley::v1::ResourceKind;

constexpr int kMaxLabelLength = 63;
constexpr int kMaxDncImport = 10000;

const absl::Status kNoMasterKey =
    absl::FailedPreconditionError("PARLEY_MASTER_KEY is not set: credentials cannot be stored");

absl::Status CheckKind(ResourceKind kind, std::string_view field) {
  if (KindName(kind).empty()) {
    return InvalidField(field, absl::StrCat("must be one of ", KnownKindNames()));
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.size() > kMaxLabelLength || v.size() > kMaxLabelLength) {
      return InvalidField(absl::StrCat("labels.", k), "keys and values are at most 63 characters");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNameGiven(std::string_view name) {
  if (name.empty()) return InvalidField("name", "required");
  return absl::OkStatus();
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 0) return InvalidField("page.page_size", "must not be negative");
  return absl::OkStatus();
}

absl::Status CheckDncNumber(std::string_view number, std::string_view field) {
  if (!phone::IsE164(number)) return InvalidField(field, "must be an E.164 number (+14155552671)");
  return absl::OkStatus();
}

constexpr size_t kMaxDncReason = 256;
constexpr size_t kMaxDncCallId = 128;
constexpr size_t kMaxDncCampaign = 128;

// A DNC entry as AddDnc / ImportDnc store it; field names start with `prefix` ("" or
// "entries[3]."). A campaign entry must name an existing campaign: an entry under a misspelt name
// would be stored, listed, and block nothing, since no call ever carries that campaign.
// `campaigns` remembers the names already looked up in this request.
absl::Status CheckDncEntry(ConfigStore& store, const parley::v1::DncEntry& entry,
                           std::string_view prefix,
                           absl::flat_hash_map<std::string, absl::Status>& campaigns) {
  PARLEY_RETURN_IF_ERROR(CheckDncNumber(entry.number(), absl::StrCat(AbslView(prefix), "number")));
  PARLEY_RETURN_IF_ERROR(
      CheckPrintable(absl::StrCat(AbslView(prefix), "reason"), entry.reason(), kMaxDncReason));
  PARLEY_RETURN_IF_ERROR(
      CheckPrintable(absl::StrCat(AbslView(prefix), "call_id"), entry.call_id(), kMaxDncCallId));
  PARLEY_RETURN_IF_ERROR(CheckPrintable(absl::StrCat(AbslView(prefix), "campaign"),
                                        entry.campaign(), kMaxDncCampaign));
  if (entry.campaign().empty()) return absl::OkStatus();
  auto [it, inserted] = campaigns.try_emplace(entry.campaign(), absl::OkStatus());
  if (inserted) {
    absl::StatusOr<StoredResource> found =
        store.Get(parley::v1::RESOURCE_KIND_CAMPAIGN, entry.campaign());
    if (found.status().code() == absl::StatusCode::kNotFound) {
      it->second = absl::NotFoundError(absl::StrCat(AbslView(prefix), "campaign: campaign \"",
                                                    entry.campaign(), "\" not found"));
    } else {
      it->second = found.status();
    }
  }
  if (!it->second.ok() && it->second.code() != absl::StatusCode::kNotFound) {
    absl::Status error = it->second;
    campaigns.erase(it);  // a store error is not remembered: the next row asks again
    return error;
  }
  return it->second;
}

}  // namespace

ConfigHandler::ConfigHandler(ConfigStore* store, const crypto::SecretBox* secrets,
                             grpcx::TokenAuth auth, calls::DncIndex* dnc_index,
                             CredentialProber* prober)
    : store_(store),
      secrets_(secrets),
      dnc_index_(dnc_index),
      prober_(prober),
      auth_(std::move(auth)),
      resolver_(store, secrets) {}

absl::StatusOr<parley::v1::DncEntry> ConfigHandler::AddDncEntry(const parley::v1::DncEntry& entry) {
  if (dnc_index_ == nullptr) return store_->AddDnc(entry);
  return store_->AddDnc(entry, [&] { return dnc_index_->Add(entry.number(), entry.campaign()); });
}

absl::StatusOr<StoredResource> ConfigHandler::Prepare(const parley::v1::Resource& resource,
                                                      const StoredResource* current) const {
  PARLEY_RETURN_IF_ERROR(CheckKind(resource.kind(), "resource.kind"));
  PARLEY_RETURN_IF_ERROR(ValidateName(resource.name()));
  PARLEY_RETURN_IF_ERROR(CheckLabels(resource.labels()));
  StoredResource stored;
  stored.kind = resource.kind();
  stored.name = resource.name();
  stored.spec = json::StructToJson(resource.spec());
  for (const auto& [k, v] : resource.labels()) stored.labels[k] = v;

  if (stored.kind == parley::v1::RESOURCE_KIND_CREDENTIAL) {
    // Read-only fields are the server's: drop what the client sent.
    stored.spec.erase("hint");
    stored.spec.erase("last_tested_ok");
    stored.spec.erase("last_tested_time");
    bool has_secret = stored.spec.contains("secret") && stored.spec["secret"].is_string() &&
                      !stored.spec["secret"].get<std::string>().empty();
    PARLEY_RETURN_IF_ERROR(
        ValidateCredential(stored.name, stored.spec, /*creating=*/current == nullptr));
    if (has_secret) {
      if (secrets_ == nullptr) return kNoMasterKey;
      std::string secret = stored.spec["secret"].get<std::string>();
      PARLEY_ASSIGN_OR_RETURN(stored.sealed_secret, secrets_->Seal(secret, stored.name));
      stored.spec["hint"] = crypto::MaskSecret(secret);
    } else if (current != nullptr) {
      // Same secret: keep its hint and test result.
      if (current->spec.contains("hint")) stored.spec["hint"] = current->spec["hint"];
      for (const char* field : {"last_tested_ok", "last_tested_time"}) {
        if (current->spec.contains(field)) stored.spec[field] = current->spec[field];
      }
    }
    stored.spec.erase("secret");
    return stored;
  }
  PARLEY_RETURN_IF_ERROR(ValidateSpec(stored.kind, stored.name, stored.spec));
  return stored;
}

absl::Status ConfigHandler::CheckRouteNumberFree(const StoredResource& route) {
  const std::string number = route.spec.value("number", "");
  ListQuery query{.kind = parley::v1::RESOURCE_KIND_INBOUND_ROUTE, .page_size = 1000};
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(ListPage page, store_->List(query));
    for (const StoredResource& other : page.items) {
      if (other.name != route.name && other.spec.value("number", "") == number) {
        return InvalidField("inbound_route.number",
                            absl::StrCat(number, " is routed by inbound_route/", other.name));
      }
    }
    if (page.next_page_token.empty()) return absl::OkStatus();
    query.page_token = page.next_page_token;
  }
}

absl::StatusOr<parley::v1::Resource> ConfigHandler::Write(const parley::v1::Resource& resource,
                                                          bool create, bool allow_missing) {
  std::optional<StoredResource> current;
  if (!create && resource.kind() == parley::v1::RESOURCE_KIND_CREDENTIAL) {
    absl::StatusOr<StoredResource> existing = store_->Get(resource.kind(), resource.name());
    if (existing.ok()) {
      current = *std::move(existing);
    } else if (existing.status().code() != absl::StatusCode::kNotFound) {
      return existing.status();
    }
  }
  PARLEY_ASSIGN_OR_RETURN(StoredResource stored, Prepare(resource, current ? &*current : nullptr));
  if (stored.kind == parley::v1::RESOURCE_KIND_INBOUND_ROUTE) {
    PARLEY_RETURN_IF_ERROR(CheckRouteNumberFree(stored));
  }
  std::vector<Reference> refs = ReferencesOf(stored.kind, stored.spec);
  absl::StatusOr<StoredResource> written =
      create ? store_->Create(stored, refs)
             : store_->Update(stored, resource.etag(), refs, allow_missing);
  if (!written.ok()) return written.status();
  log::Info(create ? "resource created" : "resource updated",
            {{"kind", std::string(KindName(written->kind))},
             {"name", written->name},
             {"version", absl::StrCat(written->version)}});
  return ToProto(*written);
}

grpc::Status ConfigHandler::CreateResource(grpc::ServerContext* context,
                                           const parley::v1::CreateResourceRequest* request,
                                           parley::v1::Resource* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  absl::StatusOr<parley::v1::Resource> created = Write(request->resource(), true, false);
  if (!created.ok()) return ToGrpcStatus(created.status());
  *response = *std::move(created);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::UpdateResource(grpc::ServerContext* context,
                                           const parley::v1::UpdateResourceRequest* request,
                                           parley::v1::Resource* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  absl::StatusOr<parley::v1::Resource> updated =
      Write(request->resource(), false, request->allow_missing());
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  *response = *std::move(updated);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::GetResource(grpc::ServerContext* context,
                                        const parley::v1::GetResourceRequest* request,
                                        parley::v1::Resource* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckKind(request->kind(), "kind"); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = CheckNameGiven(request->name()); !s.ok()) return ToGrpcStatus(s);
  if (request->has_version() && request->kind() != parley::v1::RESOURCE_KIND_PROMPT) {
    return ToGrpcStatus(InvalidField("version", "only prompts are versioned"));
  }
  if (request->has_version() && request->version() < 1) {
    return ToGrpcStatus(InvalidField("version", "versions start at 1"));
  }
  std::optional<int> version;
  if (request->has_version()) version = request->version();
  absl::StatusOr<StoredResource> stored = store_->Get(request->kind(), request->name(), version);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  absl::StatusOr<parley::v1::Resource> proto = ToProto(*stored);
  if (!proto.ok()) return ToGrpcStatus(proto.status());
  *response = *std::move(proto);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::ListResources(grpc::ServerContext* context,
                                          const parley::v1::ListResourcesRequest* request,
                                          parley::v1::ListResourcesResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckKind(request->kind(), "kind"); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = CheckPageSize(request->page().page_size()); !s.ok()) return ToGrpcStatus(s);
  ListQuery query{.kind = request->kind(),
                  .all_versions = request->all_versions(),
                  .page_size = request->page().page_size(),
                  .page_token = request->page().page_token()};
  if (absl::Status s = ParseFilter(request->filter(), &query); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<ListPage> page = store_->List(query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const StoredResource& item : page->items) {
    absl::StatusOr<parley::v1::Resource> proto = ToProto(item);
    if (!proto.ok()) return ToGrpcStatus(proto.status());
    *response->add_resources() = *std::move(proto);
  }
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::DeleteResource(grpc::ServerContext* context,
                                           const parley::v1::DeleteResourceRequest* request,
                                           google::protobuf::Empty*) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckKind(request->kind(), "kind"); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = CheckNameGiven(request->name()); !s.ok()) return ToGrpcStatus(s);
  absl::Status deleted = store_->Delete(request->kind(), request->name(), request->etag());
  if (deleted.ok()) {
    log::Info("resource deleted",
              {{"kind", std::string(KindName(request->kind()))}, {"name", request->name()}});
  }
  return ToGrpcStatus(deleted);
}

grpc::Status ConfigHandler::GetRuntimeConfig(grpc::ServerContext* context,
                                             const parley::v1::GetRuntimeConfigRequest* request,
                                             parley::v1::RuntimeConfig* response) {
  auto who = auth_.Authorize(*context, grpcx::kScopeConfig);
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<parley::v1::RuntimeConfig> config = resolver_.Resolve(
      {.agent = request->agent(),
       .campaign = request->campaign(),
       .call_overrides = json::StructToJson(request->call_overrides()),
       .include_secrets = !request->validate_only() && who->scopes.contains(grpcx::kScopeService),
       .validate_only = request->validate_only()});
  if (!config.ok()) return ToGrpcStatus(config.status());
  *response = *std::move(config);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::TestCredential(grpc::ServerContext* context,
                                           const parley::v1::TestCredentialRequest* request,
                                           parley::v1::TestCredentialResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckNameGiven(request->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<StoredResource> credential =
      store_->Get(parley::v1::RESOURCE_KIND_CREDENTIAL, request->name());
  if (!credential.ok()) return ToGrpcStatus(credential.status());
  if (prober_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "TestCredential: this config-api has no provider prober");
  }
  if (secrets_ == nullptr) return ToGrpcStatus(kNoMasterKey);
  std::string provider = credential->spec.value("provider", "");
  absl::StatusOr<std::string> secret = secrets_->Open(credential->sealed_secret, credential->name);
  if (!secret.ok()) return ToGrpcStatus(secret.status());
  // A probe that could not tell (unreachable provider, no probe for it) records nothing.
  absl::StatusOr<ProbeResult> result = prober_->Probe(provider, *secret);
  if (!result.ok()) return ToGrpcStatus(result.status());
  const absl::Time tested = absl::Now();
  if (absl::Status s = store_->SetCredentialTested(credential->name, result->ok, tested); !s.ok()) {
    return ToGrpcStatus(s);
  }
  log::Info(
      "credential tested",
      {{"name", credential->name}, {"provider", provider}, {"ok", result->ok ? "true" : "false"}});
  response->set_ok(result->ok);
  response->set_message(result->message);
  const int64_t micros = absl::ToUnixMicros(tested);
  response->mutable_tested_time()->set_seconds(micros / 1000000);
  response->mutable_tested_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::AddDnc(grpc::ServerContext* context,
                                   const parley::v1::AddDncRequest* request,
                                   parley::v1::DncEntry* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  parley::v1::DncEntry entry;
  entry.set_number(request->number());
  entry.set_campaign(request->campaign());
  entry.set_reason(request->reason());
  entry.set_call_id(request->call_id());
  absl::flat_hash_map<std::string, absl::Status> campaigns;
  if (absl::Status s = CheckDncEntry(*store_, entry, "", campaigns); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<parley::v1::DncEntry> added = AddDncEntry(entry);
  if (!added.ok()) return ToGrpcStatus(added.status());
  log::Info(
      "dnc added",
      {{"number", added->number()}, {"campaign", added->campaign()}, {"reason", added->reason()}});
  *response = *std::move(added);
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::RemoveDnc(grpc::ServerContext* context,
                                      const parley::v1::RemoveDncRequest* request,
                                      google::protobuf::Empty*) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckDncNumber(request->number(), "number"); !s.ok()) return ToGrpcStatus(s);
  if (dnc_index_ == nullptr) {
    return ToGrpcStatus(store_->RemoveDnc(request->number(), request->campaign()));
  }
  bool removed_from_index = false;
  absl::Status s = store_->RemoveDnc(request->number(), request->campaign(), [&] {
    removed_from_index = true;
    return dnc_index_->Remove(request->number(), request->campaign());
  });
  if (!s.ok() && removed_from_index) {
    // The row may still be in Postgres (COMMIT failed or its outcome is unknown): put the entry
    // back so the index errs on the side of refusing; the reconcile settles it either way.
    (void)dnc_index_->Add(request->number(), request->campaign());
  }
  return ToGrpcStatus(s);
}

grpc::Status ConfigHandler::CheckDnc(grpc::ServerContext* context,
                                     const parley::v1::CheckDncRequest* request,
                                     parley::v1::CheckDncResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckDncNumber(request->number(), "number"); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::optional<parley::v1::DncEntry>> entry =
      store_->CheckDnc(request->number(), request->campaign());
  if (!entry.ok()) return ToGrpcStatus(entry.status());
  response->set_blocked(entry->has_value());
  if (entry->has_value()) *response->mutable_entry() = **entry;
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::ImportDnc(grpc::ServerContext* context,
                                      const parley::v1::ImportDncRequest* request,
                                      parley::v1::ImportDncResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (request->entries_size() > kMaxDncImport) {
    return ToGrpcStatus(InvalidField("entries", "at most 10000 entries per request"));
  }
  absl::flat_hash_map<std::string, absl::Status> campaigns;
  for (int i = 0; i < request->entries_size(); ++i) {
    const parley::v1::DncEntry& row = request->entries(i);
    parley::v1::ImportDncResult* result = response->add_results();
    result->set_index(i);
    absl::Status valid = CheckDncEntry(*store_, row, absl::StrCat("entries[", i, "]."), campaigns);
    absl::StatusOr<parley::v1::DncEntry> added =
        valid.ok() ? AddDncEntry(row) : absl::StatusOr<parley::v1::DncEntry>(valid);
    if (added.ok()) {
      *result->mutable_entry() = *std::move(added);
      response->set_imported(response->imported() + 1);
    } else {
      result->mutable_error()->set_code(static_cast<int>(added.status().code()));
      result->mutable_error()->set_message(std::string(added.status().message()));
      response->set_failed(response->failed() + 1);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ConfigHandler::ListDnc(grpc::ServerContext* context,
                                    const parley::v1::ListDncRequest* request,
                                    parley::v1::ListDncResponse* response) {
  PARLEY_AUTHORIZE(auth_, context, grpcx::kScopeConfig);
  if (absl::Status s = CheckPageSize(request->page().page_size()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<DncPage> page =
      store_->ListDnc(request->campaign(), request->global_only(), request->page().page_size(),
                      request->page().page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (auto& e : page->entries) *response->add_entries() = std::move(e);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

}  // namespace parley::config
