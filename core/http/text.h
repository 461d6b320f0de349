// Character classes of HTTP/1.1 (RFC 9110 §5.6) and the small string helpers the codec needs:
// ASCII case-insensitive comparison and message assembly from std::string_view.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace tng::http {

namespace text_internal {
constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<uint8_t>(c)] = true;
  return t;
}
inline constexpr std::array<bool, 256> kTokenTable = MakeTokenTable();
}  // namespace text_internal

// tchar: the characters of methods, header names and transfer codings.
inline bool IsTokenChar(uint8_t c) { return text_internal::kTokenTable[c]; }
inline bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(static_cast<uint8_t>(c))) return false;
  }
  return true;
}
// field-vchar / SP / HTAB: what a header value may contain (obs-text included).
inline bool IsFieldValueChar(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }
// What a request target may contain: visible ASCII, no space.
inline bool IsTargetChar(uint8_t c) { return c > 0x20 && c < 0x7f; }

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}
inline std::string AsciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}
// Strips optional whitespace (SP / HTAB) at both ends.
inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Message assembly: absl::StrCat does not take std::string_view with Debian's Abseil.
inline void AppendTo(std::string& out, std::string_view s) { out.append(s); }
inline void AppendTo(std::string& out, const char* s) { out.append(s); }
inline void AppendTo(std::string& out, const std::string& s) { out.append(s); }
#if !defined(ABSL_USES_STD_STRING_VIEW)
// absl::Status::message() is an absl::string_view of its own in Debian's Abseil.
inline void AppendTo(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline std::string_view StdView(absl::string_view s) { return {s.data(), s.size()}; }
#else
inline std::string_view StdView(std::string_view s) { return s; }
#endif
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) void AppendTo(std::string& out, T v) {
  out += std::to_string(v);
}
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendTo(out, args), ...);
  return out;
}

// A byte for an error message: printable ASCII as 'c', anything else as 0xNN.
inline std::string DescribeByte(uint8_t c) {
  if (c > 0x20 && c < 0x7f) return std::string{'\'', static_cast<char>(c), '\''};
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string{'0', 'x', kHex[c >> 4], kHex[c & 15]};
}

// "250 ms", "5 s": durations in error messages.
inline std::string FormatDuration(std::chrono::nanoseconds d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms >= 1000 && ms % 1000 == 0) return Cat(ms / 1000, " s");
  return Cat(ms, " ms");
}

}  // namespace tng::http
