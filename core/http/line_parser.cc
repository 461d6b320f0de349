#include "core/http/line_parser.h"

#include "core/http/text.h"
#include "core/http/url.h"

namespace tng::http::internal {
namespace {

LineError Error(int status, std::string what, size_t offset) {
  return LineError{status, std::move(what), offset};
}

// Describes a byte that does not belong where it is; a CR gets its own words because a bare CR
// is how several request smuggling attacks split lines differently in two parsers.
std::string Unexpected(uint8_t c, std::string_view where) {
  if (c == '\r') return Cat("bare CR in ", where);
  return Cat("invalid character ", DescribeByte(c), " in ", where);
}

// "HTTP/1.1" or "HTTP/1.0" → minor version. Other well-formed versions get 505.
std::optional<LineError> ParseVersion(std::string_view v, std::string_view line_name, size_t offset,
                                      int* minor) {
  if (v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[6] == '.' && v[5] >= '0' && v[5] <= '9' &&
      v[7] >= '0' && v[7] <= '9') {
    if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) {
      *minor = v[7] - '0';
      return std::nullopt;
    }
    return Error(505, Cat(line_name, ": unsupported HTTP version '", v, "'"), offset);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r') return Error(400, Cat(line_name, ": bare CR"), offset + i);
  }
  return Error(400, Cat(line_name, ": invalid HTTP version (expected HTTP/1.1 or HTTP/1.0)"),
               offset);
}

std::optional<LineError> ParseTarget(const Request& req, size_t offset, RequestTarget* t) {
  std::string_view target = req.target;
  if (req.method == "CONNECT") {
    auto hp = ParseAuthority(target);
    if (!hp.ok()) {
      return Error(400, Cat("request line: CONNECT needs host:port: ", hp.status().message()),
                   offset);
    }
    t->form = TargetForm::kAuthority;
    t->host = std::move(hp->host);
    t->port = hp->port;
    return std::nullopt;
  }
  if (target == "*") {
    if (req.method != "OPTIONS") {
      return Error(400, "request line: '*' is a target for OPTIONS only", offset);
    }
    t->form = TargetForm::kAsterisk;
    t->path.assign(1, '*');
    return std::nullopt;
  }
  if (target.front() == '/') {
    t->form = TargetForm::kOrigin;
    t->path = std::string(target);
    return std::nullopt;
  }
  if (target.find("://") != std::string_view::npos) {
    auto url = ParseUrl(target);
    if (!url.ok()) return Error(400, Cat("request line: ", url.status().message()), offset);
    t->form = TargetForm::kAbsolute;
    t->scheme = std::move(url->scheme);
    t->host = std::move(url->host);
    t->port = url->port;
    t->path = std::move(url->path);
    return std::nullopt;
  }
  return Error(400,
               Cat("request line: invalid request target '", target,
                   "' (expected /path, scheme://host/path, or host:port with CONNECT)"),
               offset);
}

}  // namespace

std::optional<LineError> ParseRequestLine(std::string_view line, size_t offset, Request* out) {
  size_t i = 0;
  while (i < line.size() && IsTokenChar(static_cast<uint8_t>(line[i]))) ++i;
  if (i == line.size()) return Error(400, "request line: missing request target", offset + i);
  if (line[i] != ' ') {
    return Error(400, Cat("request line: ", Unexpected(line[i], "method")), offset + i);
  }
  if (i == 0) return Error(400, "request line: empty method", offset);
  out->method = std::string(line.substr(0, i));
  size_t target_start = ++i;
  while (i < line.size() && IsTargetChar(static_cast<uint8_t>(line[i]))) ++i;
  if (i == target_start) {
    if (i < line.size() && line[i] == ' ') {
      return Error(400, "request line: more than one space after the method", offset + i);
    }
    return Error(400, "request line: empty request target", offset + i);
  }
  if (i == line.size()) return Error(400, "request line: missing HTTP version", offset + i);
  if (line[i] != ' ') {
    return Error(400, Cat("request line: ", Unexpected(line[i], "request target")), offset + i);
  }
  out->target = std::string(line.substr(target_start, i - target_start));
  ++i;
  std::string_view version = line.substr(i);
  if (size_t sp = version.find_first_of(" \t"); sp != std::string_view::npos) {
    return Error(400, "request line: unexpected whitespace after the HTTP version",
                 offset + i + sp);
  }
  if (auto e = ParseVersion(version, "request line", offset + i, &out->minor_version)) return e;
  out->parsed = RequestTarget();
  return ParseTarget(*out, offset + target_start, &out->parsed);
}

std::optional<LineError> ParseStatusLine(std::string_view line, size_t offset, Response* out) {
  size_t sp = line.find(' ');
  if (auto e = ParseVersion(line.substr(0, sp), "status line", offset, &out->minor_version)) {
    return e;
  }
  if (sp == std::string_view::npos) return Error(400, "status line: missing status code", offset);
  std::string_view rest = line.substr(sp + 1);
  size_t code_at = offset + sp + 1;
  if (rest.size() < 3 || rest[0] < '1' || rest[0] > '9' || rest[1] < '0' || rest[1] > '9' ||
      rest[2] < '0' || rest[2] > '9' || (rest.size() > 3 && rest[3] != ' ')) {
    return Error(400, "status line: status code must be three digits", code_at);
  }
  out->status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  std::string_view reason = rest.size() > 4 ? rest.substr(4) : std::string_view();
  for (size_t i = 0; i < reason.size(); ++i) {
    if (!IsFieldValueChar(static_cast<uint8_t>(reason[i]))) {
      return Error(400, Cat("status line: ", Unexpected(reason[i], "reason phrase")),
                   code_at + 4 + i);
    }
  }
  out->reason = std::string(reason);
  return std::nullopt;
}

std::optional<LineError> ParseFieldLine(std::string_view line, size_t offset,
                                        std::string_view block, size_t ordinal, Headers* out) {
  auto name_of = [&] { return Cat(block, " line ", ordinal); };
  if (line.front() == ' ' || line.front() == '\t') {
    return Error(400, Cat(name_of(), ": obsolete line folding (line starts with whitespace)"),
                 offset);
  }
  size_t i = 0;
  while (i < line.size() && IsTokenChar(static_cast<uint8_t>(line[i]))) ++i;
  if (i == line.size()) return Error(400, Cat(name_of(), ": missing ':'"), offset + i);
  if (line[i] != ':') {
    if (line[i] == ' ' || line[i] == '\t') {
      return Error(400, Cat(name_of(), ": whitespace between field name and ':'"), offset + i);
    }
    return Error(400, Cat(name_of(), ": ", Unexpected(line[i], "field name")), offset + i);
  }
  if (i == 0) return Error(400, Cat(name_of(), ": empty field name"), offset);
  std::string_view name = line.substr(0, i);
  std::string_view value = line.substr(i + 1);
  for (size_t j = 0; j < value.size(); ++j) {
    if (!IsFieldValueChar(static_cast<uint8_t>(value[j]))) {
      return Error(400, Cat(name_of(), ": ", Unexpected(value[j], "field value")),
                   offset + i + 1 + j);
    }
  }
  out->Add(name, TrimOws(value));
  return std::nullopt;
}

ChunkLine ParseChunkLine(std::string_view line, size_t offset) {
  ChunkLine out;
  size_t i = 0;
  auto fail = [&](std::string what) {
    out.error = Error(400, Cat("chunk size line: ", what), offset + i);
    return out;
  };
  while (i < line.size()) {
    char c = line[i];
    int digit = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
    if (digit < 0) break;
    if (out.size >> 59) return fail("chunk size too large");
    out.size = out.size * 16 + static_cast<uint64_t>(digit);
    ++i;
  }
  if (i == 0) {
    if (i < line.size()) return fail(Unexpected(line[i], "chunk size (expected hex digits)"));
    return fail("empty chunk size");
  }
  // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ); the values are not used.
  auto skip_ws = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  for (;;) {
    skip_ws();
    if (i == line.size()) return out;
    if (line[i] != ';') return fail(Unexpected(line[i], "chunk extension (expected ';')"));
    ++i;
    skip_ws();
    size_t name_start = i;
    while (i < line.size() && IsTokenChar(static_cast<uint8_t>(line[i]))) ++i;
    if (i == name_start) {
      if (i < line.size()) return fail(Unexpected(line[i], "chunk extension name"));
      return fail("empty chunk extension name");
    }
    skip_ws();
    if (i == line.size() || line[i] != '=') continue;
    ++i;
    skip_ws();
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        uint8_t c = static_cast<uint8_t>(line[i]);
        if (c == '"') {
          closed = true;
          ++i;
          break;
        }
        if (c == '\\') {
          ++i;
          if (i == line.size()) break;
          c = static_cast<uint8_t>(line[i]);
        }
        if (!IsFieldValueChar(c)) return fail(Unexpected(c, "chunk extension value"));
        ++i;
      }
      if (!closed) return fail("unterminated quoted chunk extension value");
    } else {
      size_t value_start = i;
      while (i < line.size() && IsTokenChar(static_cast<uint8_t>(line[i]))) ++i;
      if (i == value_start) {
        if (i < line.size()) return fail(Unexpected(line[i], "chunk extension value"));
        return fail("empty chunk extension value");
      }
    }
  }
}

}  // namespace tng::http::internal
