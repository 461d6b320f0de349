#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>

namespace tng {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::Error:
      return "error";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Info:
      return "info";
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Trace:
      return "trace";
  }
  return "info";
}

void AppendQuoted(std::string& out, std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out.push_back('?');
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel CurrentLogLevel() {
  return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed));
}

void InitLogLevelFromEnv() {
  const char* v = std::getenv("TNG_LOG");
  if (v == nullptr) v = std::getenv("RUST_LOG");
  if (v == nullptr) return;
  std::string_view s(v);
  // RUST_LOG style: the first comma-separated item without a '=' is the global level.
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    if (item.find('=') == std::string_view::npos) {
      for (int l = 0; l <= 4; ++l) {
        if (item == LevelName(static_cast<LogLevel>(l))) SetLogLevel(static_cast<LogLevel>(l));
      }
      if (item == "warning") SetLogLevel(LogLevel::Warn);
      break;
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
}

LogLine::LogLine(LogLevel level, std::string_view component)
    : level_(level), component_(component) {}

void LogLine::AddKv(std::string_view key, const std::string& value) {
  kvs_.push_back(' ');
  kvs_.append(key);
  kvs_.push_back('=');
  AppendQuoted(kvs_, value);
}

LogLine::~LogLine() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(128 + kvs_.size());
  line.append("ts=").append(ts);
  char frac[8];
  std::snprintf(frac, sizeof(frac), ".%03dZ", static_cast<int>(ms.count()));
  line.append(frac);
  line.append(" level=").append(LevelName(level_));
  line.append(" component=").append(component_);
  line.append(" msg=");
  AppendQuoted(line, msg_.str());
  line.append(kvs_);
  line.push_back('\n');
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace tng
