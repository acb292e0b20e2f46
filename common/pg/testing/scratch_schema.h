// Helpers for tests against the shared local Postgres (PARLEY_PG_URL): suites run in parallel in
// one database, so each test works in a schema of its own and drops it afterwards.
//
//   auto pool = parley::pg::PgPool::Create({.url = PgUrlFromEnv().value()});
//   ScratchSchema schema(**pool, "calls");     // e.g. calls_4242_1, absent until you create it
//   Migrate(**pool, schema.name(), Migrations());
//   // ~ScratchSchema drops it, CASCADE.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/pg/pg_pool.h"

namespace parley::pg::testing {

// PARLEY_PG_URL; FAILED_PRECONDITION explaining how to start the local Postgres when unset.
absl::StatusOr<std::string> PgUrlFromEnv();

class ScratchSchema final {
 public:
  // Picks "<prefix>_<pid>_<n>", unique within this machine's running processes, and drops any
  // leftover schema of that name from a crashed earlier run. Does not create it.
  ScratchSchema(PgPool& pool, std::string_view prefix);
  ~ScratchSchema();  // DROP SCHEMA IF EXISTS ... CASCADE; failures are ignored
  ScratchSchema(const ScratchSchema&) = delete;
  ScratchSchema& operator=(const ScratchSchema&) = delete;

  const std::string& name() const { return name_; }

 private:
  void Drop();

  PgPool& pool_;
  std::string name_;
};

}  // namespace parley::pg::testing
