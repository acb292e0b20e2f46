#include "services/config-api/config_store.h"

#include <pqxx/binarystring>
#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pg/migrate.h"
#include "common/status/status.h"
#include "services/config-api/resource_kind.h"

namespace parley::config {

// Generated from migrations/*.sql by parley_embed_migrations().
const std::vector<pg::Migration>& Migrations();

namespace {

using parley::v1::ResourceKind;

constexpr char kColumns[] =
    "kind, name, spec::text, labels::text, version, etag, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint, secret";

// A new etag on every write: opaque, unguessable, 16 hex characters.
constexpr char kNewEtag[] = "substr(md5(random()::text || clock_timestamp()::text), 1, 16)";

constexpr char kInsert[] = "config.insert";
constexpr char kLockForUpdate[] = "config.lock_for_update";
constexpr char kUpdate[] = "config.update";
constexpr char kInsertPromptVersion[] = "config.insert_prompt_version";
constexpr char kSelectOne[] = "config.select_one";
constexpr char kSelectPromptVersion[] = "config.select_prompt_version";
constexpr char kDeleteRefsFrom[] = "config.delete_refs_from";
constexpr char kInsertRef[] = "config.insert_ref";
constexpr char kRefExists[] = "config.ref_exists";
constexpr char kFirstReferrer[] = "config.first_referrer";
constexpr char kDelete[] = "config.delete";
constexpr char kSetTested[] = "config.set_tested";
constexpr char kDncInsert[] = "config.dnc_insert";
constexpr char kDncSelect[] = "config.dnc_select";
constexpr char kDncDelete[] = "config.dnc_delete";
constexpr char kDncCheck[] = "config.dnc_check";
constexpr char kDncAll[] = "config.dnc_all";
// DNC writes take this advisory lock shared, SnapshotDnc exclusively (key: "pardnc" in ASCII).
constexpr char kDncLockShared[] = "config.dnc_lock_shared";
constexpr char kDncLockExclusive[] = "config.dnc_lock_exclusive";
constexpr char kDncLockKey[] = "123563833323107";

constexpr char kDncColumns[] =
    "number, campaign, reason, call_id, (extract(epoch FROM created_at) * 1000000)::bigint";

std::string ToText(const nlohmann::json& j) { return j.dump(); }

std::string LabelsText(const std::map<std::string, std::string>& labels) {
  return nlohmann::json(labels).dump();
}

StoredResource FromRow(const pqxx::row& row) {
  StoredResource r;
  r.kind = ParseKind(row[0].as<std::string>()).value_or(parley::v1::RESOURCE_KIND_UNSPECIFIED);
  r.name = row[1].as<std::string>();
  r.spec = nlohmann::json::parse(row[2].as<std::string>());
  nlohmann::json labels = nlohmann::json::parse(row[3].as<std::string>());
  for (auto& [k, v] : labels.items()) r.labels[k] = v.get<std::string>();
  r.version = row[4].as<int>();
  r.etag = row[5].as<std::string>();
  r.create_time = absl::FromUnixMicros(row[6].as<int64_t>());
  r.update_time = absl::FromUnixMicros(row[7].as<int64_t>());
  if (!row[8].is_null()) r.sealed_secret = pqxx::binarystring(row[8]).str();
  return r;
}

parley::v1::DncEntry DncFromRow(const pqxx::row& row) {
  parley::v1::DncEntry e;
  e.set_number(row[0].as<std::string>());
  e.set_campaign(row[1].as<std::string>());
  e.set_reason(row[2].as<std::string>());
  e.set_call_id(row[3].as<std::string>());
  int64_t micros = row[4].as<int64_t>();
  e.mutable_create_time()->set_seconds(micros / 1000000);
  e.mutable_create_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return e;
}

std::string Describe(ResourceKind kind, std::string_view name) {
  return absl::StrCat(AbslView(KindName(kind)), " \"", AbslView(name), "\"");
}

// Replaces the resource's outgoing references, checking each target exists.
absl::Status WriteRefs(pqxx::work& tx, const StoredResource& r,
                       const std::vector<Reference>& refs) {
  std::string kind(KindName(r.kind));
  tx.exec_prepared(kDeleteRefsFrom, kind, r.name);
  for (const Reference& ref : refs) {
    std::string to_kind(KindName(ref.kind));
    if (tx.exec_prepared(kRefExists, to_kind, ref.name).empty()) {
      return InvalidField(ref.field, absl::StrCat(Describe(ref.kind, ref.name), " does not exist"));
    }
    tx.exec_prepared(kInsertRef, kind, r.name, to_kind, ref.name, ref.field);
  }
  return absl::OkStatus();
}

// The sealed secret as hex text for decode($n, 'hex'); null keeps / stores no secret.
std::optional<std::string> SecretParam(const StoredResource& r) {
  if (r.sealed_secret.empty()) return std::nullopt;
  return absl::BytesToHexString(r.sealed_secret);
}

std::string EncodeToken(std::string_view name, int version) {
  return absl::WebSafeBase64Escape(absl::StrCat(AbslView(name), "\n", version));
}

absl::Status DecodeToken(std::string_view token, std::string* name, int* version) {
  std::string raw;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(AbslView(token), &raw)) parts = absl::StrSplit(raw, '\n');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], version)) {
    return InvalidField("page.page_token", "not a token from a previous page");
  }
  *name = parts[0];
  return absl::OkStatus();
}

// A Postgres array literal of text: {"a","b\"c"}. libpqxx 6 has no array parameters.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string IntArray(const std::vector<int>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) absl::StrAppend(&out, i > 0 ? "," : "", items[i]);
  return out + "}";
}

std::string LikePrefix(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "%";
}

}  // namespace

absl::Status ParseFilter(std::string_view filter, ListQuery* query) {
  for (absl::string_view term : absl::StrSplit(AbslView(filter), ' ', absl::SkipWhitespace())) {
    size_t eq = term.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return InvalidField("filter", absl::StrCat("term \"", term, "\" is not key=value"));
    }
    absl::string_view key = term.substr(0, eq);
    absl::string_view value = term.substr(eq + 1);
    if (key == "name") {
      if (!value.empty() && value.back() == '*') {
        query->name_prefix = std::string(value.substr(0, value.size() - 1));
      } else {
        query->name_exact = std::string(value);
      }
    } else if (absl::StartsWith(key, "labels.") && key.size() > 7) {
      query->labels[std::string(key.substr(7))] = std::string(value);
    } else {
      return InvalidField("filter", absl::StrCat("unknown key \"", key,
                                                 "\" (want name=<name>, name=<prefix>*, "
                                                 "labels.<key>=<value>)"));
    }
  }
  return absl::OkStatus();
}

ConfigStore::ConfigStore(pg::PgPool* pg) : pg_(pg) {
  pg_->Prepare(kInsert, absl::StrCat("INSERT INTO config.resources (kind, name, spec, labels, "
                                     "version, etag, secret) VALUES ($1, $2, $3::jsonb, "
                                     "$4::jsonb, 1, ",
                                     kNewEtag, ", decode($5, 'hex')) RETURNING ", kColumns));
  pg_->Prepare(kLockForUpdate,
               "SELECT etag, version FROM config.resources WHERE kind = $1 AND name = $2 "
               "FOR UPDATE");
  pg_->Prepare(kUpdate,
               absl::StrCat("UPDATE config.resources SET spec = $3::jsonb, labels = "
                            "$4::jsonb, version = version + 1, etag = ",
                            kNewEtag,
                            ", secret = COALESCE(decode($5, 'hex'), secret), updated_at = now() "
                            "WHERE kind = $1 AND name = $2 RETURNING ",
                            kColumns));
  pg_->Prepare(kInsertPromptVersion,
               "INSERT INTO config.prompt_versions (name, version, spec, etag, created_at) "
               "VALUES ($1, $2, $3::jsonb, $4, now())");
  pg_->Prepare(kSelectOne, absl::StrCat("SELECT ", kColumns,
                                        " FROM config.resources WHERE kind = $1 AND name = $2"));
  pg_->Prepare(kSelectPromptVersion,
               "SELECT 'prompt', v.name, v.spec::text, r.labels::text, v.version, v.etag, "
               "(extract(epoch FROM r.created_at) * 1000000)::bigint, "
               "(extract(epoch FROM v.created_at) * 1000000)::bigint, NULL::bytea "
               "FROM config.prompt_versions v JOIN config.resources r "
               "ON r.kind = 'prompt' AND r.name = v.name WHERE v.name = $1 AND v.version = $2");
  pg_->Prepare(kDeleteRefsFrom, "DELETE FROM config.refs WHERE from_kind = $1 AND from_name = $2");
  pg_->Prepare(kInsertRef,
               "INSERT INTO config.refs (from_kind, from_name, to_kind, to_name, field) "
               "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING");
  pg_->Prepare(kRefExists,
               "SELECT 1 FROM config.resources WHERE kind = $1 AND name = $2 FOR KEY SHARE");
  pg_->Prepare(kFirstReferrer,
               "SELECT from_kind, from_name, field FROM config.refs WHERE to_kind = $1 AND "
               "to_name = $2 ORDER BY from_kind, from_name LIMIT 1");
  pg_->Prepare(kDelete, "DELETE FROM config.resources WHERE kind = $1 AND name = $2");
  pg_->Prepare(kSetTested,
               "UPDATE config.resources SET spec = jsonb_set(jsonb_set(spec, "
               "'{last_tested_ok}', to_jsonb($2::boolean)), '{last_tested_time}', "
               "to_jsonb($3::text)), etag = " +
                   std::string(kNewEtag) +
                   ", updated_at = now() WHERE kind = 'credential' AND name = $1");
  pg_->Prepare(kDncInsert, absl::StrCat("INSERT INTO config.dnc (number, campaign, reason, "
                                        "call_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO "
                                        "NOTHING RETURNING ",
                                        kDncColumns));
  pg_->Prepare(kDncSelect, absl::StrCat("SELECT ", kDncColumns,
                                        " FROM config.dnc WHERE number = $1 AND campaign = $2"));
  pg_->Prepare(kDncDelete, "DELETE FROM config.dnc WHERE number = $1 AND campaign = $2");
  pg_->Prepare(kDncAll, "SELECT number, campaign FROM config.dnc");
  pg_->Prepare(kDncLockShared,
               absl::StrCat("SELECT pg_advisory_xact_lock_shared(", kDncLockKey, ")"));
  pg_->Prepare(kDncLockExclusive, absl::StrCat("SELECT pg_advisory_xact_lock(", kDncLockKey, ")"));
  // Global entry first: it is the one that blocks regardless of campaign.
  pg_->Prepare(kDncCheck, absl::StrCat("SELECT ", kDncColumns,
                                       " FROM config.dnc WHERE number = $1 AND campaign IN "
                                       "('', $2) ORDER BY campaign LIMIT 1"));
}

absl::Status ConfigStore::Migrate() { return pg::Migrate(*pg_, "config", Migrations()); }

absl::StatusOr<StoredResource> ConfigStore::Create(const StoredResource& resource,
                                                   const std::vector<Reference>& refs) {
  std::string kind(KindName(resource.kind));
  absl::StatusOr<StoredResource> created =
      pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<StoredResource> {
        StoredResource stored =
            FromRow(tx.exec_prepared1(kInsert, kind, resource.name, ToText(resource.spec),
                                      LabelsText(resource.labels), SecretParam(resource)));
        PARLEY_RETURN_IF_ERROR(WriteRefs(tx, stored, refs));
        if (resource.kind == parley::v1::RESOURCE_KIND_PROMPT) {
          tx.exec_prepared(kInsertPromptVersion, stored.name, stored.version, ToText(stored.spec),
                           stored.etag);
        }
        return stored;
      });
  if (created.status().code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat(Describe(resource.kind, resource.name), " already exists"));
  }
  return created;
}

absl::StatusOr<StoredResource> ConfigStore::Update(const StoredResource& resource,
                                                   std::string_view expected_etag,
                                                   const std::vector<Reference>& refs,
                                                   bool allow_missing) {
  std::string kind(KindName(resource.kind));
  bool missing = false;
  absl::StatusOr<StoredResource> updated =
      pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<StoredResource> {
        pqxx::result current = tx.exec_prepared(kLockForUpdate, kind, resource.name);
        if (current.empty()) {
          missing = true;
          return absl::NotFoundError(
              absl::StrCat(Describe(resource.kind, resource.name), " not found"));
        }
        if (!expected_etag.empty() && current[0][0].as<std::string>() != expected_etag) {
          return absl::AbortedError(
              absl::StrCat(Describe(resource.kind, resource.name),
                           " was changed by someone else (stale etag): read it again and retry"));
        }
        StoredResource stored =
            FromRow(tx.exec_prepared1(kUpdate, kind, resource.name, ToText(resource.spec),
                                      LabelsText(resource.labels), SecretParam(resource)));
        PARLEY_RETURN_IF_ERROR(WriteRefs(tx, stored, refs));
        if (resource.kind == parley::v1::RESOURCE_KIND_PROMPT) {
          tx.exec_prepared(kInsertPromptVersion, stored.name, stored.version, ToText(stored.spec),
                           stored.etag);
        }
        return stored;
      });
  if (missing && allow_missing) {
    absl::StatusOr<StoredResource> created = Create(resource, refs);
    // Lost a create race to a concurrent apply: update what the winner created.
    if (created.status().code() == absl::StatusCode::kAlreadyExists) {
      return Update(resource, expected_etag, refs, /*allow_missing=*/false);
    }
    return created;
  }
  return updated;
}

absl::StatusOr<StoredResource> ConfigStore::Get(ResourceKind kind, std::string_view name,
                                                std::optional<int> version) {
  std::string kind_name(KindName(kind));
  std::string key(name);
  return pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<StoredResource> {
    pqxx::result rows = version ? tx.exec_prepared(kSelectPromptVersion, key, *version)
                                : tx.exec_prepared(kSelectOne, kind_name, key);
    if (rows.empty()) {
      return absl::NotFoundError(
          version ? absl::StrCat(Describe(kind, name), " has no version ", *version)
                  : absl::StrCat(Describe(kind, name), " not found"));
    }
    return FromRow(rows[0]);
  });
}

absl::StatusOr<std::vector<StoredResource>> ConfigStore::GetMany(
    const std::vector<std::pair<ResourceKind, std::string>>& keys) {
  if (keys.empty()) return std::vector<StoredResource>{};
  // Two parallel arrays unnested into (kind, name) pairs: one round trip for any number of keys.
  std::vector<std::string> kinds, names;
  for (const auto& [kind, name] : keys) {
    kinds.emplace_back(KindName(kind));
    names.push_back(name);
  }
  return pg_->Transact([&](pqxx::work& tx) {
    std::string sql = absl::StrCat(
        "SELECT ", kColumns,
        " FROM config.resources WHERE (kind, name) IN (SELECT * FROM unnest($1::text[], "
        "$2::text[]))");
    pqxx::result rows = tx.exec_params(sql, TextArray(kinds), TextArray(names));
    std::vector<StoredResource> out;
    for (const pqxx::row& row : rows) out.push_back(FromRow(row));
    return out;
  });
}

absl::StatusOr<std::vector<StoredResource>> ConfigStore::GetPromptVersions(
    const std::vector<std::pair<std::string, int>>& versions) {
  if (versions.empty()) return std::vector<StoredResource>{};
  std::vector<std::string> names;
  std::vector<int> numbers;
  for (const auto& [name, version] : versions) {
    names.push_back(name);
    numbers.push_back(version);
  }
  return pg_->Transact([&](pqxx::work& tx) {
    pqxx::result rows = tx.exec_params(
        "SELECT 'prompt', v.name, v.spec::text, r.labels::text, v.version, v.etag, "
        "(extract(epoch FROM r.created_at) * 1000000)::bigint, "
        "(extract(epoch FROM v.created_at) * 1000000)::bigint, NULL::bytea "
        "FROM config.prompt_versions v JOIN config.resources r "
        "ON r.kind = 'prompt' AND r.name = v.name "
        "WHERE (v.name, v.version) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
        TextArray(names), IntArray(numbers));
    std::vector<StoredResource> out;
    for (const pqxx::row& row : rows) out.push_back(FromRow(row));
    return out;
  });
}

absl::Status ConfigStore::Delete(ResourceKind kind, std::string_view name,
                                 std::string_view expected_etag) {
  std::string kind_name(KindName(kind));
  std::string key(name);
  return pg_->Transact([&](pqxx::work& tx) -> absl::Status {
    pqxx::result current = tx.exec_prepared(kLockForUpdate, kind_name, key);
    if (current.empty())
      return absl::NotFoundError(absl::StrCat(Describe(kind, name), " not found"));
    if (!expected_etag.empty() && current[0][0].as<std::string>() != expected_etag) {
      return absl::AbortedError(
          absl::StrCat(Describe(kind, name), " was changed by someone else (stale etag)"));
    }
    pqxx::result referrer = tx.exec_prepared(kFirstReferrer, kind_name, key);
    if (!referrer.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          referrer[0][0].as<std::string>(), "/", referrer[0][1].as<std::string>(), " references ",
          kind_name, "/", key, " (", referrer[0][2].as<std::string>(), ")"));
    }
    tx.exec_prepared(kDelete, kind_name, key);
    return absl::OkStatus();
  });
}

absl::StatusOr<ListPage> ConfigStore::List(const ListQuery& query) {
  std::string after_name;
  int after_version = 0;
  if (!query.page_token.empty()) {
    PARLEY_RETURN_IF_ERROR(DecodeToken(query.page_token, &after_name, &after_version));
  }
  int page_size = query.page_size <= 0 ? 50 : std::min(query.page_size, 500);
  bool versions = query.all_versions && query.kind == parley::v1::RESOURCE_KIND_PROMPT;
  std::string sql =
      versions
          ? "SELECT 'prompt', v.name, v.spec::text, r.labels::text, v.version, v.etag, "
            "(extract(epoch FROM r.created_at) * 1000000)::bigint, "
            "(extract(epoch FROM v.created_at) * 1000000)::bigint, NULL::bytea "
            "FROM config.prompt_versions v JOIN config.resources r ON r.kind = 'prompt' AND "
            "r.name = v.name WHERE r.kind = $1 AND (r.name, v.version) > ($2, $3) "
          : absl::StrCat("SELECT ", kColumns,
                         " FROM config.resources r WHERE r.kind = $1 AND (r.name, 0) > ($2, $3) ");
  sql += "AND ($4 = '' OR r.name LIKE $4) AND ($5 = '' OR r.name = $5) AND r.labels @> $6::jsonb ";
  sql += versions ? "ORDER BY v.name, v.version LIMIT $7" : "ORDER BY r.name LIMIT $7";
  std::string kind(KindName(query.kind));
  std::string prefix = query.name_prefix.empty() ? "" : LikePrefix(query.name_prefix);
  std::string exact = query.name_exact.value_or("");
  return pg_->Transact([&](pqxx::work& tx) {
    pqxx::result rows = tx.exec_params(sql, kind, after_name, after_version, prefix, exact,
                                       LabelsText(query.labels), page_size + 1);
    ListPage page;
    for (const pqxx::row& row : rows) {
      if (static_cast<int>(page.items.size()) == page_size) {
        const StoredResource& last = page.items.back();
        page.next_page_token = EncodeToken(last.name, versions ? last.version : 0);
        break;
      }
      page.items.push_back(FromRow(row));
    }
    return page;
  });
}

absl::Status ConfigStore::SetCredentialTested(std::string_view name, bool ok, absl::Time when) {
  std::string key(name);
  std::string time = absl::FormatTime(absl::RFC3339_sec, when, absl::UTCTimeZone());
  return pg_->Transact([&](pqxx::work& tx) -> absl::Status {
    if (tx.exec_prepared(kSetTested, key, ok, time).affected_rows() == 0) {
      return absl::NotFoundError(absl::StrCat("credential \"", key, "\" not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<parley::v1::DncEntry> ConfigStore::AddDnc(const parley::v1::DncEntry& entry,
                                                         const DncHook& before_commit) {
  return pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<parley::v1::DncEntry> {
    tx.exec_prepared(kDncLockShared);
    pqxx::result inserted = tx.exec_prepared(kDncInsert, entry.number(), entry.campaign(),
                                             entry.reason(), entry.call_id());
    parley::v1::DncEntry row =
        !inserted.empty()
            ? DncFromRow(inserted[0])
            : DncFromRow(tx.exec_prepared1(kDncSelect, entry.number(), entry.campaign()));
    if (before_commit) PARLEY_RETURN_IF_ERROR(before_commit());
    return row;
  });
}

absl::Status ConfigStore::RemoveDnc(std::string_view number, std::string_view campaign,
                                    const DncHook& before_commit) {
  std::string n(number), c(campaign);
  return pg_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kDncLockShared);
    if (tx.exec_prepared(kDncDelete, n, c).affected_rows() == 0) {
      return absl::NotFoundError(
          absl::StrCat("no DNC entry for ", n, c.empty() ? " (global)" : " in campaign " + c));
    }
    if (before_commit) return before_commit();
    return absl::OkStatus();
  });
}

absl::Status ConfigStore::SnapshotDnc(
    absl::FunctionRef<absl::Status(const std::vector<std::pair<std::string, std::string>>&)> with) {
  return pg_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kDncLockExclusive);
    std::vector<std::pair<std::string, std::string>> entries;
    for (const pqxx::row& row : tx.exec_prepared(kDncAll)) {
      entries.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
    }
    return with(entries);
  });
}

absl::StatusOr<std::optional<parley::v1::DncEntry>> ConfigStore::CheckDnc(
    std::string_view number, std::string_view campaign) {
  std::string n(number), c(campaign);
  return pg_->Transact([&](pqxx::work& tx) -> std::optional<parley::v1::DncEntry> {
    pqxx::result rows = tx.exec_prepared(kDncCheck, n, c);
    if (rows.empty()) return std::nullopt;
    return DncFromRow(rows[0]);
  });
}

absl::StatusOr<DncPage> ConfigStore::ListDnc(std::string_view campaign, bool global_only,
                                             int page_size, std::string_view page_token) {
  // Keyset over (created_at DESC, number, campaign); the token holds the last row's key.
  int64_t after_micros = std::numeric_limits<int64_t>::max();
  std::string after_number, after_campaign;
  if (!page_token.empty()) {
    std::string raw;
    std::vector<std::string> parts;
    if (absl::WebSafeBase64Unescape(AbslView(page_token), &raw)) parts = absl::StrSplit(raw, '\n');
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &after_micros)) {
      return InvalidField("page.page_token", "not a token from a previous page");
    }
    after_number = parts[1];
    after_campaign = parts[2];
  }
  int size = page_size <= 0 ? 100 : std::min(page_size, 1000);
  std::string filter_campaign(campaign);
  return pg_->Transact([&](pqxx::work& tx) {
    pqxx::result rows = tx.exec_params(
        absl::StrCat("SELECT ", kDncColumns,
                     " FROM config.dnc WHERE ($1 = '' OR campaign = $1) AND (NOT $2 OR campaign "
                     "= '') AND ((extract(epoch FROM created_at) * 1000000)::bigint < $5 OR "
                     "((extract(epoch FROM created_at) * 1000000)::bigint = $5 AND "
                     "(number, campaign) > ($3, $4))) "
                     "ORDER BY created_at DESC, number, campaign LIMIT $6"),
        filter_campaign, global_only && filter_campaign.empty(), after_number, after_campaign,
        after_micros, size + 1);
    DncPage page;
    for (const pqxx::row& row : rows) {
      if (static_cast<int>(page.entries.size()) == size) {
        const auto& last = page.entries.back();
        int64_t micros = last.create_time().seconds() * 1000000 + last.create_time().nanos() / 1000;
        page.next_page_token = absl::WebSafeBase64Escape(
            absl::StrCat(micros, "\n", last.number(), "\n", last.campaign()));
        break;
      }
      page.entries.push_back(DncFromRow(row));
    }
    return page;
  });
}

}  // namespace parley::config
