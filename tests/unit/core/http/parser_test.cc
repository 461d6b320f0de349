#include "core/http/parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/core/http/parse_harness.h"

namespace tng::http {
namespace {

using testing::DriveRequest;
using testing::DriveResponse;
using testing::Outcome;

struct Case {
  const char* name;
  std::string wire;
  int status;         // 0: valid
  const char* error;  // substring of the error (invalid cases)
  std::string body = "";
};

std::string Repeat(char c, size_t n) { return std::string(n, c); }

// Requests, valid and not. Every case is also fed byte by byte and must come out the same.
std::vector<Case> RequestCases() {
  const std::string h = "Host: example.com\r\n";
  std::vector<Case> cases = {
      // Valid.
      {"simple_get", "GET / HTTP/1.1\r\n" + h + "\r\n", 0, ""},
      {"http10_without_host", "GET /x HTTP/1.0\r\n\r\n", 0, ""},
      {"content_length_body", "POST /p HTTP/1.1\r\n" + h + "Content-Length: 5\r\n\r\nhello", 0, "",
       "hello"},
      {"same_content_length_twice",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 0, "",
       "abc"},
      {"content_length_list_of_equal_values",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\n\r\nabc", 0, "", "abc"},
      {"chunked",
       "POST /p HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n" +
           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
       0, "", "hello world"},
      {"chunked_mixed_case_coding",
       "POST /p HTTP/1.1\r\n" + h + "transfer-encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0,
       "", "abc"},
      {"chunked_extensions_and_trailers",
       "POST /p HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n" +
           "A;name=value\r\n0123456789\r\n" + "3 ; flag ; q=\"quoted \\\" ;value\"\r\nabc\r\n" +
           "0;last\r\nX-Checksum: 42\r\nX-More: yes\r\n\r\n",
       0, "", "0123456789abc"},
      {"leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n", 0, ""},
      {"absolute_form", "GET http://example.com:8080/a?b=c HTTP/1.1\r\n" + h + "\r\n", 0, ""},
      {"absolute_form_ipv6", "GET http://[::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n", 0, ""},
      {"authority_form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0,
       ""},
      {"asterisk_form", "OPTIONS * HTTP/1.1\r\n" + h + "\r\n", 0, ""},
      {"empty_header_value_and_ows",
       "GET / HTTP/1.1\r\n" + h + "X-Empty:\r\nX-Ows: \t v \t\r\n\r\n", 0, ""},
      {"obs_text_in_value", "GET / HTTP/1.1\r\n" + h + "X-Latin: caf\xe9\r\n\r\n", 0, ""},

      // Request smuggling patterns.
      {"content_length_and_transfer_encoding",
       "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "both Transfer-Encoding and Content-Length"},
      {"transfer_encoding_and_content_length",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
       "both Transfer-Encoding and Content-Length"},
      {"differing_content_lengths",
       "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
       "conflicting Content-Length values 5 and 6"},
      {"differing_content_length_list", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5, 6\r\n\r\n",
       400, "conflicting Content-Length values"},
      {"obs_fold", "GET / HTTP/1.1\r\n" + h + "X-A: one\r\n two\r\n\r\n", 400,
       "header line 3: obsolete line folding"},
      {"bare_cr_in_value", "GET / HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n", 400,
       "header line 2: bare CR in field value"},
      {"bare_cr_in_name", "GET / HTTP/1.1\r\n" + h + "X\r-A: a\r\n\r\n", 400,
       "bare CR in field name"},
      {"bare_cr_in_request_line", "GET /a\rb HTTP/1.1\r\n" + h + "\r\n", 400,
       "request line: bare CR in request target"},
      {"bare_lf_line_end", "GET / HTTP/1.1\n" + h + "\r\n", 400,
       "request line: line ends with a bare LF"},
      {"bare_lf_header_end", "GET / HTTP/1.1\r\n" + h + "X-A: 1\n\r\n", 400,
       "header line 2: line ends with a bare LF"},
      {"space_before_colon", "GET / HTTP/1.1\r\nHost : example.com\r\n\r\n", 400,
       "header line 1: whitespace between field name and ':'"},
      {"invalid_name_char", "GET / HTTP/1.1\r\n" + h + "X(A): 1\r\n\r\n", 400,
       "invalid character '(' in field name"},
      {"nul_in_value",
       std::string("GET / HTTP/1.1\r\n") + h + "X-A: a" + std::string(1, '\0') + "b\r\n\r\n", 400,
       "invalid character 0x00 in field value"},
      {"del_in_value", "GET / HTTP/1.1\r\n" + h + "X-A: a\x7f\r\n\r\n", 400,
       "invalid character 0x7f in field value"},
      {"invalid_method_char", "GE(T / HTTP/1.1\r\n" + h + "\r\n", 400,
       "request line: invalid character '(' in method"},
      {"double_space", "GET  / HTTP/1.1\r\n" + h + "\r\n", 400, "more than one space"},
      {"trailing_space", "GET / HTTP/1.1 \r\n" + h + "\r\n", 400,
       "whitespace after the HTTP version"},
      {"tab_separator", "GET\t/ HTTP/1.1\r\n" + h + "\r\n", 400,
       "invalid character 0x09 in method"},
      {"transfer_encoding_gzip", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", 501,
       "unsupported transfer coding 'gzip'"},
      {"transfer_encoding_gzip_chunked",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501,
       "unsupported transfer coding 'gzip'"},
      {"transfer_encoding_chunked_not_last",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, identity\r\n\r\n", 400,
       "chunked not last"},
      {"transfer_encoding_chunked_twice",
       "POST / HTTP/1.1\r\n" + h +
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       400, "chunked twice"},
      {"transfer_encoding_empty", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: \r\n\r\n", 400,
       "empty Transfer-Encoding"},
      {"transfer_encoding_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "Transfer-Encoding in an HTTP/1.0 request"},
      {"transfer_encoding_with_parameter",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked;x=1\r\n\r\n", 501,
       "unsupported transfer coding"},
      {"negative_content_length", "POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", 400,
       "invalid Content-Length '-1'"},
      {"plus_content_length", "POST / HTTP/1.1\r\n" + h + "Content-Length: +5\r\n\r\n", 400,
       "invalid Content-Length"},
      {"hex_content_length", "POST / HTTP/1.1\r\n" + h + "Content-Length: 0x10\r\n\r\n", 400,
       "invalid Content-Length"},
      {"empty_content_length", "POST / HTTP/1.1\r\n" + h + "Content-Length:\r\n\r\n", 400,
       "invalid Content-Length"},
      {"huge_content_length",
       "POST / HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999\r\n\r\n", 413,
       "exceeds the limit"},

      // Other malformed requests.
      {"missing_colon", "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nNoColonXY\r\n\r\n",
       400, "header line 3: missing ':' at offset 57"},
      {"empty_field_name", "GET / HTTP/1.1\r\n" + h + ": v\r\n\r\n", 400, "empty field name"},
      {"missing_host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "missing Host header"},
      {"two_hosts", "GET / HTTP/1.1\r\n" + h + h + "\r\n", 400,
       "header line 2 (Host): more than one Host"},
      {"http2_version", "GET / HTTP/2.0\r\n" + h + "\r\n", 505,
       "unsupported HTTP version 'HTTP/2.0'"},
      {"lowercase_version", "GET / http/1.1\r\n" + h + "\r\n", 400, "invalid HTTP version"},
      {"missing_version", "GET /\r\n" + h + "\r\n", 400, "missing HTTP version"},
      {"connect_without_port", "CONNECT example.com HTTP/1.1\r\n" + h + "\r\n", 400,
       "CONNECT needs host:port"},
      {"connect_with_path", "CONNECT example.com:443/x HTTP/1.1\r\n" + h + "\r\n", 400,
       "CONNECT needs host:port"},
      {"asterisk_with_get", "GET * HTTP/1.1\r\n" + h + "\r\n", 400, "OPTIONS only"},
      {"relative_target", "GET example.com HTTP/1.1\r\n" + h + "\r\n", 400,
       "invalid request target"},
      {"userinfo_in_target", "GET http://user@example.com/ HTTP/1.1\r\n" + h + "\r\n", 400,
       "userinfo"},
      {"non_ascii_target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + h + "\r\n", 400,
       "invalid character 0xc3 in request target"},
      {"too_many_empty_lines", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", 400,
       "too many empty lines"},

      // Chunked framing errors.
      {"chunk_size_not_hex", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
       400, "chunk size line: invalid character 'z' in chunk size"},
      {"chunk_size_overflow",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n" + Repeat('f', 17) + "\r\n",
       400, "chunk size too large"},
      {"chunk_data_without_crlf",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400,
       "chunk data not followed by CRLF (found 'd')"},
      {"chunk_bad_extension",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n", 400,
       "chunk extension name"},
      {"chunk_unterminated_quote",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3;a=\"x\r\nabc\r\n", 400,
       "unterminated quoted chunk extension value"},
      {"chunk_line_bare_lf",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n", 400,
       "chunk size line: line ends with a bare LF"},
      {"bad_trailer",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T v\r\n\r\n", 400,
       "trailer line 1: whitespace between field name and ':'"},
  };
  return cases;
}

TEST(ParserTest, RequestTable) {
  for (const Case& c : RequestCases()) {
    SCOPED_TRACE(c.name);
    Outcome whole = DriveRequest(c.wire, 0);
    if (c.status == 0) {
      EXPECT_EQ(whole.error, "");
      EXPECT_TRUE(whole.done);
      EXPECT_EQ(whole.consumed, c.wire.size());
      EXPECT_EQ(whole.body, c.body);
      EXPECT_TRUE(whole.bodies_point_into_input);
    } else {
      EXPECT_EQ(whole.http_status, c.status) << whole.error;
      EXPECT_NE(whole.error.find(c.error), std::string::npos) << whole.error;
      EXPECT_NE(whole.error.find(" at offset "), std::string::npos) << whole.error;
      EXPECT_FALSE(whole.done);
    }
    // Byte-at-a-time and odd-sized pieces report exactly the same.
    for (size_t piece : {1, 2, 3, 7}) {
      SCOPED_TRACE(piece);
      Outcome split = DriveRequest(c.wire, piece);
      EXPECT_EQ(split, whole) << "whole: " << whole.error << " / split: " << split.error;
      EXPECT_TRUE(split.bodies_point_into_input);
    }
  }
}

TEST(ParserTest, MissingColonNamesLineAndOffset) {
  Outcome o =
      DriveRequest("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nNoColonXY\r\n\r\n", 0);
  EXPECT_EQ(o.error, "header line 3: missing ':' at offset 57");
  EXPECT_EQ(o.error_offset, 57u);
  EXPECT_EQ(o.http_status, 400);
}

TEST(ParserTest, HeadersKeepOrderDuplicatesAndCase) {
  auto req =
      ParseRequest("GET /a?b HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nx-other: o\r\nX-DUP: 2\r\n\r\n");
  ASSERT_TRUE(req.ok()) << req.status();
  const Headers& h = req->headers;
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[1].name, "X-Dup");
  EXPECT_EQ(h[3].name, "X-DUP");
  EXPECT_EQ(h.Get("x-dup"), "1");
  EXPECT_EQ(h.GetAll("X-DUP"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_EQ(h.Get("X-OTHER"), "o");
  EXPECT_FALSE(h.Get("absent").has_value());
  EXPECT_EQ(req->parsed.form, TargetForm::kOrigin);
  EXPECT_EQ(req->parsed.path, "/a?b");
}

TEST(ParserTest, TargetForms) {
  auto abs = ParseRequest("GET http://Example.com:8080/a?b=c HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(abs.ok()) << abs.status();
  EXPECT_EQ(abs->parsed.form, TargetForm::kAbsolute);
  EXPECT_EQ(abs->parsed.scheme, "http");
  EXPECT_EQ(abs->parsed.host, "Example.com");
  EXPECT_EQ(abs->parsed.port, 8080);
  EXPECT_EQ(abs->parsed.path, "/a?b=c");
  auto noport = ParseRequest("GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(noport.ok()) << noport.status();
  EXPECT_EQ(noport->parsed.port, 80);
  EXPECT_EQ(noport->parsed.path, "/");
  auto conn = ParseRequest("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->parsed.form, TargetForm::kAuthority);
  EXPECT_EQ(conn->parsed.host, "2001:db8::1");
  EXPECT_EQ(conn->parsed.port, 443);
  auto star = ParseRequest("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(star.ok()) << star.status();
  EXPECT_EQ(star->parsed.form, TargetForm::kAsterisk);
}

TEST(ParserTest, ChunkedTrailersAndFlags) {
  auto req = ParseRequest(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=\"a b\"\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Checksum: 99\r\nX-Other: z\r\n\r\n");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->body, "Wikipedia");
  EXPECT_TRUE(req->chunked);
  ASSERT_EQ(req->trailers.size(), 2u);
  EXPECT_EQ(req->trailers.Get("x-checksum"), "99");
  EXPECT_FALSE(req->headers.Has("X-Checksum"));
}

TEST(ParserTest, EventsConsumeExactlyAndBodiesAreSpansIntoInput) {
  const std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
  const std::string wire = head + "0123456789" + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  Parser p(MessageKind::kRequest);
  std::string_view in = wire;
  auto r = p.Feed(in);
  ASSERT_EQ(r.event, Parser::Event::kHeadersDone);
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_EQ(p.body_kind(), BodyKind::kContentLength);
  EXPECT_EQ(p.content_length(), 10u);
  in.remove_prefix(r.consumed);
  r = p.Feed(in);
  ASSERT_EQ(r.event, Parser::Event::kBody);
  EXPECT_EQ(r.consumed, 10u);
  EXPECT_EQ(reinterpret_cast<const char*>(r.body.data()), in.data());  // no copy
  in.remove_prefix(r.consumed);
  r = p.Feed(in);
  ASSERT_EQ(r.event, Parser::Event::kMessageDone);
  EXPECT_EQ(r.consumed, 0u);
  // Pipelined: the next request starts right there.
  p.Reset();
  r = p.Feed(in);
  ASSERT_EQ(r.event, Parser::Event::kHeadersDone);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(p.request().target, "/next");
  EXPECT_EQ(p.Feed(std::string_view()).event, Parser::Event::kMessageDone);
}

TEST(ParserTest, ConnectLeavesTunnelBytesUnconsumed) {
  const std::string head = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n";
  Parser p(MessageKind::kRequest);
  std::string wire = head + "\x16\x03\x01 tls bytes";
  auto r = p.Feed(wire);
  ASSERT_EQ(r.event, Parser::Event::kHeadersDone);
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_EQ(p.Feed(std::string_view(wire).substr(r.consumed)).event, Parser::Event::kMessageDone);
}

TEST(ParserTest, LimitsMapToStatuses) {
  ParserLimits small;
  small.max_start_line = 64;
  small.max_header_bytes = 256;
  small.max_headers = 5;
  small.max_body = 10;
  // 414 for a long request line, even before its end arrives.
  std::string long_line = "GET /" + Repeat('a', 100) + " HTTP/1.1\r\nHost: h\r\n\r\n";
  Outcome o = DriveRequest(long_line, 0, small);
  EXPECT_EQ(o.http_status, 414) << o.error;
  EXPECT_EQ(o.error, "request line longer than 64 bytes at offset 64");
  EXPECT_EQ(DriveRequest(long_line.substr(0, 80), 1, small).http_status, 414);
  // 431 for a large header block and for too many fields.
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + Repeat('b', 300) + "\r\n\r\n";
  o = DriveRequest(big, 0, small);
  EXPECT_EQ(o.http_status, 431) << o.error;
  EXPECT_NE(o.error.find("header block larger than 256 bytes"), std::string::npos);
  EXPECT_EQ(DriveRequest(big.substr(0, 200), 1, small).http_status, 0);  // not yet over
  EXPECT_EQ(DriveRequest(big.substr(0, 300), 1, small).http_status, 431);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  o = DriveRequest(many + "\r\n", 0, small);
  EXPECT_EQ(o.http_status, 431) << o.error;
  EXPECT_NE(o.error.find("more than 5 header fields"), std::string::npos);
  // 413 for bodies over max_body: by Content-Length up front, by chunks as they come.
  o = DriveRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 0, small);
  EXPECT_EQ(o.http_status, 413) << o.error;
  o = DriveRequest(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", 0,
      small);
  EXPECT_EQ(o.http_status, 413) << o.error;
  EXPECT_EQ(o.body, "abcdef");
  // The defaults: 8 KiB request line, 64 KiB of headers, 100 fields.
  ParserLimits d;
  EXPECT_EQ(d.max_start_line, 8192u);
  EXPECT_EQ(d.max_header_bytes, 65536u);
  EXPECT_EQ(d.max_headers, 100u);
  std::string target = Repeat('x', 8193);
  target[0] = '/';
  EXPECT_EQ(DriveRequest("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n", 0).http_status, 414);
  std::string hundred = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 99; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(DriveRequest(hundred + "\r\n", 0).error, "");
  EXPECT_EQ(DriveRequest(hundred + "X-Last: v\r\n\r\n", 0).http_status, 431);
}

TEST(ParserTest, ErrorsMapToAbslCodes) {
  Parser p(MessageKind::kRequest);
  p.Feed(std::string_view("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br\r\n\r\n"));
  EXPECT_EQ(p.error().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(p.error_http_status(), 501);
  // Once failed, the parser stays failed.
  EXPECT_EQ(p.Feed(std::string_view("GET / HTTP/1.1\r\n")).event, Parser::Event::kError);
}

TEST(ParserTest, Responses) {
  // Content-Length, and until-close bodies completed by EOF.
  Outcome o = DriveResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "abc");
  EXPECT_EQ(o.reason, "OK");
  for (size_t piece : {0, 1}) {
    o = DriveResponse("HTTP/1.0 200 OK\r\n\r\nuntil the end", piece);
    EXPECT_TRUE(o.done) << o.error;
    EXPECT_EQ(o.body, "until the end");
  }
  // Statuses and methods that have no body whatever the headers say.
  EXPECT_TRUE(
      DriveResponse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 0, "HEAD", false).done);
  EXPECT_TRUE(DriveResponse("HTTP/1.1 204 No Content\r\n\r\n", 0, "GET", false).done);
  EXPECT_TRUE(
      DriveResponse("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0, "GET", false)
          .done);
  EXPECT_TRUE(
      DriveResponse("HTTP/1.1 200 Connection established\r\n\r\n", 0, "CONNECT", false).done);
  EXPECT_TRUE(DriveResponse("HTTP/1.1 100 Continue\r\n\r\n", 0, "POST", false).done);
  // No reason phrase is fine; bad status lines are 502 (the upstream misbehaved).
  o = DriveResponse("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", 0);
  EXPECT_TRUE(o.done) << o.error;
  EXPECT_EQ(o.status, 404);
  o = DriveResponse("HTTP/1.1 20 OK\r\n\r\n", 0);
  EXPECT_EQ(o.http_status, 502);
  EXPECT_NE(o.error.find("status code must be three digits"), std::string::npos);
  o = DriveResponse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0);
  EXPECT_EQ(o.http_status, 502);
  // Cut short.
  o = DriveResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0);
  EXPECT_EQ(o.error, "connection closed after 3 of 10 body bytes at offset 42");
  o = DriveResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1);
  EXPECT_NE(o.error.find("connection closed in the chunked body after 2 bytes"), std::string::npos)
      << o.error;
  o = DriveResponse("HTTP/1.1 200 OK\r\nServ", 1);
  EXPECT_NE(o.error.find("connection closed in the response's header line 1"), std::string::npos)
      << o.error;
}

TEST(ParserTest, WholeMessageHelpers) {
  auto resp = ParseResponse(
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 201);
  EXPECT_EQ(resp->body, "abc");
  EXPECT_EQ(resp->trailers.Get("X-T"), "1");
  auto extra = ParseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET");
  EXPECT_FALSE(extra.ok());
  EXPECT_NE(std::string(extra.status().message()).find("3 bytes after the end"), std::string::npos);
  auto cut = ParseRequest("GET / HTTP/1.1\r\nHost: h\r\n");
  EXPECT_FALSE(cut.ok());
}

TEST(ParserTest, RequireHostCanBeTurnedOff) {
  ParserLimits l;
  l.require_host = false;
  EXPECT_TRUE(ParseRequest("GET / HTTP/1.1\r\n\r\n", l).ok());
  EXPECT_FALSE(ParseRequest("GET / HTTP/1.1\r\n\r\n").ok());
}

}  // namespace
}  // namespace tng::http
