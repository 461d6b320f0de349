// HTTP camouflage: path rewrites as the seed manual defines them, configuration errors, and the
// egress's judgement of what arrives (camouflaged, allowed plain, refused) over real sockets.
#include "endpoints/tunnel/http_camouflage.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "core/connection_scope.h"
#include "core/reactor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng::tunnel {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::shared_ptr<const HttpEncap> SeedEncap() {
  // 001_*.txt's example, in order, plus a later rule that must never win over it.
  auto encap = HttpEncap::Create(
      {{"^/api/predict/([^/]+)([/]?.*)$", "/api/predict/\\1"}, {"^/api/(.*)$", "/other/\\1"}});
  EXPECT_TRUE(encap.ok()) << encap.status();
  return *encap;
}

TEST(HttpCamouflageTest, PathRewritesFollowTheManual) {
  auto encap = SeedEncap();
  EXPECT_EQ(encap->OuterPath("/api/predict/m1/foo/bar"), "/api/predict/m1");
  EXPECT_EQ(encap->OuterPath("/api/predict/m1"), "/api/predict/m1");
  // The query never reaches the outer path (nor does it decide the match).
  EXPECT_EQ(encap->OuterPath("/api/predict/m1/x?type=1&case=1"), "/api/predict/m1");
  // First match only: the second rule applies where the first does not.
  EXPECT_EQ(encap->OuterPath("/api/health"), "/other/health");
  // No rule matches the whole path: "/".
  EXPECT_EQ(encap->OuterPath("/index.html"), "/");
  EXPECT_EQ(encap->OuterPath("/"), "/");
  auto none = HttpEncap::Create({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->OuterPath("/api/predict/m1/x"), "/");
}

TEST(HttpCamouflageTest, BadRewritesNameTheRuleAndWhy) {
  auto bad_regex = HttpEncap::Create({{"^/ok$", "/"}, {"^/api/(unclosed$", "/x"}});
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_THAT(std::string(bad_regex.status().message()),
              StartsWith("path_rewrites[1].match_regex: not a valid RE2 regular expression"));
  auto bad_group = HttpEncap::Create({{"^/api/([^/]+)$", "/api/\\2"}});
  ASSERT_FALSE(bad_group.ok());
  EXPECT_THAT(std::string(bad_group.status().message()),
              StartsWith("path_rewrites[0].substitution: "));
  auto bad_allow = HttpDecap::Create({"/ok", "(("});
  ASSERT_FALSE(bad_allow.ok());
  EXPECT_THAT(std::string(bad_allow.status().message()),
              StartsWith("allow_non_tng_traffic_regexes[1]: not a valid RE2"));
}

// Sends `request` to a Decapsulate running on a reactor; returns its verdict and what the peer
// read back until the egress closed (for a tunnel: the 200 head, the chunk written into the TLS
// side, and the last chunk).
struct Verdict {
  Decapsulated::Kind kind = Decapsulated::Kind::kRefused;
  std::string status;
  std::string early;
  std::string answer;
  std::string from_leg;  // kTunnel: what the pumps delivered to the TLS side
};

Verdict Judge(const std::string& request, const HttpDecap& decap) {
  Verdict v;
  auto reactor = Reactor::Create(0, {});
  EXPECT_TRUE(reactor.ok());
  Reactor& r = **reactor;
  auto [peer, ours] = tng::testing::TcpPair();
  std::thread client([&, fd = peer.get()] {
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    // Until the egress closes: a tunnel's answer ends with the last chunk once the TLS side has
    // closed, and the reactor's drain must wait for that (the pumps outlive the connection).
    const timeval limit{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      v.answer.append(buf, static_cast<size_t>(n));
    }
    ::shutdown(fd, SHUT_RDWR);
  });
  auto serve = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    Decapsulated d =
        co_await Decapsulate(TcpStream(r, std::move(fd)), decap, std::chrono::seconds(5), &scope);
    v.kind = d.kind;
    v.status = std::string(d.status.message());
    v.early = d.early;
    if (d.kind == Decapsulated::Kind::kTunnel) {
      uint8_t buf[64];
      // The whole body: one write per chunk, until the last chunk ends it (EOF).
      for (;;) {
        int n = co_await d.stream->Read(std::span(buf));
        if (n <= 0) break;
        v.from_leg.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
      }
      static constexpr std::string_view kHello = "hello";
      co_await d.stream->Write(
          std::span(reinterpret_cast<const uint8_t*>(kHello.data()), kHello.size()));
      // Closing the TLS side ends the response: the pumps send the last chunk, after the
      // connection (and its scope) is gone.
    }
  };
  r.Post([&, fd = ours.release()] {
    Spawn(serve(UniqueFd(fd)));
    r.BeginDrain();
  });
  r.Run();
  client.join();
  return v;
}

TEST(HttpCamouflageTest, EgressTakesACamouflagedPostAndUnchunksItsBody) {
  auto decap = HttpDecap::Create({});
  ASSERT_TRUE(decap.ok());
  Verdict v = Judge(
      "POST /api/predict/m1 HTTP/1.1\r\nHost: example.com\r\ntng-metadata: {}\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
      **decap);
  EXPECT_EQ(v.kind, Decapsulated::Kind::kTunnel) << v.status;
  EXPECT_EQ(v.from_leg, "abcdefg");
  EXPECT_THAT(v.answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(v.answer, EndsWith("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
}

TEST(HttpCamouflageTest, EgressRefusesWhatIsNotCamouflagedAndSaysWhy) {
  auto decap = HttpDecap::Create({"/healthz"});
  ASSERT_TRUE(decap.ok());
  // A GET, and a POST without tng-metadata: 400 naming the camouflage.
  for (const char* request : {"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
                              "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"}) {
    Verdict v = Judge(request, **decap);
    EXPECT_EQ(v.kind, Decapsulated::Kind::kRefused) << request;
    EXPECT_THAT(v.answer, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
    EXPECT_THAT(v.answer, HasSubstr("TNG-camouflaged requests only"));
    EXPECT_THAT(v.status, HasSubstr("TNG-camouflaged requests only"));
  }
  // Not HTTP at all: the parser's status and reason.
  Verdict garbage = Judge("\x16\x03\x01 not http\r\n\r\n", **decap);
  EXPECT_EQ(garbage.kind, Decapsulated::Kind::kRefused);
  EXPECT_THAT(garbage.answer, StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(garbage.status, StartsWith("not an HTTP request: "));
  // A camouflage POST without a body cannot carry a tunnel.
  Verdict no_body = Judge("POST / HTTP/1.1\r\nHost: a\r\ntng-metadata: {}\r\n\r\n", **decap);
  EXPECT_EQ(no_body.kind, Decapsulated::Kind::kRefused);
  EXPECT_THAT(no_body.status, HasSubstr("streamed body"));
}

TEST(HttpCamouflageTest, AllowedPlainRequestsComeBackWithTheirBytes) {
  auto decap = HttpDecap::Create({"/healthz"});
  ASSERT_TRUE(decap.ok());
  const std::string request = "GET /healthz?full=1 HTTP/1.1\r\nHost: a\r\n\r\n";
  Verdict v = Judge(request, **decap);
  EXPECT_EQ(v.kind, Decapsulated::Kind::kPlain);
  EXPECT_EQ(v.early, request);
  EXPECT_EQ(v.answer, "");
}

}  // namespace
}  // namespace tng::tunnel
