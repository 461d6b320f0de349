// gRPC framing and status mapping, the AS gRPC messages, and AsClient with as_type grpc against
// the reference AS's gRPC side served over loopback h2c in the same reactor.
#include "attestation/as_grpc_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <ctime>
#include <memory>
#include <string>

#include "attestation/as_client.h"
#include "attestation/grpc_client.h"
#include "core/connection_scope.h"
#include "core/net.h"
#include "core/protobuf_wire.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/digest.h"
#include "crypto/str_cat.h"
#include "tools/reference_as/grpc_service.h"

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kRuntime = R"({"pubkey-hash":"AYIgq83vEjRWeJA="})";

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(GrpcFrameTest, RoundTripsOneMessage) {
  const auto frame = EncodeGrpcFrame(Bytes("hello"));
  EXPECT_EQ(frame, (std::vector<uint8_t>{0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}));
  auto message = DecodeGrpcFrame(frame);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(*message, Bytes("hello"));
  auto empty = DecodeGrpcFrame(EncodeGrpcFrame({}));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
}

TEST(GrpcFrameTest, RejectsMalformedAndTruncatedFrames) {
  EXPECT_THAT(DecodeGrpcFrame({}).status().message(), HasSubstr("no message"));
  EXPECT_THAT(DecodeGrpcFrame(std::vector<uint8_t>{0, 0, 0}).status().message(),
              HasSubstr("prefix truncated: 3 of 5"));
  EXPECT_THAT(DecodeGrpcFrame(std::vector<uint8_t>{0, 0, 0, 0, 4, 'a'}).status().message(),
              HasSubstr("truncated: 1 of 4"));
  EXPECT_THAT(DecodeGrpcFrame(std::vector<uint8_t>{1, 0, 0, 0, 1, 'a'}).status().message(),
              HasSubstr("compressed flag 1"));
  EXPECT_THAT(DecodeGrpcFrame(std::vector<uint8_t>{0, 0, 0, 0, 1, 'a', 0}).status().message(),
              HasSubstr("1 bytes after its one message"));
  auto big = DecodeGrpcFrame(std::vector<uint8_t>{0, 0, 1, 0, 0}, 1000);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(GrpcStatusTest, MapsTrailersToAbslStatus) {
  EXPECT_TRUE(GrpcStatusToAbsl("0", "", "ctx: ").ok());
  absl::Status aborted = GrpcStatusToAbsl("10", "policy %22deny%22 failed%0Aok", "ctx: ");
  EXPECT_EQ(aborted.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(aborted.message(), "ctx: grpc-status 10: policy \"deny\" failed\nok");
  EXPECT_EQ(GrpcStatusToAbsl("14", "", "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GrpcStatusToAbsl("99", "", "").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(GrpcStatusToAbsl("x", "", "").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(PercentDecodeGrpcMessage(PercentEncodeGrpcMessage("a%b\n\xc3\xa9")), "a%b\n\xc3\xa9");
  EXPECT_EQ(PercentDecodeGrpcMessage("bad %zz %4"), "bad %zz %4");
}

AsAttestationInput SampleEvidence(std::string_view runtime_data, std::string policy) {
  auto canonical = crypto::CanonicalizeJson(runtime_data);
  EXPECT_TRUE(canonical.ok());
  const auto report = crypto::Digest(crypto::HashAlgorithm::kSha384, *canonical);
  const std::string evidence =
      crypto::StrCat(R"({"svn":"1","report_data":")", crypto::Base64Encode(report), "\"}");
  AsAttestationInput input;
  input.tee = "sample";
  input.evidence.assign(evidence.begin(), evidence.end());
  input.runtime_data = std::string(runtime_data);
  input.policy_ids = {std::move(policy)};
  return input;
}

TEST(AsGrpcMessagesTest, RequestCarriesWhatTngSends) {
  AsAttestationInput input = SampleEvidence(kRuntime, "p1");
  input.policy_ids.push_back("p2");
  input.additional_evidence = R"({"nvidia":{"x":1}})";
  auto message = BuildGrpcAttestationRequest(input);
  ASSERT_TRUE(message.ok()) << message.status();
  auto json = reference_as::GrpcAttestationRequestToJson(*message);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(R"("tee":"sample")"));
  EXPECT_THAT(*json,
              HasSubstr(R"("runtime_data":{"structured":{"pubkey-hash":"AYIgq83vEjRWeJA="}})"));
  EXPECT_THAT(*json, HasSubstr(R"("runtime_data_hash_algorithm":"sha384")"));
  EXPECT_THAT(*json, HasSubstr(R"({"tee":"nvidia","evidence":")"));
  EXPECT_THAT(*json, HasSubstr(R"("policy_ids":["p1","p2"])"));

  input.tee.clear();
  EXPECT_THAT(BuildGrpcAttestationRequest(input).status().message(), HasSubstr("TEE type"));
}

TEST(AsGrpcMessagesTest, ResponseMustCarryAJwt) {
  pb::Writer good;
  good.String(1, "a.b.c");
  EXPECT_EQ(*ParseGrpcAttestationResponse(good.bytes()), "a.b.c");
  EXPECT_THAT(ParseGrpcAttestationResponse({}).status().message(),
              HasSubstr("no attestation_token"));
  pb::Writer bad;
  bad.String(1, "<html>");
  EXPECT_FALSE(ParseGrpcAttestationResponse(bad.bytes()).ok());
  EXPECT_FALSE(ParseGrpcAttestationResponse(std::vector<uint8_t>{0x0a, 0x05, 'a'}).ok());
}

// The reference AS's gRPC side on 127.0.0.1:<ephemeral> inside `reactor_`.
class GrpcAsFixture {
 public:
  GrpcAsFixture() {
    auto r = Reactor::Create(0, {});
    EXPECT_TRUE(r.ok()) << r.status();
    reactor_ = *std::move(r);
    auto signer = reference_as::TokenSigner::Create(std::time(nullptr), false);
    EXPECT_TRUE(signer.ok()) << signer.status();
    reference_as::ServiceOptions options;
    options.policies = {{"deny-all", reference_as::PolicyVerdict::kDeny}};
    service_ = std::make_unique<reference_as::Service>(*std::move(signer), std::move(options));
    auto fd = ListenTcp(*SocketAddress::FromLiteral("127.0.0.1", 0));
    EXPECT_TRUE(fd.ok()) << fd.status();
    SocketAddress bound;
    EXPECT_EQ(getsockname(fd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
    url_ = "http://" + bound.ToString();
    acceptor_ = std::make_unique<Acceptor>(
        *reactor_, std::move(*fd),
        [this](UniqueFd conn) {
          Spawn(reference_as::ServeGrpcConnection(
              *reactor_, std::move(conn),
              [this](std::string_view method, std::span<const uint8_t> request) {
                ++calls_;
                return reference_as::HandleGrpc(*service_, method, request, std::time(nullptr));
              }));
        },
        "test-grpc-as");
  }

  template <typename Body>
  void Run(Body body) {
    auto task = [](GrpcAsFixture* self, Body body) -> Task<void> {
      ConnectionScope scope(*self->reactor_);
      co_await body(*self->reactor_);
      self->acceptor_->Stop();
      self->reactor_->BeginDrain();
      self->reactor_->ForceCloseAll();
    };
    reactor_->Post([this, body, task] {
      acceptor_->Start();
      Spawn(task(this, body));
    });
    reactor_->Run();
  }

  AsClientOptions Options() const {
    AsClientOptions o;
    o.transport = AsTransport::kGrpc;
    o.as_addr = url_;
    o.headers = {{"X-Test", "1"}};
    o.timeout = std::chrono::seconds(5);
    return o;
  }
  const std::string& url() const { return url_; }
  int calls() const { return calls_; }

 private:
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<reference_as::Service> service_;
  std::unique_ptr<Acceptor> acceptor_;
  std::string url_;
  int calls_ = 0;
};

TEST(AsGrpcClientTest, AttestsOverGrpcAndTheTokenCarriesThePolicy) {
  GrpcAsFixture as;
  absl::StatusOr<std::string> token = absl::UnknownError("not run");
  absl::StatusOr<std::optional<AsChallenge>> challenge = absl::UnknownError("not run");
  absl::StatusOr<std::string> certs = absl::UnknownError("not run");
  as.Run([&](Reactor& r) -> Task<void> {
    AsClient client(r, as.Options());
    token = co_await client.Attest(SampleEvidence(kRuntime, "default"));
    challenge = co_await client.GetChallenge();
    certs = co_await client.GetCertificate();
  });
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 2);
  EXPECT_EQ(as.calls(), 1);
  ASSERT_TRUE(challenge.ok());
  EXPECT_FALSE(challenge->has_value());  // the gRPC AS has no challenge: TNG's dummy nonce
  EXPECT_EQ(certs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(certs.status().message(), HasSubstr("trusted_certs_paths"));
}

// A refusal (here an unknown policy, which trustee answers with ABORTED) is PermissionDenied;
// a deny policy still yields a token, whose EAR status the verifier rejects (ear_token_test).
TEST(AsGrpcClientTest, RefusalIsPermissionDeniedNamingTheMethod) {
  GrpcAsFixture as;
  absl::StatusOr<std::string> refused = absl::UnknownError("not run");
  absl::StatusOr<std::string> denied = absl::UnknownError("not run");
  as.Run([&](Reactor& r) -> Task<void> {
    AsClient client(r, as.Options());
    refused = co_await client.Attest(SampleEvidence(kRuntime, "no-such-policy"));
    denied = co_await client.Attest(SampleEvidence(kRuntime, "deny-all"));
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("AttestationEvaluate at " + as.url()));
  EXPECT_THAT(refused.status().message(), HasSubstr("grpc-status 10"));
  EXPECT_TRUE(denied.ok()) << denied.status();
}

TEST(AsGrpcClientTest, NobodyListeningIsUnavailableNamingTheAddress) {
  GrpcAsFixture as;
  absl::StatusOr<std::string> result = absl::UnknownError("not run");
  as.Run([&](Reactor& r) -> Task<void> {
    AsClientOptions o = as.Options();
    o.as_addr = "http://127.0.0.1:1";
    AsClient client(r, o);
    result = co_await client.Attest(SampleEvidence(kRuntime, "default"));
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("http://127.0.0.1:1"));
}

TEST(AsGrpcClientTest, UnknownMethodIsUnimplemented) {
  GrpcAsFixture as;
  absl::StatusOr<std::vector<uint8_t>> reply = absl::UnknownError("not run");
  as.Run([&](Reactor& r) -> Task<void> {
    GrpcCallOptions call;
    call.address = as.url();
    call.method = "/attestation.AttestationService/Nope";
    call.timeout = std::chrono::seconds(5);
    std::vector<uint8_t> empty;
    reply = co_await GrpcUnaryCall(r, call, empty);
  });
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnimplemented) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("unknown method"));
}

}  // namespace
}  // namespace tng::attestation
