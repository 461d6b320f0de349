// The control interface's answers (TNG's /livez and /readyz), and the listener over a real
// loopback socket with the project's HTTP client.
#include "endpoints/control/restful.h"

#include "core/connection_scope.h"
#include "core/http/client.h"
#include "core/net.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tng::control {
namespace {

using ::testing::HasSubstr;

http::Request Req(std::string method, std::string path) {
  http::Request r;
  r.method = std::move(method);
  r.target = path;
  r.parsed.path = std::move(path);
  return r;
}

TEST(RestfulControl, LivezIsOkEvenWhenNotReady) {
  Readiness readiness;
  readiness.Register("add_egress[0]: attestation evidence", "AA unreachable");
  http::Response r = AnswerControlRequest(readiness, Req("GET", "/livez"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST(RestfulControl, ReadyzFollowsReadiness) {
  Readiness readiness;
  EXPECT_EQ(AnswerControlRequest(readiness, Req("GET", "/readyz")).status, 200);
  int id = readiness.Register("add_egress[0]: attestation evidence", "AA unreachable");
  http::Response r = AnswerControlRequest(readiness, Req("GET", "/readyz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ok\nadd_egress[0]: attestation evidence: AA unreachable\n");
  readiness.Set(id, true);
  r = AnswerControlRequest(readiness, Req("GET", "/readyz?verbose"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST(RestfulControl, OtherPathsAndMethods) {
  Readiness readiness;
  EXPECT_EQ(AnswerControlRequest(readiness, Req("GET", "/")).status, 404);
  EXPECT_EQ(AnswerControlRequest(readiness, Req("GET", "/livez/x")).status, 404);
  EXPECT_EQ(AnswerControlRequest(readiness, Req("HEAD", "/livez")).status, 200);
  http::Response r = AnswerControlRequest(readiness, Req("POST", "/readyz"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow").value_or(""), "GET,HEAD");
}

TEST(RestfulControl, ServesOverTcp) {
  auto reactor = Reactor::Create(0, {.sq_entries = 64, .cpu = -1});
  ASSERT_TRUE(reactor.ok());
  Reactor& r = **reactor;
  auto fd = ListenTcp(*SocketAddress::FromLiteral("127.0.0.1", 0), {});
  ASSERT_TRUE(fd.ok());
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t port = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).port();
  Readiness readiness;
  readiness.Register("egress: evidence", "pending");
  RestfulControl control(r, std::move(*fd), readiness);
  std::vector<int> statuses;
  std::string readyz_body;
  auto body = [&]() -> Task<void> {
    ConnectionScope scope(r);
    for (const char* path : {"/livez", "/readyz", "/nope"}) {
      http::HttpRequestOptions o;
      o.url = "http://127.0.0.1:" + std::to_string(port) + path;
      auto resp = co_await http::Fetch(r, std::move(o));
      statuses.push_back(resp.ok() ? resp->status : -1);
      if (resp.ok() && std::string_view(path) == "/readyz") readyz_body = resp->body;
    }
    r.BeginDrain();
  };
  r.Post([&] {
    control.Start();
    Spawn(body());
  });
  r.Run();
  EXPECT_EQ(statuses, (std::vector<int>{200, 503, 404}));
  EXPECT_THAT(readyz_body, HasSubstr("egress: evidence: pending"));
}

}  // namespace
}  // namespace tng::control
