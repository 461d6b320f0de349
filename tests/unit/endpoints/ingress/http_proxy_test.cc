// The http_proxy ingress: request decisions and head rewriting as pure functions, then the
// handler on one reactor over loopback sockets, forwarding to an HTTP backend directly or through
// the RA-TLS tunnel to an in-process egress in front of the same backend.
#include "endpoints/ingress/http_proxy.h"

#include <sys/socket.h>

#include <functional>
#include <string>
#include <vector>

#include "core/connection_scope.h"
#include "core/http/message_reader.h"
#include "core/http/parser.h"
#include "core/net.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "endpoints/ingress/http_proxy_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng::ingress {
namespace {

using ::testing::HasSubstr;
using Match = config::EndpointFilter::Match;
constexpr Duration kGuard = std::chrono::seconds(10);  // only stops a broken test from hanging

http::Request Head(std::string_view wire) {
  auto r = http::ParseRequest(wire);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : http::Request();
}

// ---- Decisions ----

TEST(HttpProxyRequestTest, ConnectTakesItsAuthority) {
  ProxyDecision d = DecideProxyRequest(Head("CONNECT [::1]:8443 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(d.refusal);
  EXPECT_TRUE(d.request.connect);
  EXPECT_EQ(d.request.host, "::1");
  EXPECT_EQ(d.request.port, 8443);
  EXPECT_EQ(d.request.authority(), "[::1]:8443");
  EXPECT_EQ(d.request.destination().kind, Destination::Kind::kIpv6);
}

TEST(HttpProxyRequestTest, ConnectWithoutPortIsRejectedByTheParser) {
  auto r = http::ParseRequest("CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("CONNECT needs host:port"));
}

TEST(HttpProxyRequestTest, AbsoluteUriWinsOverHost) {
  ProxyDecision d =
      DecideProxyRequest(Head("GET http://Example.COM/a?b HTTP/1.1\r\nHost: other:1\r\n\r\n"));
  ASSERT_FALSE(d.refusal);
  EXPECT_FALSE(d.request.connect);
  EXPECT_EQ(d.request.host, "example.com");
  EXPECT_EQ(d.request.port, 80);
  EXPECT_EQ(d.request.destination().kind, Destination::Kind::kDomain);
}

TEST(HttpProxyRequestTest, OriginFormUsesHostWithPort80ByDefault) {
  ProxyDecision d = DecideProxyRequest(Head("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"));
  ASSERT_FALSE(d.refusal);
  EXPECT_EQ(d.request.authority(), "10.0.0.1:80");
  d = DecideProxyRequest(Head("GET / HTTP/1.1\r\nHost: svc:8080\r\n\r\n"));
  EXPECT_EQ(d.request.authority(), "svc:8080");
}

TEST(HttpProxyRequestTest, Refusals) {
  auto refused = [](std::string_view wire) {
    ProxyDecision d = DecideProxyRequest(Head(wire));
    EXPECT_TRUE(d.refusal.has_value()) << wire;
    return d.refusal.value_or(ProxyRefusal{0, ""});
  };
  ProxyRefusal r = refused("GET http://a/ HTTP/1.1\r\nHost: a\r\nX-Tng-Http-Forward: true\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.reason, "recursion is detected");
  r = refused("GET / HTTP/1.1\r\nHost: a\r\nx-tng-http-forward: 1\r\n\r\n");
  EXPECT_EQ(r.reason, "recursion is detected");
  r = refused("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.reason, HasSubstr("neither an absolute URI nor a Host header"));
  r = refused("GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(r.reason, HasSubstr("use CONNECT for https"));
  r = refused("GET / HTTP/1.1\r\nHost: a:0\r\n\r\n");
  EXPECT_THAT(r.reason, HasSubstr("invalid Host header"));
}

TEST(HttpProxyRequestTest, UpstreamHeadIsOriginFormWithoutHopByHopFields) {
  http::Request head = Head(
      "POST http://[::1]:8080/p?q=1 HTTP/1.0\r\nHost: wrong\r\nProxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic eDp5\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n"
      "Keep-Alive: timeout=5\r\nExpect: 100-continue\r\nX-Keep: 2\r\nContent-Length: 3\r\n\r\n"
      "abc");
  ProxyDecision d = DecideProxyRequest(head);
  ASSERT_FALSE(d.refusal);
  PrepareUpstreamRequest(d.request, head);
  EXPECT_EQ(head.target, "/p?q=1");
  EXPECT_EQ(head.minor_version, 1);
  EXPECT_EQ(head.headers.Get("Host"), "[::1]:8080");
  EXPECT_EQ(head.headers.Get("X-Tng-Http-Forward"), "true");
  EXPECT_EQ(head.headers.Get("X-Keep"), "2");
  for (const char* gone : {"Proxy-Connection", "Proxy-Authorization", "Connection", "X-Drop",
                           "Keep-Alive", "Expect", "Content-Length"}) {
    EXPECT_FALSE(head.headers.Has(gone)) << gone;
  }
  // Default port: no port in Host.
  head = Head("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  PrepareUpstreamRequest(DecideProxyRequest(head).request, head);
  EXPECT_EQ(head.headers.Get("Host"), "example.com");
  EXPECT_EQ(head.target, "/");
}

TEST(HttpProxyRequestTest, ClientResponseKeepsContentLengthDropsHopByHop) {
  auto r = http::ParseResponse(
      "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: x\r\nContent-Length: 2\r\n"
      "X-App: 1\r\n\r\nhi");
  ASSERT_TRUE(r.ok()) << r.status();
  PrepareClientResponse(*r);
  EXPECT_FALSE(r->headers.Has("Connection"));
  EXPECT_FALSE(r->headers.Has("Keep-Alive"));
  EXPECT_EQ(r->headers.Get("Content-Length"), "2");
  EXPECT_EQ(r->headers.Get("X-App"), "1");
}

TEST(HttpProxyRequestTest, ProxyResponsesAreCompleteMessages) {
  auto r = http::ParseResponse(ProxyResponse(502, "direct to a:1: refused"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->body, "direct to a:1: refused");
  EXPECT_EQ(r->headers.Get("Connection"), "close");
  EXPECT_THAT(std::string(*r->headers.Get("Server")), HasSubstr("tng/"));
  auto ok = http::ParseResponse(ConnectEstablished(), "CONNECT");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
}

// ---- The handler on a reactor ----

config::RaOptions NoRa() {
  config::RaOptions ra;
  ra.no_ra = true;
  return ra;
}

config::EndpointFilter PortFilter(uint16_t port) {
  config::EndpointFilter f;
  f.match = Match::kAll;
  f.port = port;
  return f;
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// What a client got back for one request.
struct Answer {
  int status = 0;
  std::string body;
  std::string error;
};

class HttpProxyIngressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::Create(0, {});
    ASSERT_TRUE(r.ok()) << r.status();
    reactor_ = std::move(*r);
    auto client = tunnel::RaTls::Create(NoRa(), crypto::TlsRole::kClient);
    auto server = tunnel::RaTls::Create(NoRa(), crypto::TlsRole::kServer);
    ASSERT_TRUE(client.ok() && server.ok());
    ra_client_ = std::move(*client);
    ra_server_ = std::move(*server);
    backend_ = MakeAcceptor(backend_port_, [this](UniqueFd fd) { Spawn(Backend(std::move(fd))); });
    egress_ = MakeAcceptor(egress_port_, [this](UniqueFd fd) { Spawn(Egress(std::move(fd))); });
    // A port nothing listens on: bound, then closed.
    MakeAcceptor(closed_port_, [](UniqueFd) {});
  }

  std::unique_ptr<Acceptor> MakeAcceptor(uint16_t& port, Acceptor::Handler handler) {
    auto fd = ListenTcp(*SocketAddress::FromLiteral("127.0.0.1", 0));
    EXPECT_TRUE(fd.ok()) << fd.status();
    SocketAddress a;
    EXPECT_EQ(getsockname(fd->get(), a.mutable_sa(), a.mutable_len()), 0);
    port = a.port();
    return std::make_unique<Acceptor>(*reactor_, std::move(*fd), std::move(handler), "test");
  }

  std::unique_ptr<HttpProxyIngress> Ingress(std::vector<config::EndpointFilter> filters) {
    config::HttpProxyOptions options;
    options.dst_filters = std::move(filters);
    auto t = MakeHttpProxyTarget("http-proxy-test", options);
    EXPECT_TRUE(t.ok()) << t.status();
    t->client_timeout = std::chrono::seconds(2);
    t->limits.max_header_bytes = 4096;
    return std::make_unique<HttpProxyIngress>(*reactor_, std::move(*t), *ra_client_,
                                              tunnel::TunnelTimeouts{});
  }

  // An HTTP/1.1 origin: answers each request on a connection with what it saw, keep-alive.
  Task<void> Backend(UniqueFd fd) {
    ConnectionScope scope(*reactor_);
    TcpStream s(*reactor_, std::move(fd), &scope);
    ++backend_connections_;
    http::MessageReader<TcpStream> in(s, http::MessageKind::kRequest);
    for (;;) {
      if (!(co_await in.ReadHead()).ok()) break;
      http::Request req = in.parser().request();
      std::string body;
      if (!(co_await in.ReadBody(&body)).ok()) break;
      std::string seen =
          req.method + " " + req.target +
          " host=" + std::string(req.headers.Get("Host").value_or("-")) +
          " fwd=" + std::string(req.headers.Get("X-Tng-Http-Forward").value_or("-")) +
          " pc=" + std::string(req.headers.Get("Proxy-Connection").value_or("-")) + " body=" + body;
      std::string wire =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(seen.size()) + "\r\n\r\n" + seen;
      if (co_await s.Write(Bytes(wire)) < 0) break;
      in.NextMessage();
    }
  }

  // An egress as the gateway runs one: RA-TLS server handshake, then a relay to the backend.
  Task<void> Egress(UniqueFd fd) {
    ConnectionScope scope(*reactor_);
    auto tls = co_await ra_server_->Accept(TcpStream(*reactor_, std::move(fd), &scope), kGuard);
    if (!tls.ok()) co_return;
    ++egress_sessions_;
    auto app = co_await DialTcp(*reactor_, "127.0.0.1", backend_port_, kGuard, &scope);
    if (app.ok()) co_await Relay(**tls, *app);
  }

  void Run(std::function<Task<void>()> body) {
    Reactor& r = *reactor_;
    r.Post([&] {
      backend_->Start();
      egress_->Start();
      Spawn(RunBody(std::move(body)));
      r.BeginDrain();
    });
    r.Run();
  }
  Task<void> RunBody(std::function<Task<void>()> body) {
    co_await body();
    backend_->Stop();
    egress_->Stop();
  }

  // A client connection whose other end `ingress` serves.
  std::unique_ptr<TcpStream> Open(HttpProxyIngress& ingress) {
    auto [c, s] = tng::testing::TcpPair();
    Spawn(ingress.Serve(std::move(s)));
    return std::make_unique<TcpStream>(*reactor_, std::move(c));
  }

  // Sends `wire` and reads one response (for `method`).
  static Task<Answer> Ask(TcpStream& c, http::MessageReader<TcpStream>& in, std::string wire,
                          std::string method = "GET") {
    Answer a;
    if (co_await c.Write(Bytes(wire), kGuard) < 0) {
      a.error = "write failed";
      co_return a;
    }
    in.set_read_timeout(kGuard);
    in.parser().SetRequestMethod(method);
    if (auto st = co_await in.ReadHead(); !st.ok()) {
      a.error = std::string(st.message());
      co_return a;
    }
    a.status = in.parser().response().status;
    if (auto st = co_await in.ReadBody(&a.body); !st.ok()) a.error = std::string(st.message());
    in.NextMessage();
    co_return a;
  }

  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<tunnel::RaTls> ra_client_, ra_server_;
  std::unique_ptr<Acceptor> backend_, egress_;
  uint16_t backend_port_ = 0, egress_port_ = 0, closed_port_ = 0;
  int backend_connections_ = 0;
  int egress_sessions_ = 0;
};

TEST_F(HttpProxyIngressTest, KeepAliveRequestsFollowTheirDestinations) {
  auto ingress = Ingress({PortFilter(egress_port_)});
  std::vector<Answer> answers;
  Run([&]() -> Task<void> {
    auto c = Open(*ingress);
    http::MessageReader<TcpStream> in(*c, http::MessageKind::kResponse);
    const std::string direct = "127.0.0.1:" + std::to_string(backend_port_);
    const std::string tunnel = "127.0.0.1:" + std::to_string(egress_port_);
    // Direct, direct again (same upstream), through the tunnel, back to direct.
    answers.push_back(co_await Ask(*c, in,
                                   "GET http://" + direct + "/one HTTP/1.1\r\nHost: " + direct +
                                       "\r\nProxy-Connection: keep-alive\r\n\r\n"));
    answers.push_back(co_await Ask(
        *c, in,
        "POST http://" + direct + "/two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
    answers.push_back(co_await Ask(*c, in,
                                   "PUT http://" + tunnel +
                                       "/three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                       "chunked\r\n\r\n2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n"));
    answers.push_back(co_await Ask(*c, in, "GET /four HTTP/1.1\r\nHost: " + direct + "\r\n\r\n"));
  });
  ASSERT_EQ(answers.size(), 4u);
  for (const Answer& a : answers) EXPECT_EQ(a.status, 200) << a.error << a.body;
  const std::string direct = "127.0.0.1:" + std::to_string(backend_port_);
  EXPECT_EQ(answers[0].body, "GET /one host=" + direct + " fwd=true pc=- body=");
  EXPECT_EQ(answers[1].body, "POST /two host=" + direct + " fwd=true pc=- body=abc");
  EXPECT_EQ(answers[2].body, "PUT /three host=127.0.0.1:" + std::to_string(egress_port_) +
                                 " fwd=true pc=- body=xyz");
  EXPECT_EQ(answers[3].body, "GET /four host=" + direct + " fwd=true pc=- body=");
  EXPECT_EQ(egress_sessions_, 1);
  // One backend connection for the first two, one from the egress, one after the tunnel.
  EXPECT_EQ(backend_connections_, 3);
}

TEST_F(HttpProxyIngressTest, ConnectThroughTheTunnel) {
  auto ingress = Ingress({PortFilter(egress_port_)});
  Answer connect, inner;
  Run([&]() -> Task<void> {
    auto c = Open(*ingress);
    http::MessageReader<TcpStream> in(*c, http::MessageKind::kResponse);
    const std::string tunnel = "127.0.0.1:" + std::to_string(egress_port_);
    connect = co_await Ask(
        *c, in, "CONNECT " + tunnel + " HTTP/1.1\r\nHost: " + tunnel + "\r\n\r\n", "CONNECT");
    inner = co_await Ask(*c, in, "GET /in HTTP/1.1\r\nHost: app\r\n\r\n");
  });
  EXPECT_EQ(connect.status, 200) << connect.error;
  EXPECT_EQ(inner.status, 200) << inner.error;
  // Bytes after CONNECT are the application's own: nothing is added.
  EXPECT_EQ(inner.body, "GET /in host=app fwd=- pc=- body=");
  EXPECT_EQ(egress_sessions_, 1);
}

TEST_F(HttpProxyIngressTest, ErrorsAreAnsweredAndNamed) {
  auto ingress = Ingress({});
  std::vector<Answer> answers;
  Run([&]() -> Task<void> {
    const std::string closed = "127.0.0.1:" + std::to_string(closed_port_);
    const std::vector<std::string> requests = {
        "garbage\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Tng-Http-Forward: true\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(5000, 'x') + "\r\n\r\n",
        "CONNECT " + closed + " HTTP/1.1\r\nHost: " + closed + "\r\n\r\n",
        "GET http://" + closed + "/ HTTP/1.1\r\nHost: " + closed + "\r\n\r\n",
        "CONNECT nohost HTTP/1.1\r\nHost: nohost\r\n\r\n",
    };
    for (const std::string& wire : requests) {
      auto c = Open(*ingress);
      http::MessageReader<TcpStream> in(*c, http::MessageKind::kResponse);
      answers.push_back(co_await Ask(*c, in, wire));
    }
  });
  ASSERT_EQ(answers.size(), 6u);
  EXPECT_EQ(answers[0].status, 400);
  EXPECT_THAT(answers[0].body, HasSubstr("Bad Request"));
  EXPECT_EQ(answers[1].status, 400);
  EXPECT_EQ(answers[1].body, "recursion is detected");
  EXPECT_EQ(answers[2].status, 431);
  EXPECT_EQ(answers[3].status, 502);
  EXPECT_THAT(answers[3].body, HasSubstr("tunnel to 127.0.0.1:"));
  EXPECT_THAT(answers[3].body, HasSubstr("refused"));
  EXPECT_EQ(answers[4].status, 502);
  EXPECT_EQ(answers[5].status, 400);
  EXPECT_THAT(answers[5].body, HasSubstr("CONNECT needs host:port"));
}

}  // namespace
}  // namespace tng::ingress
