// A small asynchronous HTTP/1.1 server on one reactor: accepts on a listening socket, reads
// requests (keep-alive, pipelining), hands each complete request to a handler coroutine and writes
// its response. Malformed requests get the status the parser names (400, 413, 414, 431, 501, 505)
// and the connection is closed. Meant for control and REST endpoints (the control interface, the
// reference AS), not for relaying.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/fd.h"
#include "core/http/message.h"
#include "core/http/parser.h"
#include "core/net.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng {
class TcpStream;
}

namespace tng::http {

inline constexpr uint64_t kDefaultServerMaxBody = 16ull << 20;

struct HttpServerOptions {
  ParserLimits limits = DefaultLimits();
  // Bounds every wait on a connection: for the next request on a kept-alive connection, for each
  // read within a request, and for each write of a response.
  Duration idle_timeout = std::chrono::seconds(60);
  std::string name = "http";  // in logs

  static ParserLimits DefaultLimits() {
    ParserLimits l;
    l.max_body = kDefaultServerMaxBody;
    return l;
  }
};

class HttpServer {
 public:
  // The request lives until the returned task has finished.
  using Handler = std::function<Task<Response>(const Request&)>;

  HttpServer(Reactor& reactor, UniqueFd listen_fd, Handler handler, HttpServerOptions options = {});
  // Must not run while connections are open or the accept is pending: Stop() first and let the
  // reactor finish (as with Acceptor).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // On the reactor's thread. Also stops the server when the reactor begins to drain.
  void Start();
  // Stops accepting and closes idle connections; a request being handled gets its response
  // (with "Connection: close") and then its connection closes. Idempotent.
  void Stop();

  size_t connections() const { return connection_count_; }
  uint64_t requests_served() const { return requests_served_; }

 private:
  struct Connection;
  Task<void> Serve(UniqueFd fd);
  Task<int> WriteResponse(TcpStream& stream, Response& response, const Request* request,
                          bool keep_alive);
  Task<void> RejectRequest(TcpStream& stream, int status, std::string_view why);

  Reactor& reactor_;
  Handler handler_;
  HttpServerOptions options_;
  Acceptor acceptor_;
  // Drain hooks cannot be removed; they check this flag instead of touching a destroyed server.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool started_ = false;
  bool stopping_ = false;
  Connection* connections_ = nullptr;  // intrusive list of open connections
  size_t connection_count_ = 0;
  uint64_t requests_served_ = 0;
};

}  // namespace tng::http
