// Small helpers the benchmark programs share: flags in `--name=value` form, percentiles, this
// process's (and another's) CPU time and /proc/self/status fields, waiting for a gRPC server, the
// build tree a benchmark runs from, and dying with a message.
//
//   const int max = std::atoi(bench::Flag(argc, argv, "max", "200").c_str());
//   const double cpu0 = bench::CpuSeconds();
//   … run …
//   const double cores = (bench::CpuSeconds() - cpu0) / wall_seconds;
//   std::printf("p99 %.2f\n", bench::Percentile(latencies_ms, 0.99));
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/grpc/client.h"

namespace parley::bench {

// The value of `--name=value` on the command line, or `fallback` when it is not there.
inline std::string Flag(int argc, char** argv, const char* name, const std::string& fallback) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

// Prints "<program>: <what>: <status>" to stderr and exits with 1.
[[noreturn]] inline void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what.c_str(),
               status.ToString().c_str());
  std::exit(1);
}

// PARLEY_REDIS_URL; dies unless it and PARLEY_PG_URL are set (by `scripts/infra up`).
inline std::string InfraRedisUrl() {
  const char* redis_url = std::getenv("PARLEY_REDIS_URL");
  if (redis_url == nullptr || std::getenv("PARLEY_PG_URL") == nullptr) {
    Die("PARLEY_PG_URL / PARLEY_REDIS_URL",
        absl::FailedPreconditionError("unset: eval \"$(scripts/infra up)\" first"));
  }
  return redis_url;
}

// The comma-separated positive numbers of `csv` that are at most `max`, in order; others are
// skipped.
inline std::vector<int> Levels(const std::string& csv, int max) {
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(csv, ',')) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n > 0 && n <= max) levels.push_back(n);
  }
  return levels;
}

// The build tree this program runs from (<build>/bench/<program> → <build>); dies when
// /proc/self/exe is unreadable.
inline std::string BuildDir() {
  char exe[4096] = {};
  if (readlink("/proc/self/exe", exe, sizeof(exe) - 1) <= 0) {
    Die("/proc/self/exe", absl::InternalError("unreadable"));
  }
  std::string build = exe;
  build = build.substr(0, build.rfind('/'));
  return build.substr(0, build.rfind('/'));
}

// The p-quantile (p in [0, 1]) of `v` by the nearest rank below; 0 for no values.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// CPU seconds (user + system) this process has used.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of another process (utime + stime of /proc/<pid>/stat); 0 when unreadable.
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(in, line);
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14 || i == 15) ticks += std::atof(f.c_str());
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A numeric field of /proc/self/status ("VmRSS:" in KiB, "Threads:"); 0 when absent.
inline int64_t StatusField(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0) return std::atoll(line.c_str() + len);
  }
  return 0;
}

// Whether the gRPC server at `address` reports SERVING within `timeout`.
inline bool WaitServing(const std::string& address, absl::Duration timeout) {
  auto channel = grpcx::MakeChannel({.address = address});
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto h = grpcx::CheckHealth(channel, "", absl::Milliseconds(500));
    if (h.ok() && *h == grpcx::HealthStatus::kServing) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

}  // namespace parley::bench
