#include "common/pg/migrate.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace parley::pg {
namespace {

// Migrate runs once per process start, on the caller's pool; its statements are executed with
// parameters rather than registered with PgPool::Prepare, which would leave them on the pool.
// The schema name is an identifier and cannot be a parameter: it is validated, then quoted.
constexpr char kLockSql[] = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
constexpr char kCreateSchemaSql[] = "CREATE SCHEMA IF NOT EXISTS {schema}";
constexpr char kSearchPathSql[] = "SET LOCAL search_path TO {schema}, public";
constexpr char kCreateTableSql[] =
    "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
    "  version int PRIMARY KEY,"
    "  name text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";
constexpr char kAppliedSql[] = "SELECT version, name FROM {schema}.schema_migrations";
constexpr char kRecordSql[] =
    "INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)";

std::string WithSchema(absl::string_view sql, absl::string_view quoted_schema) {
  std::string out(sql);
  const std::string placeholder = "{schema}";
  out.replace(out.find(placeholder), placeholder.size(), quoted_schema.data(),
              quoted_schema.size());
  return out;
}

bool IsPlainIdentifier(absl::string_view name) {
  if (name.empty() || name.size() > 63 || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return true;
}

absl::Status Validate(absl::string_view schema, const std::vector<Migration>& migrations) {
  if (!IsPlainIdentifier(schema)) {
    return absl::InvalidArgumentError(
        absl::StrCat("migrate: schema \"", schema, "\" is not a lower-case identifier"));
  }
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("migrate: version ", m.version, " (", m.name, ") is not positive"));
    }
    if (m.version <= previous) {
      return absl::InvalidArgumentError(
          absl::StrCat("migrate: version ", m.version, " (", m.name, ") ",
                       m.version == previous ? "is listed twice" : "comes after a higher one",
                       "; versions must be strictly increasing"));
    }
    previous = m.version;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Migrate(PgPool& pool, std::string_view std_schema,
                     const std::vector<Migration>& migrations) {
  const absl::string_view schema(std_schema.data(), std_schema.size());
  if (absl::Status valid = Validate(schema, migrations); !valid.ok()) return valid;

  const Migration* running = nullptr;  // the migration whose SQL was executing when it failed
  absl::Status status = pool.Transact([&](pqxx::work& tx) -> absl::Status {
    running = nullptr;
    const std::string quoted = tx.quote_name(std::string(schema));
    tx.exec_params(kLockSql, absl::StrCat("parley.migrate:", schema));
    tx.exec(WithSchema(kCreateSchemaSql, quoted));
    tx.exec(WithSchema(kSearchPathSql, quoted));
    tx.exec(WithSchema(kCreateTableSql, quoted));

    absl::flat_hash_map<int, std::string> applied;
    for (const auto& row : tx.exec(WithSchema(kAppliedSql, quoted))) {
      applied[row[0].as<int>()] = row[1].as<std::string>();
    }
    const std::string record = WithSchema(kRecordSql, quoted);
    for (const Migration& m : migrations) {
      if (auto it = applied.find(m.version); it != applied.end()) {
        if (it->second != m.name) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migrate: version ", m.version, " in schema ", schema, " was applied as \"",
              it->second, "\" but this binary names it \"", m.name, "\""));
        }
        continue;
      }
      running = &m;
      tx.exec(m.sql);
      tx.exec_params(record, m.version, m.name);
    }
    running = nullptr;
    return absl::OkStatus();
  });
  if (!status.ok() && running != nullptr) {
    return absl::Status(status.code(),
                        absl::StrCat("migration ", running->version, " (", running->name,
                                     ") in schema ", schema, ": ", status.message()));
  }
  return status;
}

}  // namespace parley::pg
