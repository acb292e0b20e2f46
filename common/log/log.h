// Structured JSON logging for every Parley binary, with redaction applied centrally.
//
// One JSON object per line on stderr: {"ts":…,"level":…,"service":…,"msg":…, fields…}.
// Messages and field values pass through redact.h, so a secret or a full phone number never
// reaches a log line even when a caller forgets. Fields of the current scope (call_id, worker_id)
// are added to every line logged on that thread.
//
//   parley::log::Init({.service = "dispatcher"});
//   parley::log::Scope scope({{"call_id", call.id}, {"worker_id", worker_id}});
//   parley::log::Info("call queued", {{"to", call.to}, {"attempt", "1"}});
//   // {"ts":"…","level":"info","service":"dispatcher","msg":"call queued",
//   //  "call_id":"c_…","worker_id":"w1","to":"+*******2671","attempt":"1"}
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace parley::log {

using Field = std::pair<std::string, std::string>;
using Fields = std::vector<Field>;

enum class Level { kDebug, kInfo, kWarn, kError };

struct LogOptions {
  std::string service = "parley";
  Level level = Level::kInfo;
  // When set, lines go to this logger (tests capture output this way) instead of stderr.
  std::shared_ptr<spdlog::logger> sink_logger;
};

// Configures the process-wide logger. Safe to call more than once (the last call wins).
void Init(LogOptions options);

// Parses "debug", "info", "warn", "error" (case-insensitive); unknown → kInfo.
Level ParseLevel(std::string_view name);

// Formats one log line as JSON (redaction applied). Exposed for tests and for other sinks.
std::string FormatLine(Level level, std::string_view message, const Fields& fields);

void Log(Level level, std::string_view message, const Fields& fields = {});
inline void Debug(std::string_view m, const Fields& f = {}) { Log(Level::kDebug, m, f); }
inline void Info(std::string_view m, const Fields& f = {}) { Log(Level::kInfo, m, f); }
inline void Warn(std::string_view m, const Fields& f = {}) { Log(Level::kWarn, m, f); }
inline void Error(std::string_view m, const Fields& f = {}) { Log(Level::kError, m, f); }

// Adds fields to every line logged on this thread while it lives. Scopes nest.
class Scope final {
 public:
  Scope(std::initializer_list<Field> fields) : Scope(Fields(fields)) {}
  explicit Scope(Fields fields);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  size_t previous_size_;
};

}  // namespace parley::log
