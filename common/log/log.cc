#include "common/log/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log/redact.h"

namespace parley::log {
namespace {

struct LoggerState {
  absl::Mutex mu;
  std::string service ABSL_GUARDED_BY(mu) = "parley";
  Level level ABSL_GUARDED_BY(mu) = Level::kInfo;
  std::shared_ptr<spdlog::logger> logger ABSL_GUARDED_BY(mu);
};

LoggerState& State() {
  static LoggerState* state = new LoggerState();  // never destroyed: logging works during exit
  return *state;
}

thread_local Fields scope_fields;

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::shared_ptr<spdlog::logger> DefaultLogger() {
  auto logger =
      std::make_shared<spdlog::logger>("parley", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  return logger;
}

}  // namespace

void Init(LogOptions options) {
  LoggerState& state = State();
  absl::MutexLock lock(&state.mu);
  state.service = options.service;
  state.level = options.level;
  state.logger = options.sink_logger ? options.sink_logger : DefaultLogger();
  state.logger->set_pattern("%v");
}

Level ParseLevel(std::string_view name) {
  std::string lower = absl::AsciiStrToLower(std::string(name));
  if (lower == "debug" || lower == "trace") return Level::kDebug;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return Level::kInfo;
}

std::string FormatLine(Level level, std::string_view message, const Fields& fields) {
  std::string service;
  {
    LoggerState& state = State();
    absl::MutexLock lock(&state.mu);
    service = state.service;
  }
  // ordered_json keeps ts/level/service/msg first, which is what a reader scans for.
  nlohmann::ordered_json line;
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = LevelName(level);
  line["service"] = service;
  line["msg"] = RedactText(message);
  for (const Field& f : scope_fields) line[f.first] = RedactField(f.first, f.second);
  for (const Field& f : fields) line[f.first] = RedactField(f.first, f.second);
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Log(Level level, std::string_view message, const Fields& fields) {
  std::shared_ptr<spdlog::logger> logger;
  {
    LoggerState& state = State();
    absl::MutexLock lock(&state.mu);
    if (level < state.level) return;
    if (!state.logger) state.logger = DefaultLogger();
    logger = state.logger;
  }
  logger->info(FormatLine(level, message, fields));
  if (level >= Level::kWarn) logger->flush();
}

Scope::Scope(Fields fields) : previous_size_(scope_fields.size()) {
  for (Field& f : fields) scope_fields.push_back(std::move(f));
}

Scope::~Scope() { scope_fields.resize(previous_size_); }

}  // namespace parley::log
