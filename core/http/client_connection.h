// HTTP/1.1 request/response exchanges over one connected stream, reusable while both sides keep
// the connection alive. Generic over the stream so that a TLS stream plugs in where TcpStream is
// used: the stream provides Read(span<uint8_t>) and Write(span<const uint8_t>) awaitables (byte
// count or -errno, 0 at EOF / 0 when all was written) and ForceClose(), which the exchange's
// deadline timer calls to end pending operations.
#pragma once

#include <chrono>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/http/deadline_timer.h"
#include "core/http/message.h"
#include "core/http/message_reader.h"
#include "core/http/serializer.h"
#include "core/http/text.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::http {

inline constexpr uint64_t kDefaultClientMaxBody = 64ull << 20;

struct RoundTripOptions {
  // One deadline for sending the request and receiving the whole response.
  Duration timeout = std::chrono::seconds(30);
  ParserLimits limits;  // for the response; max_body below replaces limits.max_body
  uint64_t max_body = kDefaultClientMaxBody;
  // When set, body bytes go here as they arrive instead of into Response::body; an error stops
  // the exchange (and the connection).
  std::function<absl::Status(std::span<const uint8_t>)> on_body;
};

template <typename S>
concept ClientStream = ReadableStream<S> && requires(S& s, std::span<const uint8_t> data) {
  s.Write(data);
  s.ForceClose();
};

template <ClientStream Stream>
class HttpClientConnection {
 public:
  // `peer` names the other end in errors ("10.0.0.1:8080").
  HttpClientConnection(Reactor& reactor, Stream& stream, std::string peer)
      : reactor_(reactor),
        stream_(stream),
        peer_(std::move(peer)),
        reader_(stream, MessageKind::kResponse) {}

  // Sends `request` as is (the caller sets Host) and reads the response, skipping interim 1xx
  // responses other than 101. After a failed exchange the connection is not reusable.
  Task<absl::StatusOr<Response>> RoundTrip(const Request& request, RoundTripOptions options) {
    if (!reusable_) {
      co_return absl::FailedPreconditionError(
          Cat("the connection to ", peer_, " cannot carry another request"));
    }
    reusable_ = false;
    bool expired = false;
    DeadlineTimer timer(reactor_, options.timeout, [this, &expired] {
      expired = true;
      stream_.ForceClose();
    });
    auto timed_out = [&](std::string_view while_doing) {
      return absl::DeadlineExceededError(
          Cat("timed out after ", FormatDuration(options.timeout), " ", while_doing, " ", peer_));
    };

    if (auto st = co_await Send(request); !st.ok()) {
      if (expired) co_return timed_out("sending the request to");
      co_return st;
    }

    options.limits.max_body = options.max_body;
    reader_.parser().mutable_limits() = options.limits;
    for (;;) {
      reader_.parser().SetRequestMethod(request.method);
      absl::Status st = co_await reader_.ReadHead();
      if (!st.ok()) {
        if (expired) co_return timed_out("waiting for the response headers from");
        co_return absl::Status(st.code(), Cat("bad response from ", peer_, ": ", st.message()));
      }
      int code = reader_.parser().response().status;
      if (code >= 200 || code == 101) break;
      reader_.NextMessage();  // 100 Continue, 103 Early Hints: the real response follows
    }
    Response response = std::move(reader_.parser().response());
    for (;;) {
      auto part = co_await reader_.ReadBodyPart();
      if (!part.ok()) {
        if (expired) co_return timed_out("reading the response body from");
        co_return absl::Status(part.status().code(), Cat("bad response body from ", peer_, ": ",
                                                         part.status().message()));
      }
      if (part->empty()) break;
      if (options.on_body) {
        if (auto cb = options.on_body(*part); !cb.ok()) co_return cb;
      } else {
        response.body.append(reinterpret_cast<const char*>(part->data()), part->size());
      }
    }
    response.trailers = std::move(reader_.parser().response().trailers);
    const Parser& p = reader_.parser();
    reusable_ = p.body_kind() != BodyKind::kUntilClose && WantsKeepAlive(response) &&
                WantsKeepAlive(request) && !ResponseHasNoBodyBecauseTunnel(request, response);
    if (reusable_) reader_.NextMessage();
    co_return response;
  }

  bool reusable() const { return reusable_; }
  // Bytes the peer sent after the response (the tunnel after CONNECT 2xx or 101).
  MessageReader<Stream>& reader() { return reader_; }

 private:
  static bool ResponseHasNoBodyBecauseTunnel(const Request& request, const Response& response) {
    return response.status == 101 || (request.method == "CONNECT" && response.status < 300);
  }

  // Bodies above this size are written straight from the request, not copied behind the head.
  static constexpr size_t kCopyBodyLimit = 64 * 1024;

  Task<absl::Status> Send(const Request& request) {
    std::string wire;
    std::span<const uint8_t> body;
    if (request.chunked || request.body.size() <= kCopyBodyLimit) {
      auto s = SerializeRequest(request);
      if (!s.ok()) co_return s.status();
      wire = std::move(*s);
    } else {
      auto st = AppendRequestHead(request, Framing::ContentLength(request.body.size()), &wire);
      if (!st.ok()) co_return st;
      body = std::span(reinterpret_cast<const uint8_t*>(request.body.data()), request.body.size());
    }
    int rc = co_await stream_.Write(
        std::span(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()));
    if (rc >= 0 && !body.empty()) rc = co_await stream_.Write(body);
    if (rc < 0) {
      co_return absl::UnavailableError(
          Cat("sending the request to ", peer_, " failed: ", std::strerror(-rc)));
    }
    co_return absl::OkStatus();
  }

  Reactor& reactor_;
  Stream& stream_;
  std::string peer_;
  MessageReader<Stream> reader_;
  bool reusable_ = true;
};

}  // namespace tng::http
