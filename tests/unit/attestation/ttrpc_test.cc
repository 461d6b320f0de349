#include "attestation/ttrpc.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/run_on_reactor.h"

namespace tng::attestation::ttrpc {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// A GetTeeType call as TNG's Rust client sends it (50 s timeout), derived field by field from
// ttrpc's Request message and the 10-byte frame header:
//   header   0000003e length 62 | 00000001 stream 1 | 01 request | 00 flags
//   field 1  0a 29 "attestation_agent.AttestationAgentService" (41 bytes)
//   field 2  12 0a "GetTeeType"
//   field 4  20 80e8eda1ba01 (varint 50000000000)
constexpr std::string_view kGetTeeTypeFrame =
    "0000003e0000000101000a296174746573746174696f6e5f6167656e742e4174746573746174696f6e41"
    "67656e7453657276696365120a476574546565547970652080e8eda1ba01";

TEST(TtrpcCodecTest, RequestFrameMatchesTheSpecBytes) {
  Request req;
  req.service = "attestation_agent.AttestationAgentService";
  req.method = "GetTeeType";
  req.timeout_nano = 50'000'000'000;
  auto frame = EncodeFrame(1, MessageType::kRequest, 0, EncodeRequest(req));
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(*frame, Hex(kGetTeeTypeFrame));
}

TEST(TtrpcCodecTest, DecodesAResponseFrameAsTheAaSendsIt) {
  // ttrpc-rust answers OK with an empty google.rpc.Status (0a 00), then the payload:
  // GetTeeTypeResponse{tee: "sample"} = 0a 06 "sample", carried in field 2 (12 08 ...).
  //   header 0000000c length 12 | 00000001 stream 1 | 02 response | 00 flags
  auto frame =
      DecodeFrame(Hex("0000000c000000010200"
                      "0a00"
                      "1208"
                      "0a0673616d706c65"));
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->header.length, 12u);
  EXPECT_EQ(frame->header.stream_id, 1u);
  EXPECT_EQ(frame->header.type, static_cast<uint8_t>(MessageType::kResponse));
  EXPECT_EQ(frame->header.flags, 0);
  auto response = DecodeResponse(frame->payload);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status.code, 0);
  EXPECT_EQ(response->payload, Hex("0a0673616d706c65"));
  // And our encoder produces exactly those payload bytes.
  EXPECT_EQ(EncodeResponse(*response), Hex("0a0012080a0673616d706c65"));
}

TEST(TtrpcCodecTest, ErrorStatusBecomesAbslStatusWithCodeAndMessage) {
  // Status{code: 13, message: "boom", details: [Any{type_url: "x"}]}: details are skipped.
  const auto payload =
      Hex("0a0d"
          "080d"
          "1204626f6f6d"
          "1a030a0178");
  auto response = DecodeResponse(payload);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status.code, 13);
  EXPECT_EQ(response->status.message, "boom");
  absl::Status st = StatusFromRpc(response->status, "svc/M on unix:///x");
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(st.message(), "svc/M on unix:///x: the server answered INTERNAL (13): boom");
  EXPECT_EQ(StatusFromRpc({.code = 99, .message = ""}, "c").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(CodeName(12), "UNIMPLEMENTED");
  EXPECT_EQ(CodeName(99), "code 99");
}

TEST(TtrpcCodecTest, RequestRoundTripWithMetadata) {
  Request req{.service = "s",
              .method = "m",
              .payload = {1, 2, 3},
              .timeout_nano = -1,
              .metadata = {{"k1", "v1"}, {"k2", ""}}};
  auto encoded = EncodeRequest(req);
  auto decoded = DecodeRequest(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->service, "s");
  EXPECT_EQ(decoded->method, "m");
  EXPECT_EQ(decoded->payload, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(decoded->timeout_nano, -1);
  ASSERT_EQ(decoded->metadata.size(), 2u);
  EXPECT_EQ(decoded->metadata[0].key, "k1");
  EXPECT_EQ(decoded->metadata[0].value, "v1");
  EXPECT_EQ(decoded->metadata[1].key, "k2");
  EXPECT_EQ(decoded->metadata[1].value, "");
}

TEST(TtrpcCodecTest, MalformedMessagesAreRejectedWithFieldAndOffset) {
  auto bad_status = DecodeResponse(Hex("0a05080d"));  // status claims 5 bytes, 2 follow
  ASSERT_FALSE(bad_status.ok());
  EXPECT_THAT(bad_status.status().message(),
              HasSubstr("ttrpc Response: field 1 at offset 0: length 5 runs past the end"));
  auto wrong_type = DecodeRequest(Hex("0801"));  // service as a varint
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(wrong_type.status().message(),
              HasSubstr("ttrpc Request: field 1 at offset 0: expected wire type length-delimited"));
  auto bad_code =
      DecodeResponse(Hex("0a02"
                         "1201"));  // message length 1, nothing follows
  ASSERT_FALSE(bad_code.ok());
  EXPECT_THAT(bad_code.status().message(), HasSubstr("google.rpc.Status: field 2 at offset 2"));
}

TEST(TtrpcFrameTest, TruncatedTrailingAndOversizedFramesAreRejected) {
  const auto frame = Hex(kGetTeeTypeFrame);
  auto short_header = DecodeFrame(std::span(frame).first(9));
  ASSERT_FALSE(short_header.ok());
  EXPECT_EQ(short_header.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(short_header.status().message(), HasSubstr("9 of 10 header bytes"));
  auto short_payload = DecodeFrame(std::span(frame).first(frame.size() - 1));
  ASSERT_FALSE(short_payload.ok());
  EXPECT_THAT(short_payload.status().message(),
              HasSubstr("request frame on stream 1 truncated: 61 of 62 payload bytes"));
  auto trailing = frame;
  trailing.push_back(0);
  auto extra = DecodeFrame(trailing);
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), HasSubstr("1 trailing bytes"));
  // 4 MiB + 1 announced: refused from the header alone.
  auto oversized = DecodeFrame(Hex("00400001000000010200"));
  ASSERT_FALSE(oversized.ok());
  EXPECT_THAT(oversized.status().message(),
              HasSubstr("announces 4194305 payload bytes; the limit is 4194304"));
  EXPECT_FALSE(
      EncodeFrame(1, MessageType::kRequest, 0, std::vector<uint8_t>(kMaxMessageLength + 1)).ok());
  // Exactly at the limit the header is fine; only the missing payload is reported.
  auto at_limit = DecodeFrame(Hex("00400000000000010200"));
  ASSERT_FALSE(at_limit.ok());
  EXPECT_THAT(at_limit.status().message(), HasSubstr("truncated: 0 of 4194304 payload bytes"));
}

TEST(TtrpcFrameTest, DecoderReassemblesByteByByteAndSplitsBackToBack) {
  const auto one = Hex(kGetTeeTypeFrame);
  FrameDecoder decoder;
  for (size_t i = 0; i + 1 < one.size(); ++i) {
    decoder.Feed(std::span(one).subspan(i, 1));
    auto next = decoder.Next();
    ASSERT_TRUE(next.ok());
    ASSERT_FALSE(next->has_value()) << "frame reported after " << i + 1 << " bytes";
  }
  EXPECT_EQ(decoder.DescribePartial(), "61 of 62 payload bytes of a request frame on stream 1");
  decoder.Feed(std::span(one).last(1));
  auto got = decoder.Next();
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->payload.size(), 62u);
  EXPECT_EQ(decoder.buffered(), 0u);

  std::vector<uint8_t> two = one;
  two.insert(two.end(), one.begin(), one.end());
  two.insert(two.end(), one.begin(), one.begin() + 3);
  decoder.Feed(two);
  for (int i = 0; i < 2; ++i) {
    auto f = decoder.Next();
    ASSERT_TRUE(f.ok() && f->has_value()) << i;
  }
  auto none = decoder.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(decoder.DescribePartial(), "3 of 10 header bytes");

  FrameDecoder small(16);
  small.Feed(Hex("00000011000000030100"));
  auto big = small.Next();
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(),
              HasSubstr("request frame on stream 3 announces 17 payload bytes; the limit is 16"));
  EXPECT_FALSE(small.Next().ok());  // no resynchronisation after a bad length
}

TEST(TtrpcAddressTest, ParsesUnixAndRejectsOthers) {
  auto path = ParseAddress("unix:///run/confidential-containers/attestation-agent/aa.sock");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->family(), AF_UNIX);
  EXPECT_EQ(path->UnixPath(), "/run/confidential-containers/attestation-agent/aa.sock");
  auto abstract = ParseAddress("unix://@tng-aa");
  ASSERT_TRUE(abstract.ok()) << abstract.status();
  EXPECT_EQ(abstract->UnixPath(), "@tng-aa");
  EXPECT_EQ(abstract->len(), offsetof(sockaddr_un, sun_path) + 7);

  auto vsock = ParseAddress("vsock://3:1024");
  ASSERT_FALSE(vsock.ok());
  EXPECT_THAT(vsock.status().message(), HasSubstr("scheme 'vsock' is not supported"));
  auto bare = ParseAddress("/run/aa.sock");
  ASSERT_FALSE(bare.ok());
  EXPECT_THAT(bare.status().message(), HasSubstr("has no scheme (expected unix:///path)"));
  EXPECT_FALSE(ParseAddress("unix://").ok());
  auto too_long = ParseAddress("unix:///" + std::string(200, 'a'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.status().message(), HasSubstr("at most 107 fit"));
}

// A unix socket directory for one test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tng-ttrpc-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

UniqueFd BoundUnixSocket(const std::string& path, bool listen) {
  auto addr = SocketAddress::FromUnixPath(path);
  EXPECT_TRUE(addr.ok());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::bind(fd.get(), addr->sa(), addr->len()), 0);
  if (listen) {
    EXPECT_EQ(::listen(fd.get(), 4), 0);
  }
  timeval tv{.tv_sec = 20, .tv_usec = 0};  // bounds accept() if the client never comes
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// One scripted server connection on a blocking thread: reads one request frame (kept in
// `received`), writes `answer`, closes.
class ScriptedServer {
 public:
  ScriptedServer(const std::string& path, std::vector<uint8_t> answer)
      : listener_(BoundUnixSocket(path, true)) {
    thread_ = std::thread([this, answer = std::move(answer)] {
      UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) return;
      timeval tv{.tv_sec = 20, .tv_usec = 0};
      setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      FrameDecoder decoder;
      uint8_t buf[4096];
      for (;;) {
        auto f = decoder.Next();
        if (!f.ok()) return;
        if (f->has_value()) {
          received_ = EncodeFrame((*f)->header.stream_id, MessageType::kRequest, (*f)->header.flags,
                                  (*f)->payload)
                          .value();
          break;
        }
        ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0) return;
        decoder.Feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      }
      if (!answer.empty()) (void)!::send(c.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
    });
  }
  ~ScriptedServer() { Join(); }
  // Waits for the connection to be served; the request frame it received.
  std::vector<uint8_t> Join() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  UniqueFd listener_;
  std::vector<uint8_t> received_;
  std::thread thread_;
};

absl::StatusOr<std::vector<uint8_t>> CallOnce(const std::string& address, Request request,
                                              Duration timeout) {
  absl::StatusOr<std::vector<uint8_t>> result = absl::UnknownError("not run");
  auto client = Client::Create(address);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return client.status();
  testing::RunOnReactor([&](Reactor& r) -> Task<void> {
    result = co_await client->Call(r, std::move(request), timeout);
  });
  return result;
}

Request TeeTypeRequest() {
  Request r;
  r.service = "attestation_agent.AttestationAgentService";
  r.method = "GetTeeType";
  return r;
}

TEST(TtrpcClientTest, SendsTheSpecFrameAndReturnsThePayload) {
  TempDir dir;
  const std::string path = dir.File("ok.sock");
  ScriptedServer server(
      path, *EncodeFrame(1, MessageType::kResponse, 0, Hex("0a0012080a0673616d706c65")));
  auto result = CallOnce("unix://" + path, TeeTypeRequest(), std::chrono::seconds(50));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Hex("0a0673616d706c65"));
  // timeout_nano was filled in from the call's timeout, as TNG's client sends it.
  EXPECT_EQ(server.Join(), Hex(kGetTeeTypeFrame));
}

TEST(TtrpcClientTest, ServerStatusIsReturnedWithItsCode) {
  TempDir dir;
  const std::string path = dir.File("err.sock");
  Response error{.status = {.code = 12, .message = "GetToken method"}, .payload = {}};
  ScriptedServer server(path, *EncodeFrame(1, MessageType::kResponse, 0, EncodeResponse(error)));
  auto result = CallOnce("unix://" + path, TeeTypeRequest(), std::chrono::seconds(20));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(result.status().message(),
            "attestation_agent.AttestationAgentService/GetTeeType on unix://" + path +
                ": the server answered UNIMPLEMENTED (12): GetToken method");
}

struct BadAnswer {
  const char* name;
  std::vector<uint8_t> answer;
  absl::StatusCode code;
  const char* want;
};

TEST(TtrpcClientTest, BadAnswersGiveClearErrors) {
  const std::vector<BadAnswer> cases = {
      {"closed without answer",
       {},
       absl::StatusCode::kUnavailable,
       "connection closed by the server before it answered"},
      {"truncated header", Hex("0000000c00"), absl::StatusCode::kUnavailable,
       "connection closed in the middle of the response (5 of 10 header bytes)"},
      {"truncated payload",
       Hex("0000000c000000010200"
           "0a00"),
       absl::StatusCode::kUnavailable, "(2 of 12 payload bytes of a response frame on stream 1)"},
      {"oversized", Hex("7fffffff000000010200"), absl::StatusCode::kDataLoss,
       "announces 2147483647 payload bytes; the limit is 4194304"},
      {"other stream",
       Hex("00000002000000030200"
           "0a00"),
       absl::StatusCode::kDataLoss, "got a response frame for stream 3 while waiting for stream 1"},
      {"data frame",
       Hex("00000002000000010300"
           "0a00"),
       absl::StatusCode::kDataLoss, "expected a response frame on stream 1, got a data frame"},
      {"malformed response",
       Hex("00000002000000010200"
           "0a05"),
       absl::StatusCode::kDataLoss,
       "malformed protobuf ttrpc Response: field 1 at offset 0: length 5 runs past the end"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const std::string path = dir.File("bad.sock");
    ScriptedServer server(path, c.answer);
    auto result = CallOnce("unix://" + path, TeeTypeRequest(), std::chrono::seconds(20));
    ASSERT_FALSE(result.ok()) << c.name;
    EXPECT_EQ(result.status().code(), c.code) << c.name << ": " << result.status();
    EXPECT_THAT(result.status().message(), HasSubstr(c.want)) << c.name;
    EXPECT_THAT(result.status().message(), HasSubstr("GetTeeType on unix://" + path)) << c.name;
  }
}

TEST(TtrpcClientTest, SilentServerTimesOut) {
  TempDir dir;
  const std::string path = dir.File("silent.sock");
  // Listening but never accepting: the connection completes in the backlog, no answer comes.
  UniqueFd listener = BoundUnixSocket(path, true);
  auto result = CallOnce("unix://" + path, TeeTypeRequest(), std::chrono::milliseconds(100));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(result.status().message(),
              HasSubstr("on unix://" + path + ": no response within 100 ms"));
}

TEST(TtrpcClientTest, MissingSocketAndRefusedConnectionAreNamed) {
  TempDir dir;
  const std::string missing = dir.File("missing.sock");
  auto result = CallOnce("unix://" + missing, TeeTypeRequest(), std::chrono::seconds(5));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(),
              HasSubstr("socket " + missing + " does not exist (is the service running?)"));

  const std::string refused = dir.File("refused.sock");
  UniqueFd bound = BoundUnixSocket(refused, /*listen=*/false);
  result = CallOnce("unix://" + refused, TeeTypeRequest(), std::chrono::seconds(5));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(),
              HasSubstr("connection refused: nothing is listening on " + refused));
}

TEST(TtrpcClientTest, AbstractSocketsWork) {
  const std::string name = "@tng-ttrpc-test-" + std::to_string(::getpid());
  ScriptedServer server(name, *EncodeFrame(1, MessageType::kResponse, 0, Hex("0a00")));
  auto result = CallOnce("unix://" + name, TeeTypeRequest(), std::chrono::seconds(20));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->empty());
}

}  // namespace
}  // namespace tng::attestation::ttrpc
