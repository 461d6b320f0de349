// The line-level grammar of HTTP/1.1 (RFC 9112): request line, status line, field lines and
// chunk-size lines, each checked strictly and reported with the byte offset of the fault. Used by
// the incremental Parser, which finds the lines; not meant for other callers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/http/message.h"

namespace tng::http::internal {

// A rejected line: the HTTP status a server would answer with, and what and where.
struct LineError {
  int http_status = 400;
  std::string what;   // "header line 3: missing ':'"
  size_t offset = 0;  // of the offending byte in the message
};

// `line` has no CRLF; `offset` is where it starts in the message.
std::optional<LineError> ParseRequestLine(std::string_view line, size_t offset, Request* out);
std::optional<LineError> ParseStatusLine(std::string_view line, size_t offset, Response* out);

// One field line. `block` ("header" / "trailer") and `ordinal` (1-based) name it in errors.
std::optional<LineError> ParseFieldLine(std::string_view line, size_t offset,
                                        std::string_view block, size_t ordinal, Headers* out);

// chunk-size [ chunk-ext ]: the size, or an error.
struct ChunkLine {
  uint64_t size = 0;
  std::optional<LineError> error;
};
ChunkLine ParseChunkLine(std::string_view line, size_t offset);

}  // namespace tng::http::internal
