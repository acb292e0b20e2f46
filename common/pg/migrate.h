// Schema migrations: each service owns one Postgres schema and brings it up to date at startup.
//
// Migrate() applies, in version order, every migration not yet recorded in
// <schema>.schema_migrations. All of them run in ONE transaction that first takes a transaction-
// level advisory lock keyed on the schema name. Why one transaction:
//   - all or nothing: a failing migration rolls back every migration of this run, so the schema is
//     exactly as before and the replicas still running the old binary keep working;
//   - concurrent starts are safe without a session lock to clean up: a second replica blocks on
//     the advisory lock until the first commits, then finds everything applied and applies
//     nothing; the lock is released by COMMIT/ROLLBACK even if the process dies;
//   - the lock is taken before CREATE SCHEMA IF NOT EXISTS, which itself races between sessions.
// The price: a migration cannot contain statements Postgres refuses inside a transaction block
// (CREATE INDEX CONCURRENTLY, VACUUM, ALTER SYSTEM) or COMMIT/ROLLBACK.
//
// Inside the transaction search_path is `<schema>, public`, so unqualified names in a migration's
// SQL create and refer to objects in the schema. A migration may hold several statements.
// Versions recorded in the database but absent from `migrations` (a newer binary migrated first,
// as happens during a rolling deploy or a rollback) are left alone.
//
// Migration lists are usually embedded from NNN_name.sql files at build time with
// parley_embed_migrations() (cmake/ParleyEmbed.cmake):
//
//   PARLEY_RETURN_IF_ERROR(parley::pg::Migrate(*pool, "config", parley::config::Migrations()));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/pg/pg_pool.h"

namespace parley::pg {

struct Migration {
  int version;       // positive, strictly increasing along the list
  std::string name;  // recorded next to the version; must not change once applied
  std::string sql;
};

// Brings `schema` up to date; returns OK when every migration is applied (now or earlier).
// INVALID_ARGUMENT when `schema` is not a lower-case identifier ([a-z_][a-z0-9_]*, at most 63
// characters) or versions are not positive and strictly increasing (duplicates, wrong order).
// FAILED_PRECONDITION when an applied version is recorded under another name (two branches took the
// same number). When a migration fails, nothing of this run is kept and the status (code from
// pg_error.h) names it: "migration 3 (add_index) in schema config: postgres: ...". UNAVAILABLE
// when Postgres cannot be reached.
absl::Status Migrate(PgPool& pool, std::string_view schema,
                     const std::vector<Migration>& migrations);

}  // namespace parley::pg
