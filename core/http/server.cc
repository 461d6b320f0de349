#include "core/http/server.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/connection_scope.h"
#include "core/http/message_reader.h"
#include "core/http/serializer.h"
#include "core/http/text.h"
#include "core/log.h"
#include "core/tcp_stream.h"

namespace tng::http {
namespace {

// Bodies up to this size are sent in one write behind the head; larger ones are written from the
// response directly (Content-Length) or piece by piece (chunked).
constexpr size_t kInlineBody = 64 * 1024;

// After an error response the client may still be sending (a body or header block we refused).
// Closing with unread bytes makes the kernel send a reset, which can destroy the response before
// the client reads it; so half-close and discard what still arrives, within bounds.
constexpr size_t kMaxLingerBytes = 1 << 20;
constexpr Duration kMaxLingerWait = std::chrono::seconds(2);

std::span<const uint8_t> Bytes(std::string_view s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

struct HttpServer::Connection {
  TcpStream* stream = nullptr;
  bool idle = true;  // waiting for the next request: Stop() may close it
  Connection* prev = nullptr;
  Connection* next = nullptr;
};

HttpServer::HttpServer(Reactor& reactor, UniqueFd listen_fd, Handler handler,
                       HttpServerOptions options)
    : reactor_(reactor),
      handler_(std::move(handler)),
      options_(std::move(options)),
      acceptor_(
          reactor, std::move(listen_fd), [this](UniqueFd fd) { Spawn(Serve(std::move(fd))); },
          options_.name) {}

HttpServer::~HttpServer() { *alive_ = false; }

void HttpServer::Start() {
  if (started_ || stopping_) return;
  started_ = true;
  acceptor_.Start();
  reactor_.AddDrainHook([alive = alive_, this] {
    if (*alive) Stop();
  });
}

void HttpServer::Stop() {
  if (stopping_) return;
  stopping_ = true;
  acceptor_.Stop();
  for (Connection* c = connections_; c != nullptr; c = c->next) {
    if (c->idle) c->stream->ForceClose();
  }
}

Task<void> HttpServer::Serve(UniqueFd fd) {
  ConnectionScope scope(reactor_);
  TcpStream stream(reactor_, std::move(fd), &scope);
  Connection conn;
  conn.stream = &stream;
  conn.next = connections_;
  if (connections_) connections_->prev = &conn;
  connections_ = &conn;
  ++connection_count_;
  struct Unlink {
    HttpServer* server;
    Connection* c;
    ~Unlink() {
      if (c->prev) c->prev->next = c->next;
      if (c->next) c->next->prev = c->prev;
      if (server->connections_ == c) server->connections_ = c->next;
      --server->connection_count_;
    }
  } unlink{this, &conn};

  MessageReader<TcpStream> reader(stream, MessageKind::kRequest, options_.limits);
  reader.set_read_timeout(options_.idle_timeout);
  for (;;) {
    conn.idle = true;
    if (stopping_) break;
    absl::Status st = co_await reader.ReadHead();
    conn.idle = false;
    if (!st.ok()) {
      if (reader.parse_failed()) {
        co_await RejectRequest(stream, reader.parser().error_http_status(), StdView(st.message()));
      } else if (!reader.closed_idle()) {
        TNG_LOG(Debug, "http").Kv("server", options_.name) << "connection ended: " << st;
      }
      break;
    }
    Parser& parser = reader.parser();
    Request request = std::move(parser.request());
    if (request.minor_version == 1 && parser.body_kind() != BodyKind::kNone &&
        request.headers.HasToken("Expect", "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (co_await stream.Write(Bytes(kContinue), options_.idle_timeout) < 0) break;
    }
    st = co_await reader.ReadBody(&request.body);
    if (!st.ok()) {
      if (reader.parse_failed()) {
        co_await RejectRequest(stream, parser.error_http_status(), StdView(st.message()));
      }
      break;
    }
    request.trailers = std::move(parser.request().trailers);

    Response response = co_await handler_(request);
    ++requests_served_;
    const bool keep_alive = !stopping_ && WantsKeepAlive(request) && WantsKeepAlive(response);
    int rc = co_await WriteResponse(stream, response, &request, keep_alive);
    if (rc < 0 || !keep_alive) break;
    reader.NextMessage();
  }
}

Task<void> HttpServer::RejectRequest(TcpStream& stream, int status, std::string_view why) {
  TNG_LOG(Debug, "http").Kv("server", options_.name).Kv("status", status)
      << "rejected request: " << why;
  Response response;
  response.status = status;
  response.headers.Add("Content-Type", "text/plain; charset=utf-8");
  response.body = Cat(status, " ", ReasonPhrase(status), ": ", why, "\n");
  if (co_await WriteResponse(stream, response, nullptr, false) < 0) co_return;
  co_await stream.ShutdownWrite();
  const Duration wait = std::min(options_.idle_timeout, kMaxLingerWait);
  uint8_t discard[4096];
  for (size_t total = 0; total < kMaxLingerBytes;) {
    int n = co_await stream.Read(std::span(discard), wait);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
}

Task<int> HttpServer::WriteResponse(TcpStream& stream, Response& response, const Request* request,
                                    bool keep_alive) {
  const std::string_view method = request ? std::string_view(request->method) : "GET";
  if (!keep_alive) {
    response.headers.Set("Connection", "close");
  } else if (request && request->minor_version == 0) {
    response.headers.Set("Connection", "keep-alive");
  }
  const int s = response.status;
  const bool never_body =
      s < 200 || s == 204 || s == 304 || (method == "CONNECT" && s >= 200 && s < 300);
  Framing framing = never_body         ? Framing::None()
                    : response.chunked ? Framing::Chunked()
                                       : Framing::ContentLength(response.body.size());
  std::string head;
  absl::Status st = AppendResponseHead(response, framing, &head);
  if (st.ok() && never_body && !response.body.empty()) {
    st = absl::InvalidArgumentError(Cat("a ", s, " response cannot carry a body"));
  }
  for (size_t i = 0; st.ok() && response.chunked && i < response.trailers.size(); ++i) {
    st = ValidateField(response.trailers[i].name, response.trailers[i].value);
  }
  if (!st.ok()) {
    // The handler built a response that cannot go on the wire; say so instead.
    TNG_LOG(Error, "http").Kv("server", options_.name) << "handler response rejected: " << st;
    Response error;
    error.status = 500;
    error.headers.Add("Content-Type", "text/plain; charset=utf-8");
    error.headers.Add("Connection", "close");
    error.body = "500 Internal Server Error: the handler produced an invalid response\n";
    head.clear();
    (void)AppendResponseHead(error, Framing::ContentLength(error.body.size()), &head);
    head.append(error.body);
    co_await stream.Write(Bytes(head), options_.idle_timeout);
    co_return -EINVAL;  // close the connection
  }
  const bool send_body = !never_body && method != "HEAD";
  const Duration timeout = options_.idle_timeout;
  if (!send_body) co_return co_await stream.Write(Bytes(head), timeout);
  if (!response.chunked) {
    if (response.body.size() <= kInlineBody) {
      head.append(response.body);
      co_return co_await stream.Write(Bytes(head), timeout);
    }
    int rc = co_await stream.Write(Bytes(head), timeout);
    if (rc < 0) co_return rc;
    co_return co_await stream.Write(Bytes(response.body), timeout);
  }
  // Chunked: the head goes out with the first piece; pieces of kInlineBody bound the copy.
  std::string_view body = response.body;
  std::string frame = std::move(head);
  do {
    std::string_view piece = body.substr(0, kInlineBody);
    body.remove_prefix(piece.size());
    AppendChunk(piece, &frame);
    if (body.empty()) (void)AppendLastChunk(response.trailers, &frame);  // validated above
    int rc = co_await stream.Write(Bytes(frame), timeout);
    if (rc < 0) co_return rc;
    frame.clear();
  } while (!body.empty());
  co_return 0;
}

}  // namespace tng::http
