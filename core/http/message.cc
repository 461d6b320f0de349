#include "core/http/message.h"

#include <algorithm>

#include "core/http/text.h"

namespace tng::http {

void Headers::Add(std::string_view name, std::string_view value) {
  fields_.push_back({std::string(name), std::string(value)});
}

void Headers::Set(std::string_view name, std::string_view value) {
  auto first = std::find_if(fields_.begin(), fields_.end(),
                            [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); });
  if (first == fields_.end()) {
    Add(name, value);
    return;
  }
  first->value = std::string(value);
  auto rest = std::remove_if(first + 1, fields_.end(),
                             [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); });
  fields_.erase(rest, fields_.end());
}

size_t Headers::Remove(std::string_view name) {
  auto rest = std::remove_if(fields_.begin(), fields_.end(),
                             [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); });
  size_t n = static_cast<size_t>(fields_.end() - rest);
  fields_.erase(rest, fields_.end());
  return n;
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.name, name)) out.push_back(f.value);
  }
  return out;
}

size_t Headers::Count(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(fields_.begin(), fields_.end(),
                    [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); }));
}

bool Headers::HasToken(std::string_view name, std::string_view token) const {
  for (const auto& f : fields_) {
    if (!EqualsIgnoreCase(f.name, name)) continue;
    std::string_view list = f.value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = TrimOws(list.substr(0, comma));
      if (EqualsIgnoreCase(item, token)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool WantsKeepAlive(const Request& request) {
  if (request.headers.HasToken("Connection", "close")) return false;
  if (request.minor_version == 0) return request.headers.HasToken("Connection", "keep-alive");
  return true;
}

bool WantsKeepAlive(const Response& response) {
  if (response.headers.HasToken("Connection", "close")) return false;
  if (response.minor_version == 0) return response.headers.HasToken("Connection", "keep-alive");
  return true;
}

bool ResponseHasNoBody(std::string_view request_method, int status) {
  if (status < 200 || status == 204 || status == 304) return true;
  if (request_method == "HEAD") return true;
  return request_method == "CONNECT" && status < 300;
}

}  // namespace tng::http
