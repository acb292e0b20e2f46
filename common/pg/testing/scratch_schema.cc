#include "common/pg/testing/scratch_schema.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace parley::pg::testing {

absl::StatusOr<std::string> PgUrlFromEnv() {
  const char* url = std::getenv("PARLEY_PG_URL");
  if (url == nullptr || *url == '\0') {
    return absl::FailedPreconditionError(
        "PARLEY_PG_URL is not set; run `eval \"$(scripts/infra up)\"` or scripts/test, which "
        "start the local Postgres");
  }
  return std::string(url);
}

ScratchSchema::ScratchSchema(PgPool& pool, std::string_view prefix) : pool_(pool) {
  static std::atomic<int> counter{0};
  name_ =
      absl::StrCat(absl::string_view(prefix.data(), prefix.size()), "_", getpid(), "_", ++counter);
  Drop();
}

ScratchSchema::~ScratchSchema() { Drop(); }

void ScratchSchema::Drop() {
  pool_
      .Transact([this](pqxx::work& tx) {
        tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(name_) + " CASCADE");
      })
      .IgnoreError();
}

}  // namespace parley::pg::testing
