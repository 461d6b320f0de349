// The HTTP client and server against each other on loopback, inside one reactor.
#include <sys/socket.h>

#include <random>
#include <string>

#include "core/connection_scope.h"
#include "core/http/client.h"
#include "core/http/parser.h"
#include "core/http/server.h"
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

struct Listener {
  UniqueFd fd;
  uint16_t port = 0;
};

Listener Listen() {
  auto addr = SocketAddress::FromLiteral("127.0.0.1", 0);
  EXPECT_TRUE(addr.ok());
  auto fd = ListenTcp(*addr);
  EXPECT_TRUE(fd.ok()) << fd.status();
  SocketAddress bound;
  EXPECT_EQ(getsockname(fd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
  return {std::move(*fd), bound.port()};
}

std::string UrlFor(uint16_t port, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// Serves with `handler` while `body` runs as the only other work of the reactor; the reactor
// drains (which stops the server) when the body is done.
template <typename Body>
void RunWithServer(Reactor& r, HttpServer& server, Body body) {
  auto task = [](Reactor& r, Body body) -> Task<void> {
    ConnectionScope scope(r);  // keeps Run() going until the body is done
    co_await body(r);
    r.BeginDrain();
  };
  r.Post([&r, &server, body, task] {
    server.Start();
    Spawn(task(r, body));
  });
  r.Run();
}

// An echo-ish handler: reports what arrived.
Task<Response> Describe(const Request& req) {
  Response resp;
  resp.headers.Add("Content-Type", "text/plain");
  resp.body = req.method + " " + req.target + " " + std::to_string(req.body.size()) + " " +
              std::string(req.headers.Get("X-Tag").value_or("-"));
  co_return resp;
}

TEST(HttpClientServerTest, GetAndPost) {
  auto r = NewReactor();
  Listener l = Listen();
  HttpServer server(*r, std::move(l.fd), Describe);
  absl::StatusOr<Response> get = absl::UnknownError("not run"), post = get;
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    HttpRequestOptions o;
    o.url = UrlFor(l.port, "/status?x=1");
    o.headers.Add("X-Tag", "t1");
    get = co_await Fetch(r, std::move(o));
    HttpRequestOptions p;
    p.method = "POST";
    p.url = UrlFor(l.port, "/attestation");
    p.body = std::string(1000, 'b');
    post = co_await Fetch(r, std::move(p));
  });
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "GET /status?x=1 0 t1");
  EXPECT_EQ(get->headers.Get("content-type"), "text/plain");
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->body, "POST /attestation 1000 -");
  EXPECT_EQ(server.requests_served(), 2u);
}

TEST(HttpClientServerTest, ChunkedResponseWithTrailers) {
  auto r = NewReactor();
  Listener l = Listen();
  HttpServer server(*r, std::move(l.fd), [](const Request&) -> Task<Response> {
    Response resp;
    resp.chunked = true;
    resp.body = std::string(200 * 1024, 'c');  // several chunks
    resp.trailers.Add("X-Count", "204800");
    co_return resp;
  });
  absl::StatusOr<Response> got = absl::UnknownError("not run");
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    HttpRequestOptions o;
    o.url = UrlFor(l.port, "/metrics");
    got = co_await Fetch(r, std::move(o));
  });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->chunked);
  EXPECT_EQ(got->body, std::string(200 * 1024, 'c'));
  EXPECT_EQ(got->trailers.Get("X-Count"), "204800");
}

TEST(HttpClientServerTest, KeepAliveReusesOneConnection) {
  auto r = NewReactor();
  Listener l = Listen();
  HttpServer* srv = nullptr;
  std::vector<size_t> connections_seen;
  HttpServer server(*r, std::move(l.fd), [&](const Request& req) -> Task<Response> {
    connections_seen.push_back(srv->connections());
    co_return co_await Describe(req);
  });
  srv = &server;
  std::vector<std::string> bodies;
  bool reusable_after_each = true;
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    auto stream = co_await DialTcp(r, "127.0.0.1", l.port, milliseconds(5000), nullptr);
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    HttpClientConnection<TcpStream> conn(r, *stream, "test server");
    for (int i = 0; i < 3; ++i) {
      Request req;
      req.method = i == 1 ? "POST" : "GET";
      req.target = "/n" + std::to_string(i);
      req.headers.Add("Host", "test");
      req.body = i == 1 ? "xyz" : "";
      auto resp = co_await conn.RoundTrip(req, {});
      EXPECT_TRUE(resp.ok()) << resp.status();
      if (resp.ok()) bodies.push_back(resp->body);
      reusable_after_each = reusable_after_each && conn.reusable();
    }
  });
  EXPECT_EQ(bodies, (std::vector<std::string>{"GET /n0 0 -", "POST /n1 3 -", "GET /n2 0 -"}));
  EXPECT_TRUE(reusable_after_each);
  EXPECT_EQ(connections_seen, (std::vector<size_t>{1, 1, 1}));
}

TEST(HttpClientServerTest, TimeoutAgainstSilentServer) {
  auto r = NewReactor();
  // A listening socket nobody accepts from: the kernel completes the handshake, then silence.
  Listener l = Listen();
  absl::StatusOr<Response> got = absl::UnknownError("not run");
  Reactor* raw = r.get();
  r->Post([&] {
    auto task = [](Reactor& r, uint16_t port, absl::StatusOr<Response>& out) -> Task<void> {
      ConnectionScope scope(r);
      HttpRequestOptions o;
      o.url = UrlFor(port, "/never");
      o.timeout = milliseconds(200);
      out = co_await Fetch(r, std::move(o));
      r.BeginDrain();
    };
    Spawn(task(*raw, l.port, got));
  });
  r->Run();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  std::string msg(got.status().message());
  EXPECT_NE(msg.find("GET " + UrlFor(l.port, "/never") + ": timed out after"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("waiting for the response headers from 127.0.0.1:"), std::string::npos) << msg;
}

TEST(HttpClientServerTest, ConnectionRefusedNamesTheAddress) {
  auto r = NewReactor();
  uint16_t port;
  {
    Listener l = Listen();  // bound, then closed: nothing listens there
    port = l.port;
  }
  absl::StatusOr<Response> refused = absl::UnknownError("not run");
  absl::StatusOr<Response> https = refused;
  Reactor* raw = r.get();
  r->Post([&] {
    auto task = [](Reactor& r, uint16_t port, absl::StatusOr<Response>& refused,
                   absl::StatusOr<Response>& https) -> Task<void> {
      ConnectionScope scope(r);
      HttpRequestOptions o;
      o.url = UrlFor(port, "/");
      refused = co_await Fetch(r, std::move(o));
      HttpRequestOptions t;
      t.url = "https://127.0.0.1/";
      https = co_await Fetch(r, std::move(t));
      r.BeginDrain();
    };
    Spawn(task(*raw, port, refused, https));
  });
  r->Run();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  std::string msg(refused.status().message());
  EXPECT_NE(msg.find("connect to 127.0.0.1:" + std::to_string(port) + " failed"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Connection refused"), std::string::npos) << msg;
  ASSERT_FALSE(https.ok());
  EXPECT_EQ(https.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(std::string(https.status().message()).find("https://"), std::string::npos);
}

// 8 MiB up as one Content-Length body, 8 MiB back chunked and consumed piece by piece.
TEST(HttpClientServerTest, LargeBodiesStream) {
  constexpr size_t kSize = 8 << 20;
  std::string payload(kSize, '\0');
  std::mt19937 rng(7);
  for (char& c : payload) c = static_cast<char>(rng());
  auto r = NewReactor();
  Listener l = Listen();
  bool server_saw_payload = false;
  HttpServer server(*r, std::move(l.fd), [&](const Request& req) -> Task<Response> {
    server_saw_payload = req.body == payload;
    Response resp;
    resp.chunked = true;
    resp.body = req.body;
    co_return resp;
  });
  size_t parts = 0;
  std::string received;
  absl::StatusOr<Response> got = absl::UnknownError("not run");
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    HttpRequestOptions o;
    o.method = "PUT";
    o.url = UrlFor(l.port, "/blob");
    o.body = payload;
    o.max_body = kSize;
    o.on_body = [&](std::span<const uint8_t> part) {
      ++parts;
      received.append(reinterpret_cast<const char*>(part.data()), part.size());
      return absl::OkStatus();
    };
    got = co_await Fetch(r, std::move(o));
  });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(server_saw_payload);
  EXPECT_TRUE(got->body.empty());  // went to on_body
  EXPECT_GT(parts, 1u);
  EXPECT_TRUE(received == payload);
}

TEST(HttpClientServerTest, ResponseLargerThanMaxBodyIsRefused) {
  auto r = NewReactor();
  Listener l = Listen();
  HttpServer server(*r, std::move(l.fd), [](const Request&) -> Task<Response> {
    Response resp;
    resp.body = std::string(5000, 'x');
    co_return resp;
  });
  absl::StatusOr<Response> got = absl::UnknownError("not run");
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    HttpRequestOptions o;
    o.url = UrlFor(l.port, "/");
    o.max_body = 1000;
    got = co_await Fetch(r, std::move(o));
  });
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted) << got.status();
  EXPECT_NE(std::string(got.status().message()).find("exceeds the limit of 1000 bytes"),
            std::string::npos)
      << got.status();
}

TEST(HttpClientServerTest, HeadGetsLengthWithoutBody) {
  auto r = NewReactor();
  Listener l = Listen();
  HttpServer server(*r, std::move(l.fd), Describe);
  absl::StatusOr<Response> got = absl::UnknownError("not run");
  RunWithServer(*r, server, [&](Reactor& r) -> Task<void> {
    HttpRequestOptions o;
    o.method = "HEAD";
    o.url = UrlFor(l.port, "/h");
    got = co_await Fetch(r, std::move(o));
  });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->body, "");
  EXPECT_EQ(got->headers.Get("Content-Length"), "11");  // "HEAD /h 0 -"
}

}  // namespace
}  // namespace tng::http
