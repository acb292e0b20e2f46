#include "common/pg/testing/scratch_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <pqxx/pqxx>

namespace parley::pg::testing {
namespace {

std::atomic<int> counter{0};

// Replaces the database part of a postgresql:// URL (the path after the authority).
std::string WithDatabase(const std::string& url, const std::string& database) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  size_t query = url.find('?');
  std::string base = slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash);
  std::string rest = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + database + rest;
}

void Run(const std::string& url, const std::string& sql) {
  pqxx::connection connection(url);
  pqxx::nontransaction tx(connection);
  tx.exec(sql);
}

}  // namespace

ScratchDatabase::ScratchDatabase() {
  const char* url = std::getenv("PARLEY_PG_URL");
  if (url == nullptr || *url == '\0') {
    std::fprintf(stderr,
                 "PARLEY_PG_URL is not set: run tests through scripts/test, or "
                 "eval \"$(scripts/infra up)\" first\n");
    std::abort();
  }
  admin_url_ = url;
  name_ = "parley_t_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  url_ = WithDatabase(admin_url_, name_);
  try {
    Run(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    Run(admin_url_, "CREATE DATABASE " + name_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot create scratch database %s: %s\n", name_.c_str(), e.what());
    std::abort();
  }
}

ScratchDatabase::~ScratchDatabase() {
  try {
    Run(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: a leftover database is dropped by the next run with the same name, and
    // scripts/infra down removes the whole cluster.
  }
}

}  // namespace parley::pg::testing
