// HTTP/1.1 message serialization: heads with the framing the caller chooses (Content-Length,
// chunked, none, or the headers as given), whole messages, and chunk framing for bodies streamed
// piece by piece. Refuses names and values that would split or smuggle (CR, LF, NUL, bad tokens).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/http/message.h"

namespace tng::http {

// The framing header a head gets. Any Content-Length / Transfer-Encoding the message's headers
// carry is replaced, except with kAsGiven.
struct Framing {
  enum class Kind {
    kContentLength,  // Content-Length: length
    kChunked,        // Transfer-Encoding: chunked
    kNone,           // no framing header (no body, or a response delimited by close)
    kAsGiven,        // the headers are written exactly as they are
  };
  Kind kind = Kind::kNone;
  uint64_t length = 0;

  static Framing ContentLength(uint64_t n) { return {Kind::kContentLength, n}; }
  static Framing Chunked() { return {Kind::kChunked, 0}; }
  static Framing None() { return {Kind::kNone, 0}; }
  static Framing AsGiven() { return {Kind::kAsGiven, 0}; }
};

// "METHOD target HTTP/1.x" CRLF fields CRLF, appended to `out`.
absl::Status AppendRequestHead(const Request& request, Framing framing, std::string* out);
// "HTTP/1.x status reason" CRLF fields CRLF, appended to `out`.
absl::Status AppendResponseHead(const Response& response, Framing framing, std::string* out);

// Whole messages. The body goes chunked (with the trailers) when `chunked` is set, else with a
// Content-Length; requests without a body get no framing header unless their method normally
// carries one (POST, PUT, PATCH get Content-Length: 0).
absl::StatusOr<std::string> SerializeRequest(const Request& request);
// `request_method`: HEAD gets the head only (Content-Length of the body it would have had);
// 1xx, 204 and 304 never carry a body.
absl::StatusOr<std::string> SerializeResponse(const Response& response,
                                              std::string_view request_method = "GET");

// Chunk framing: "size-hex CRLF data CRLF". Empty data appends nothing (a zero-size chunk would
// end the body).
void AppendChunk(std::span<const uint8_t> data, std::string* out);
void AppendChunk(std::string_view data, std::string* out);
// Just the "size-hex CRLF" before `size` bytes of data the caller sends itself (then "\r\n").
void AppendChunkHeader(uint64_t size, std::string* out);
// "0" CRLF trailers CRLF.
absl::Status AppendLastChunk(const Headers& trailers, std::string* out);

// Checks one header field for what may be written on the wire.
absl::Status ValidateField(std::string_view name, std::string_view value);

}  // namespace tng::http
