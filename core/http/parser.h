// Incremental HTTP/1.1 message parser: the caller feeds whatever bytes arrived and learns "need
// more", "headers done" or "body bytes (a span into what you fed)". It never reads a socket and
// never copies a body. Strict where lenient parsing lets two parsers disagree about message
// boundaries (request smuggling): both Content-Length and Transfer-Encoding, differing
// Content-Lengths, obs-fold, bare CR or LF, invalid token characters are all errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/http/message.h"

namespace tng::http {

struct ParserLimits {
  size_t max_start_line = 8 * 1024;     // request or status line without CRLF (414 for requests)
  size_t max_header_bytes = 64 * 1024;  // header lines with their CRLFs; trailers alike (431)
  size_t max_headers = 100;             // header fields; trailer fields alike (431)
  size_t max_chunk_line = 4 * 1024;     // chunk size with its extensions (400)
  uint64_t max_body = std::numeric_limits<uint64_t>::max();  // decoded body bytes (413)
  bool require_host = true;  // an HTTP/1.1 request must carry exactly one Host (RFC 9112 §3.2)
};

enum class MessageKind { kRequest, kResponse };

// How the body of the current message is delimited; known once the headers are done.
enum class BodyKind { kNone, kContentLength, kChunked, kUntilClose };

class Parser {
 public:
  enum class Event {
    kNeedMore,     // everything was consumed; feed more bytes
    kHeadersDone,  // request()/response() hold the head
    kBody,         // `body` holds the next body bytes (decoded from chunks when chunked)
    kMessageDone,  // the message is complete; trailers are in request()/response()
    kError,        // error(), error_http_status(); the connection cannot be used further
  };
  struct Result {
    Event event = Event::kNeedMore;
    size_t consumed = 0;            // bytes of the input used up; feed the rest again next time
    std::span<const uint8_t> body;  // kBody only: points into the input
  };

  explicit Parser(MessageKind kind, ParserLimits limits = {});

  // Responses: the method of the request answered (HEAD and CONNECT 2xx have no body).
  void SetRequestMethod(std::string_view method) { request_method_ = std::string(method); }

  // Consumes from `input` up to the next event. After kHeadersDone, call again (with the rest of
  // the input, even if empty) for the body; after kMessageDone, Reset() for the next message.
  Result Feed(std::span<const uint8_t> input);
  Result Feed(std::string_view input) {
    return Feed(std::span(reinterpret_cast<const uint8_t*>(input.data()), input.size()));
  }
  // The peer closed its side: completes a body that runs until close (kMessageDone), anything
  // else unfinished is an error naming where the message was cut.
  Result FinishAtEof();

  // Prepares for the next message on the same connection; limits and kind stay.
  void Reset();

  // Valid from kHeadersDone on (body left empty: the body is what kBody events carried).
  Request& request() { return request_; }
  Response& response() { return response_; }

  BodyKind body_kind() const { return body_kind_; }
  std::optional<uint64_t> content_length() const { return content_length_; }
  uint64_t body_bytes() const { return body_bytes_; }  // decoded body bytes so far
  bool headers_done() const { return state_ > State::kHead; }
  bool done() const { return state_ == State::kDone; }
  // Whether any byte of the current message arrived (an idle keep-alive connection closing
  // between messages is not an error).
  bool started() const { return offset_ > 0 || !line_.empty(); }

  // After kError.
  const absl::Status& error() const { return error_; }
  // The status a server or proxy would answer: 400, 413, 414, 431, 501, 505 for requests; 502
  // for every response error (the upstream misbehaved).
  int error_http_status() const { return error_http_status_; }
  uint64_t error_offset() const { return error_offset_; }

  const ParserLimits& limits() const { return limits_; }
  ParserLimits& mutable_limits() { return limits_; }

 private:
  enum class State {
    kHead,
    kLengthBody,
    kChunkLine,
    kChunkData,
    kChunkDataCr,
    kChunkDataLf,
    kTrailers,
    kUntilClose,
    kDone,
    kError,
  };

  // Consumes lines of the head or the trailer block; returns the event that ends it, if any.
  // A complete line (with its LF) from `input` at `pos`, or nullopt after keeping the partial
  // line in line_. The view may point into line_: use it before clearing line_.
  std::optional<std::string_view> TakeLine(std::span<const uint8_t> input, size_t& pos,
                                           uint64_t& line_offset);
  // Handles one head or trailer line; returns the event it ends with, if any.
  std::optional<Event> OnBlockLine(std::string_view line, uint64_t line_offset);
  bool PartialBlockLineFits(uint64_t line_offset);
  bool OnChunkLine(std::string_view line, uint64_t line_offset);
  bool DetermineFraming(uint64_t head_end);
  std::string BlockLineName() const;
  // Records the error; returns false so that callers can `return Fail(...)`.
  bool Fail(int http_status, std::string what, uint64_t offset);
  Headers& fields() {
    return kind_ == MessageKind::kRequest ? request_.headers : response_.headers;
  }
  Headers& trailers() {
    return kind_ == MessageKind::kRequest ? request_.trailers : response_.trailers;
  }

  MessageKind kind_;
  ParserLimits limits_;
  std::string request_method_ = "GET";
  State state_ = State::kHead;

  uint64_t offset_ = 0;  // message bytes consumed before the current Feed() call
  std::string line_;     // a line that arrived in pieces (head, chunk size or trailer)
  bool start_line_done_ = false;
  size_t empty_lines_ = 0;               // skipped before a request line
  size_t block_bytes_ = 0;               // of the header or trailer lines so far
  size_t block_fields_ = 0;              // fields in the header or trailer block so far
  std::vector<uint64_t> field_offsets_;  // where each header line starts, for framing errors

  BodyKind body_kind_ = BodyKind::kNone;
  std::optional<uint64_t> content_length_;
  uint64_t remaining_ = 0;  // of the Content-Length body or the current chunk
  uint64_t body_bytes_ = 0;

  Request request_;
  Response response_;

  absl::Status error_;
  int error_http_status_ = 0;
  uint64_t error_offset_ = 0;
};

// Whole-message helpers (tests, small payloads): the input must be exactly one message; the body
// is collected into request.body / response.body. A response without a length runs to the end of
// `bytes`.
absl::StatusOr<Request> ParseRequest(std::string_view bytes, const ParserLimits& limits = {});
absl::StatusOr<Response> ParseResponse(std::string_view bytes,
                                       std::string_view request_method = "GET",
                                       const ParserLimits& limits = {});

}  // namespace tng::http
