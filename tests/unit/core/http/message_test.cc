// Headers, keep-alive rules and URL / authority parsing.
#include "core/http/message.h"

#include "core/http/url.h"
#include "gtest/gtest.h"

namespace tng::http {
namespace {

TEST(HeadersTest, CaseInsensitiveOrderedWithDuplicates) {
  Headers h;
  h.Add("Accept", "a");
  h.Add("X-Dup", "1");
  h.Add("x-dup", "2");
  EXPECT_EQ(h.Get("ACCEPT"), "a");
  EXPECT_EQ(h.Count("X-DUP"), 2u);
  h.Set("X-Dup", "3");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].name, "X-Dup");
  EXPECT_EQ(h[1].value, "3");
  h.Set("New", "n");
  EXPECT_EQ(h[2].name, "New");
  EXPECT_EQ(h.Remove("accept"), 1u);
  EXPECT_EQ(h.Remove("accept"), 0u);
  EXPECT_EQ(h.size(), 2u);
}

TEST(HeadersTest, HasTokenReadsCommaLists) {
  Headers h;
  h.Add("Connection", "Upgrade , Keep-Alive");
  h.Add("Connection", "X");
  EXPECT_TRUE(h.HasToken("connection", "keep-alive"));
  EXPECT_TRUE(h.HasToken("Connection", "upgrade"));
  EXPECT_TRUE(h.HasToken("Connection", "x"));
  EXPECT_FALSE(h.HasToken("Connection", "close"));
  EXPECT_FALSE(h.HasToken("Connection", "keep"));
}

TEST(MessageTest, KeepAliveRules) {
  Request r11;
  EXPECT_TRUE(WantsKeepAlive(r11));
  r11.headers.Add("Connection", "close");
  EXPECT_FALSE(WantsKeepAlive(r11));
  Request r10;
  r10.minor_version = 0;
  EXPECT_FALSE(WantsKeepAlive(r10));
  r10.headers.Add("Connection", "keep-alive");
  EXPECT_TRUE(WantsKeepAlive(r10));
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(799), "Unknown");
  EXPECT_TRUE(ResponseHasNoBody("HEAD", 200));
  EXPECT_TRUE(ResponseHasNoBody("CONNECT", 200));
  EXPECT_FALSE(ResponseHasNoBody("CONNECT", 407));
  EXPECT_FALSE(ResponseHasNoBody("GET", 200));
}

TEST(UrlTest, ParsesHttpUrls) {
  auto u = ParseUrl("http://Example.com:8080/a/b?c=d#frag");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "Example.com");
  EXPECT_EQ(u->port, 8080);
  EXPECT_TRUE(u->explicit_port);
  EXPECT_EQ(u->path, "/a/b?c=d");
  EXPECT_EQ(u->HostHeader(), "Example.com:8080");
  auto d = ParseUrl("HTTP://10.0.0.1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->scheme, "http");
  EXPECT_EQ(d->port, 80);
  EXPECT_FALSE(d->explicit_port);
  EXPECT_EQ(d->path, "/");
  EXPECT_EQ(d->HostHeader(), "10.0.0.1");
  EXPECT_EQ(d->ToString(), "http://10.0.0.1/");
  auto q = ParseUrl("https://h?x=1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->port, 443);
  EXPECT_EQ(q->path, "/?x=1");
  auto v6 = ParseUrl("http://[::1]:9000/x");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostHeader(), "[::1]:9000");
}

TEST(UrlTest, RejectsWithReasons) {
  struct Bad {
    const char* url;
    const char* why;
  } cases[] = {
      {"example.com/x", "expected scheme://"},
      {"http://", "empty"},
      {"http://h:0/", "port out of range"},
      {"http://h:65536/", "port out of range"},
      {"http://h:8x/", "port is not a number"},
      {"http://u:p@h/", "userinfo"},
      {"http://h/a b", "character 0x20 at offset 10"},
      {"http://::1/", "IPv6 literals must be written in brackets"},
      {"http://[::1/", "missing ']'"},
      {"ftp://h/", "missing port"},
      {"1http://h/", "bad scheme"},
  };
  for (const auto& c : cases) {
    auto u = ParseUrl(c.url);
    ASSERT_FALSE(u.ok()) << c.url;
    EXPECT_NE(std::string(u.status().message()).find(c.why), std::string::npos)
        << c.url << ": " << u.status();
  }
}

TEST(UrlTest, Authorities) {
  auto a = ParseAuthority("db.internal:5432");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "db.internal");
  EXPECT_EQ(a->port, 5432);
  EXPECT_FALSE(ParseAuthority("db.internal").ok());  // CONNECT needs the port
  auto d = ParseAuthority("db.internal", 80);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 80);
  auto v6 = ParseAuthority("[fe80::1]:443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "fe80::1");
  EXPECT_EQ(FormatHostPort("fe80::1", 443), "[fe80::1]:443");
  EXPECT_EQ(FormatHostPort("h", 1), "h:1");
  EXPECT_FALSE(ParseAuthority("[fe80::1]x").ok());
  EXPECT_FALSE(ParseAuthority("h/x:1").ok());
}

}  // namespace
}  // namespace tng::http
