// The HTTP server against raw clients: malformed requests, pipelining, 100-continue, HTTP/1.0,
// idle timeout, Stop() and drain.
#include "core/http/server.h"

#include <sys/socket.h>

#include <string>
#include <thread>

#include "core/connection_scope.h"
#include "core/http/parser.h"
#include "core/net.h"
#include "core/tcp_stream.h"
#include "gtest/gtest.h"

namespace tng::http {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<Reactor> NewReactor() {
  auto r = Reactor::Create(0, {});
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(*r);
}

std::pair<UniqueFd, uint16_t> Listen() {
  auto addr = SocketAddress::FromLiteral("127.0.0.1", 0);
  auto fd = ListenTcp(*addr);
  EXPECT_TRUE(fd.ok()) << fd.status();
  SocketAddress bound;
  EXPECT_EQ(getsockname(fd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
  return {std::move(*fd), bound.port()};
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Reads until EOF (or an error); returns what arrived.
Task<std::string> ReadToEnd(TcpStream& s) {
  std::string out;
  uint8_t buf[16384];
  for (;;) {
    int n = co_await s.Read(std::span(buf), std::chrono::seconds(10));
    if (n <= 0) break;
    out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  }
  co_return out;
}

// Sends `wire` on a fresh connection and returns all the server sent before closing.
Task<std::string> Exchange(Reactor& r, uint16_t port, std::string wire) {
  auto s = co_await DialTcp(r, "127.0.0.1", port, std::chrono::seconds(5), nullptr);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) co_return "";
  EXPECT_EQ(co_await s->Write(Bytes(wire)), 0);
  co_return co_await ReadToEnd(*s);
}

template <typename Body>
void RunWithServer(Reactor& r, HttpServer& server, Body body) {
  auto task = [](Reactor& r, Body body) -> Task<void> {
    ConnectionScope scope(r);
    co_await body(r);
    r.BeginDrain();
  };
  r.Post([&r, &server, body, task] {
    server.Start();
    Spawn(task(r, body));
  });
  r.Run();
}

// Splits a byte stream of responses into messages.
std::vector<Response> ParseResponses(std::string_view bytes) {
  std::vector<Response> out;
  Parser p(MessageKind::kResponse);
  while (!bytes.empty()) {
    std::string body;
    for (;;) {
      auto r = p.Feed(bytes);
      bytes.remove_prefix(r.consumed);
      if (r.event == Parser::Event::kBody)
        body.append(reinterpret_cast<const char*>(r.body.data()), r.body.size());
      if (r.event == Parser::Event::kMessageDone) break;
      if (r.event == Parser::Event::kError || r.event == Parser::Event::kNeedMore) {
        ADD_FAILURE() << "unparsable response stream: " << p.error();
        return out;
      }
    }
    out.push_back(std::move(p.response()));
    out.back().body = std::move(body);
    p.Reset();
  }
  return out;
}

Task<Response> Ok(const Request& req) {
  Response resp;
  resp.body = "ok " + req.target;
  co_return resp;
}

TEST(HttpServerTest, MalformedRequestsGetTheStatusTheParserNames) {
  struct Bad {
    std::string wire;
    int status;
    std::string text;
  };
  const std::string h = "Host: x\r\n";
  std::vector<Bad> cases = {
      {"GET / HTTP/1.1\r\n" + h + "NoColon\r\n\r\n", 400, "header line 2: missing ':'"},
      {"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "both Transfer-Encoding and Content-Length"},
      {"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", 501,
       "unsupported transfer coding"},
      {"GET /" + std::string(9000, 'u') + " HTTP/1.1\r\n" + h + "\r\n", 414,
       "request line longer than 8192 bytes"},
      {"GET / HTTP/1.1\r\n" + h + "X-Big: " + std::string(70000, 'b') + "\r\n\r\n", 431,
       "header block larger than 65536 bytes"},
      {"POST / HTTP/1.1\r\n" + h + "Content-Length: 2000\r\n\r\n", 413, "exceeds the limit"},
      {"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n800\r\n" +
           std::string(2048, 'c') + "\r\n0\r\n\r\n",
       413, "chunked body exceeds the limit of 1024 bytes"},
      {"GET / HTTP/3.0\r\n" + h + "\r\n", 505, "unsupported HTTP version"},
      {"GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"},
  };
  auto r = NewReactor();
  auto [fd, port] = Listen();
  HttpServerOptions options;
  options.limits.max_body = 1024;
  int handled = 0;
  HttpServer server(
      *r, std::move(fd),
      [&](const Request& req) -> Task<Response> {
        ++handled;
        co_return co_await Ok(req);
      },
      options);
  std::vector<std::string> outputs(cases.size());
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    for (size_t i = 0; i < cases.size(); ++i)
      outputs[i] = co_await Exchange(r, port, cases[i].wire);
  });
  EXPECT_EQ(handled, 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].text);
    auto resp = ParseResponse(outputs[i]);
    ASSERT_TRUE(resp.ok()) << resp.status() << "\n" << outputs[i];
    EXPECT_EQ(resp->status, cases[i].status);
    EXPECT_NE(resp->body.find(cases[i].text), std::string::npos) << resp->body;
    EXPECT_TRUE(resp->headers.HasToken("Connection", "close"));
  }
}

TEST(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  auto r = NewReactor();
  auto [fd, port] = Listen();
  HttpServer server(*r, std::move(fd), Ok);
  std::string out;
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    out = co_await Exchange(r, port,
                            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
                            "\r\n"  // a stray CRLF after a body is tolerated
                            "GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  });
  auto responses = ParseResponses(out);
  ASSERT_EQ(responses.size(), 3u) << out;
  EXPECT_EQ(responses[0].body, "ok /1");
  EXPECT_EQ(responses[1].body, "ok /2");
  EXPECT_EQ(responses[2].body, "ok /3");
  EXPECT_TRUE(responses[2].headers.HasToken("Connection", "close"));
}

TEST(HttpServerTest, ExpectContinueAndHttp10) {
  auto r = NewReactor();
  auto [fd, port] = Listen();
  HttpServer server(*r, std::move(fd), [](const Request& req) -> Task<Response> {
    Response resp;
    resp.body = req.body;
    co_return resp;
  });
  std::string interim, final_part, http10, http10_keepalive;
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    auto s = co_await DialTcp(r, "127.0.0.1", port, std::chrono::seconds(5), nullptr);
    EXPECT_TRUE(s.ok());
    if (!s.ok()) co_return;
    co_await s->Write(
        Bytes("PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
              "Content-Length: 5\r\nConnection: close\r\n\r\n"));
    uint8_t buf[256];
    int n = co_await s->Read(std::span(buf), std::chrono::seconds(10));
    if (n > 0) interim.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
    co_await s->Write(Bytes("hello"));
    final_part = co_await ReadToEnd(*s);
    http10 = co_await Exchange(r, port, "GET /old HTTP/1.0\r\n\r\n");
    http10_keepalive = co_await Exchange(
        r, port, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
  });
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  auto resp = ParseResponse(final_part);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->body, "hello");
  auto old = ParseResponses(http10);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_TRUE(old[0].headers.HasToken("Connection", "close"));
  auto kept = ParseResponses(http10_keepalive);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_TRUE(kept[0].headers.HasToken("Connection", "keep-alive"));
  EXPECT_TRUE(kept[1].headers.HasToken("Connection", "close"));
}

TEST(HttpServerTest, IdleTimeoutClosesSilentConnections) {
  auto r = NewReactor();
  auto [fd, port] = Listen();
  HttpServerOptions options;
  options.idle_timeout = milliseconds(100);
  HttpServer server(*r, std::move(fd), Ok, options);
  std::string silent, partial;
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    silent = co_await Exchange(r, port, "");  // returns once the server closes
    partial = co_await Exchange(r, port, "GET / HTTP/1.1\r\nHo");
  });
  EXPECT_EQ(silent, "");
  EXPECT_EQ(partial, "");
}

TEST(HttpServerTest, StopDuringARequestAnswersThenCloses) {
  auto r = NewReactor();
  auto [fd, port] = Listen();
  HttpServer* srv = nullptr;
  HttpServer server(*r, std::move(fd), [&](const Request& req) -> Task<Response> {
    srv->Stop();
    co_return co_await Ok(req);
  });
  srv = &server;
  std::string out;
  Reactor* raw = r.get();
  r->Post([&] {
    server.Start();
    auto task = [](Reactor& r, uint16_t port, std::string& out) -> Task<void> {
      ConnectionScope scope(r);
      out = co_await Exchange(r, port, "GET /last HTTP/1.1\r\nHost: x\r\n\r\n");
      r.BeginDrain();
    };
    Spawn(task(*raw, port, out));
  });
  r->Run();  // returns: the keep-alive request was answered with close, the acceptor stopped
  auto resp = ParseResponse(out);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->body, "ok /last");
  EXPECT_TRUE(resp->headers.HasToken("Connection", "close"));
}

TEST(HttpServerTest, DrainClosesIdleKeepAliveConnections) {
  auto r = NewReactor();
  auto [fd, port] = Listen();
  HttpServer server(*r, std::move(fd), Ok);
  Reactor* raw = r.get();
  std::string first, after_drain;
  // A plain blocking client on its own thread keeps a kept-alive connection open.
  std::thread client([&] {
    UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto addr = SocketAddress::FromLiteral("127.0.0.1", port);
    ASSERT_EQ(::connect(c.get(), addr->sa(), addr->len()), 0);
    std::string req = "GET /k HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(c.get(), req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    char buf[4096];
    while (first.find("ok /k") == std::string::npos) {
      ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      first.append(buf, static_cast<size_t>(n));
    }
    raw->Post([raw] { raw->BeginDrain(); });
    for (;;) {
      ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      after_drain.append(buf, static_cast<size_t>(n));
    }
  });
  r->Post([&] { server.Start(); });
  r->Run();  // returns only once the server has closed the idle connection
  client.join();
  EXPECT_NE(first.find("HTTP/1.1 200 OK"), std::string::npos) << first;
  EXPECT_EQ(after_drain, "");
  EXPECT_EQ(server.connections(), 0u);
}

}  // namespace
}  // namespace tng::http
