// Structured logging: one `key=value` line per event on stderr (journald-friendly). The level
// comes from TNG_LOG (RUST_LOG style: "info", "debug", "warn,tng=debug" takes the first level).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace tng {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

void SetLogLevel(LogLevel level);
LogLevel CurrentLogLevel();
// Reads TNG_LOG (and RUST_LOG as a fallback); unknown words leave the default (info).
void InitLogLevelFromEnv();

// Collects one line; written atomically (single write(2)) on destruction.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& operator<<(const T& v) {
    msg_ << v;
    return *this;
  }
  // Adds ` key=value` after the message (value quoted when it contains spaces or quotes).
  template <typename T>
  LogLine& Kv(std::string_view key, const T& v) {
    std::ostringstream s;
    s << v;
    AddKv(key, s.str());
    return *this;
  }

 private:
  void AddKv(std::string_view key, const std::string& value);
  LogLevel level_;
  std::string component_;
  std::ostringstream msg_;
  std::string kvs_;
};

}  // namespace tng

#define TNG_LOG(level, component)                          \
  if (::tng::LogLevel::level > ::tng::CurrentLogLevel()) { \
  } else                                                   \
    ::tng::LogLine(::tng::LogLevel::level, component)
