// absl::StrCat/StrAppend that also take std::string_view: Debian's Abseil is built with its own
// absl::string_view, which std::string_view does not convert to, and error messages here are
// mostly assembled from std::string_views.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace tng::crypto {
namespace str_cat_internal {

inline absl::string_view Arg(std::string_view s) { return absl::string_view(s.data(), s.size()); }
template <typename T>
requires(!std::is_convertible_v<const T&, std::string_view>) const T& Arg(const T& v) { return v; }

}  // namespace str_cat_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(str_cat_internal::Arg(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, str_cat_internal::Arg(args)...);
}

}  // namespace tng::crypto
