#include "core/http/serializer.h"

#include <random>
#include <string>

#include "core/http/parser.h"
#include "gtest/gtest.h"
#include "tests/unit/core/http/parse_harness.h"

namespace tng::http {
namespace {

TEST(SerializerTest, RequestFramingFollowsMethodAndBody) {
  Request get;
  get.target = "/status";
  get.headers.Add("Host", "example.com");
  auto wire = SerializeRequest(get);
  ASSERT_TRUE(wire.ok()) << wire.status();
  EXPECT_EQ(*wire, "GET /status HTTP/1.1\r\nHost: example.com\r\n\r\n");

  Request post;
  post.method = "POST";
  post.target = "/attestation";
  post.headers.Add("Host", "as");
  post.headers.Add("Content-Length", "999");  // replaced by the real length
  wire = SerializeRequest(post);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, "POST /attestation HTTP/1.1\r\nHost: as\r\nContent-Length: 0\r\n\r\n");
  post.body = "{\"a\":1}";
  wire = SerializeRequest(post);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, "POST /attestation HTTP/1.1\r\nHost: as\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(SerializerTest, ChunkedRequestWithTrailersParsesBack) {
  Request req;
  req.method = "PUT";
  req.target = "/upload";
  req.headers.Add("Host", "h");
  req.body = std::string(100000, 'z');
  req.chunked = true;
  req.trailers.Add("X-Digest", "abc");
  auto wire = SerializeRequest(req);
  ASSERT_TRUE(wire.ok());
  EXPECT_NE(wire->find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(wire->find("Content-Length"), std::string::npos);
  auto back = ParseRequest(*wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->body, req.body);
  EXPECT_EQ(back->trailers.Get("X-Digest"), "abc");
}

TEST(SerializerTest, ResponsesHeadAndBodilessStatuses) {
  Response r;
  r.body = "hello";
  r.headers.Add("Content-Type", "text/plain");
  auto wire = SerializeResponse(r);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
  // HEAD: the length of the body it would have had, and no body.
  wire = SerializeResponse(r, "HEAD");
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n");
  Response none;
  none.status = 204;
  wire = SerializeResponse(none);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, "HTTP/1.1 204 No Content\r\n\r\n");
  none.body = "x";
  EXPECT_FALSE(SerializeResponse(none).ok());
  Response custom;
  custom.status = 422;
  custom.reason = "Key Expired";
  wire = SerializeResponse(custom);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->substr(0, 26), "HTTP/1.1 422 Key Expired\r\n");
  Response established;
  wire = SerializeResponse(established, "CONNECT");
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, "HTTP/1.1 200 OK\r\n\r\n");
}

TEST(SerializerTest, RefusesWhatWouldSplitOrSmuggle) {
  Response r;
  r.headers.Add("X-Evil", "a\r\nSet-Cookie: b");
  auto st = SerializeResponse(r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.status().message()).find("X-Evil"), std::string::npos);
  Response name;
  name.headers.Add("Bad Name", "v");
  EXPECT_FALSE(SerializeResponse(name).ok());
  Response reason;
  reason.reason = "OK\r\nX: y";
  EXPECT_FALSE(SerializeResponse(reason).ok());
  Request method;
  method.method = "GE T";
  EXPECT_FALSE(SerializeRequest(method).ok());
  Request target;
  target.target = "/a b";
  EXPECT_FALSE(SerializeRequest(target).ok());
  Request nul;
  nul.headers.Add("X", std::string("a\0b", 3));
  EXPECT_FALSE(SerializeRequest(nul).ok());
}

TEST(SerializerTest, ChunkFraming) {
  std::string out;
  AppendChunk(std::string_view("0123456789abcdef!"), &out);
  EXPECT_EQ(out, "11\r\n0123456789abcdef!\r\n");
  out.clear();
  AppendChunk(std::string_view(), &out);
  EXPECT_EQ(out, "");  // a zero-size chunk would end the body
  AppendChunkHeader(0x1000, &out);
  EXPECT_EQ(out, "1000\r\n");
  out.clear();
  Headers t;
  t.Add("X-A", "1");
  ASSERT_TRUE(AppendLastChunk(t, &out).ok());
  EXPECT_EQ(out, "0\r\nX-A: 1\r\n\r\n");
}

TEST(SerializerTest, AsGivenAndExplicitFraming) {
  Request r;
  r.method = "POST";
  r.headers.Add("Host", "h");
  r.headers.Add("Transfer-Encoding", "chunked");
  std::string out;
  ASSERT_TRUE(AppendRequestHead(r, Framing::AsGiven(), &out).ok());
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  out.clear();
  ASSERT_TRUE(AppendRequestHead(r, Framing::ContentLength(12), &out).ok());
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n");
  out.clear();
  ASSERT_TRUE(AppendRequestHead(r, Framing::None(), &out).ok());
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: h\r\n\r\n");
}

// Random messages survive serialize → parse, fed in random pieces.
TEST(SerializerTest, RandomRoundTrips) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 200; ++i) {
    Response r;
    r.status = 200 + static_cast<int>(rng() % 300);
    if (r.status == 204 || r.status == 304) r.status = 200;
    int fields = static_cast<int>(rng() % 6);
    for (int f = 0; f < fields; ++f) {
      r.headers.Add("X-F" + std::to_string(f), std::string(rng() % 40, 'v'));
    }
    r.body.resize(rng() % 5000);
    for (char& c : r.body) c = static_cast<char>(rng());
    r.chunked = rng() % 2 == 0;
    if (r.chunked && rng() % 2 == 0) r.trailers.Add("X-Trailer", "t");
    auto wire = SerializeResponse(r);
    ASSERT_TRUE(wire.ok()) << wire.status();
    size_t piece = 1 + rng() % 300;
    testing::Outcome o = testing::DriveResponse(*wire, piece, "GET", false);
    ASSERT_TRUE(o.done) << o.error;
    EXPECT_EQ(o.consumed, wire->size());
    EXPECT_EQ(o.status, r.status);
    EXPECT_EQ(o.body, r.body);
    EXPECT_EQ(o.trailers, testing::Fields(r.trailers));
  }
}

}  // namespace
}  // namespace tng::http
