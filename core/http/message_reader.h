// Reads HTTP/1.1 messages from a byte stream through a Parser: one receive buffer, body bytes
// handed out as spans into it, and whatever arrived beyond the current message kept for the next
// one (pipelined requests) or for the caller (the first tunnel bytes after CONNECT).
//
// A stream type provides Read(std::span<uint8_t>) -> awaitable int (n > 0 bytes, 0 at EOF, < 0 a
// negative errno), like TcpStream and the TLS stream. When it also takes Read(span, Duration)
// (TcpStream does), set_read_timeout() bounds every read.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/http/parser.h"
#include "core/http/text.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::http {

template <typename S>
concept ReadableStream = requires(S& s, std::span<uint8_t> buf) {
  s.Read(buf);
};
template <typename S>
concept TimedReadStream = requires(S& s, std::span<uint8_t> buf, Duration d) {
  s.Read(buf, d);
};

inline constexpr size_t kDefaultReadBufferSize = 16 * 1024;

template <ReadableStream Stream>
class MessageReader {
 public:
  MessageReader(Stream& stream, MessageKind kind, ParserLimits limits = {},
                size_t buffer_size = kDefaultReadBufferSize)
      : stream_(stream),
        parser_(kind, limits),
        buf_(std::make_unique<uint8_t[]>(buffer_size)),
        capacity_(buffer_size) {}

  // Bounds each read (not the whole message) for streams that take a timeout; zero: none.
  void set_read_timeout(Duration d) { read_timeout_ = d; }

  Parser& parser() { return parser_; }

  // Reads until the head is complete (parser().request() / response()). Errors:
  //  - the peer closed before the first byte of a message: Unavailable, closed_idle() is true;
  //  - a read timed out: DeadlineExceeded;
  //  - a read failed: Unavailable with the errno text;
  //  - the bytes are not HTTP or break a limit: parse_failed() is true, the status is
  //    parser().error() and parser().error_http_status() says what to answer.
  Task<absl::Status> ReadHead() {
    for (;;) {
      auto r = parser_.Feed(buffered());
      begin_ += r.consumed;
      if (r.event == Parser::Event::kError) {
        parse_failed_ = true;
        co_return parser_.error();
      }
      if (r.event != Parser::Event::kNeedMore) co_return absl::OkStatus();
      int n = co_await Fill();
      if (n > 0) continue;
      if (n == 0 && !parser_.started()) {
        closed_idle_ = true;
        co_return absl::UnavailableError("connection closed by the peer");
      }
      co_return ReadFailure(n);
    }
  }

  // The next body bytes, or an empty span once the message is complete. The span points into
  // the reader's buffer and stays valid until the next call.
  Task<absl::StatusOr<std::span<const uint8_t>>> ReadBodyPart() {
    for (;;) {
      auto r = parser_.Feed(buffered());
      begin_ += r.consumed;
      switch (r.event) {
        case Parser::Event::kBody:
          co_return r.body;
        case Parser::Event::kMessageDone:
          co_return std::span<const uint8_t>();
        case Parser::Event::kError:
          parse_failed_ = true;
          co_return parser_.error();
        case Parser::Event::kHeadersDone:
        case Parser::Event::kNeedMore:
          break;
      }
      int n = co_await Fill();
      if (n > 0) continue;
      absl::Status st = ReadFailure(n);
      if (st.ok()) co_return std::span<const uint8_t>();  // the body ran until close
      co_return st;
    }
  }

  // Appends the whole body to `out`; the parser's max_body bounds it.
  Task<absl::Status> ReadBody(std::string* out) {
    for (;;) {
      auto part = co_await ReadBodyPart();
      if (!part.ok()) co_return part.status();
      if (part->empty()) co_return absl::OkStatus();
      out->append(reinterpret_cast<const char*>(part->data()), part->size());
    }
  }

  // After kMessageDone: the next message on the same connection.
  void NextMessage() {
    parser_.Reset();
    parse_failed_ = false;
  }

  // Bytes received and not yet parsed.
  std::span<const uint8_t> buffered() const {
    return std::span<const uint8_t>(buf_.get() + begin_, end_ - begin_);
  }
  // Takes bytes out of buffered() (a tunnel taking over the connection after CONNECT).
  void ConsumeBuffered(size_t n) { begin_ += std::min(n, end_ - begin_); }

  bool closed_idle() const { return closed_idle_; }
  // Whether the last error came from the bytes (answer parser().error_http_status()) rather than
  // from the connection.
  bool parse_failed() const { return parse_failed_; }

 private:
  // Reads more bytes after the parser consumed everything buffered.
  Task<int> Fill() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (end_ == capacity_) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    std::span<uint8_t> room(buf_.get() + end_, capacity_ - end_);
    int n;
    if constexpr (TimedReadStream<Stream>) {
      n = co_await stream_.Read(room, read_timeout_);
    } else {
      n = co_await stream_.Read(room);
    }
    if (n > 0) end_ += static_cast<size_t>(n);
    co_return n;
  }

  // Turns a read result <= 0 into the error to report: EOF ends a body that runs until close.
  absl::Status ReadFailure(int n) {
    if (n == 0) {
      auto r = parser_.FinishAtEof();
      if (r.event == Parser::Event::kMessageDone) return absl::OkStatus();
      return absl::UnavailableError(std::string(parser_.error().message()));
    }
    if (n == -ETIMEDOUT) {
      return absl::DeadlineExceededError(
          Cat("no data from the peer for ", FormatDuration(read_timeout_)));
    }
    return absl::UnavailableError(Cat("read failed: ", std::strerror(-n)));
  }

  Stream& stream_;
  Parser parser_;
  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
  Duration read_timeout_ = Duration::zero();
  bool closed_idle_ = false;
  bool parse_failed_ = false;
};

}  // namespace tng::http
