// HTTP/1.1 messages as plain values: header fields (order and duplicates kept, names matched
// case-insensitively), requests with their parsed target, and responses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tng::http {

struct HeaderField {
  std::string name;  // as received or given; compared case-insensitively
  std::string value;
};

class Headers {
 public:
  using const_iterator = std::vector<HeaderField>::const_iterator;

  void Add(std::string_view name, std::string_view value);
  // Replaces every field of that name by one (appended at the end when absent).
  void Set(std::string_view name, std::string_view value);
  // Removes every field of that name; returns how many there were.
  size_t Remove(std::string_view name);

  // The first field of that name.
  std::optional<std::string_view> Get(std::string_view name) const;
  std::vector<std::string_view> GetAll(std::string_view name) const;
  size_t Count(std::string_view name) const;
  bool Has(std::string_view name) const { return Count(name) > 0; }
  // Whether a comma-separated list header (all fields of that name) holds `token`,
  // case-insensitively: HasToken("Connection", "close").
  bool HasToken(std::string_view name, std::string_view token) const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const HeaderField& operator[](size_t i) const { return fields_[i]; }
  const_iterator begin() const { return fields_.begin(); }
  const_iterator end() const { return fields_.end(); }
  void clear() { fields_.clear(); }
  void reserve(size_t n) { fields_.reserve(n); }

 private:
  std::vector<HeaderField> fields_;
};

// How the request target was written (RFC 9112 §3.2).
enum class TargetForm {
  kOrigin,     // "/path?query"
  kAbsolute,   // "http://host:port/path" (forward proxies)
  kAuthority,  // "host:port" (CONNECT only)
  kAsterisk,   // "*" (OPTIONS only)
};

// The request target split up by the parser. host has no IPv6 brackets.
struct RequestTarget {
  TargetForm form = TargetForm::kOrigin;
  std::string scheme;  // absolute-form, lower case
  std::string host;    // absolute- and authority-form
  uint16_t port = 0;   // absolute-form (scheme default when absent) and authority-form
  std::string path;    // origin- and absolute-form: path and query ("/" when the URI had none)
};

struct Request {
  std::string method = "GET";
  std::string target = "/";  // as on the wire
  RequestTarget parsed;      // filled by the parser; ignored by the serializer
  int minor_version = 1;     // HTTP/1.minor_version
  Headers headers;
  std::string body;
  Headers trailers;      // chunked bodies only
  bool chunked = false;  // parser: the body came chunked; serializer: send it chunked
};

struct Response {
  int status = 200;
  std::string reason;  // empty: the standard phrase for `status` is sent
  int minor_version = 1;
  Headers headers;
  std::string body;
  Headers trailers;      // chunked bodies only
  bool chunked = false;  // parser: the body came chunked; serializer: send it chunked
};

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view ReasonPhrase(int status);

// Whether the connection may carry another message after this one (RFC 9112 §9.3).
bool WantsKeepAlive(const Request& request);
bool WantsKeepAlive(const Response& response);

// Responses that never have a body, whatever their headers say (RFC 9112 §6.3).
bool ResponseHasNoBody(std::string_view request_method, int status);

}  // namespace tng::http
