// A throwaway Postgres database for tests of services that own a fixed schema name (`config`,
// `conversation`): each test binary gets a database of its own on the shared local server, so
// suites running in parallel never see each other's rows.
//
//   ScratchDatabase db;                                   // CREATE DATABASE parley_t_<pid>_<n>
//   auto pool = PgPool::Create({.url = db.url()});
//   // ~ScratchDatabase: DROP DATABASE … WITH (FORCE)
#pragma once

#include <string>

namespace parley::pg::testing {

class ScratchDatabase final {
 public:
  // Creates the database from PARLEY_PG_URL's server; aborts the test binary with a message when
  // PARLEY_PG_URL is unset or the server refuses.
  ScratchDatabase();
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  // postgresql://…/<name>: the same server and user, this database.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

}  // namespace parley::pg::testing
