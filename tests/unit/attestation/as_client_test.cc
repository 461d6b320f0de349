// The AS REST client against the reference AS served over loopback HTTP in the same reactor:
// attestation (1.6 and the legacy retry), challenge, certificate, and the errors on the way.
#include "attestation/as_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <ctime>
#include <memory>
#include <string>

#include "attestation/ear_token.h"
#include "core/connection_scope.h"
#include "core/http/server.h"
#include "core/net.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/digest.h"
#include "crypto/str_cat.h"
#include "tools/reference_as/service.h"

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kRuntime = R"({"pubkey-hash":"AYIgq83vEjRWeJA="})";

AsClientOptions At(std::string url) {
  AsClientOptions options;
  options.as_addr = std::move(url);
  options.headers = {{"X-Test", "1"}};
  return options;
}

AsAttestationInput SampleEvidence(std::string_view runtime_data) {
  auto canonical = crypto::CanonicalizeJson(runtime_data);
  EXPECT_TRUE(canonical.ok());
  const auto report = crypto::Digest(crypto::HashAlgorithm::kSha384, *canonical);
  const std::string evidence =
      crypto::StrCat(R"({"svn":"1","report_data":")", crypto::Base64Encode(report), "\"}");
  AsAttestationInput input;
  input.tee = "sample";
  input.evidence.assign(evidence.begin(), evidence.end());
  input.runtime_data = std::string(runtime_data);
  input.policy_ids = {"default"};
  return input;
}

// A reference AS on 127.0.0.1:<ephemeral> inside `reactor`, counting the requests it answers.
class AsFixture {
 public:
  explicit AsFixture(reference_as::ServiceOptions options) {
    auto r = Reactor::Create(0, {});
    EXPECT_TRUE(r.ok()) << r.status();
    reactor_ = *std::move(r);
    auto signer = reference_as::TokenSigner::Create(std::time(nullptr), false);
    EXPECT_TRUE(signer.ok()) << signer.status();
    service_ = std::make_unique<reference_as::Service>(*std::move(signer), std::move(options));
    auto addr = SocketAddress::FromLiteral("127.0.0.1", 0);
    auto fd = ListenTcp(*addr);
    EXPECT_TRUE(fd.ok()) << fd.status();
    SocketAddress bound;
    EXPECT_EQ(getsockname(fd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
    url_ = "http://" + bound.ToString();
    server_ = std::make_unique<http::HttpServer>(
        *reactor_, std::move(*fd), [this](const http::Request& request) -> Task<http::Response> {
          bodies_.push_back(request.body);
          headers_.push_back(crypto::StrCat(request.headers.Get("X-Test").value_or("-"), " ",
                                            request.headers.Get("Content-Type").value_or("-")));
          auto answer = service_->Handle(request.method, request.parsed.path, request.body,
                                         std::time(nullptr));
          http::Response response;
          response.status = answer.status;
          response.body = std::move(answer.body);
          co_return response;
        });
  }

  // Runs `body` as the reactor's only other work, then drains.
  template <typename Body>
  void Run(Body body) {
    auto task = [](Reactor& r, Body body) -> Task<void> {
      ConnectionScope scope(r);
      co_await body(r);
      r.BeginDrain();
    };
    reactor_->Post([this, body, task] {
      server_->Start();
      Spawn(task(*reactor_, body));
    });
    reactor_->Run();
  }

  const std::string& url() const { return url_; }
  const std::vector<std::string>& bodies() const { return bodies_; }
  // "<X-Test> <Content-Type>" of each request.
  const std::vector<std::string>& headers() const { return headers_; }

 private:
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<reference_as::Service> service_;
  std::unique_ptr<http::HttpServer> server_;
  std::string url_;
  std::vector<std::string> bodies_;
  std::vector<std::string> headers_;
};

TEST(AsClientTest, AttestsAndTheTokenVerifiesAgainstTheServedCertificate) {
  AsFixture as({});
  absl::StatusOr<std::string> token = absl::UnknownError("not run"), pem = token;
  absl::StatusOr<std::optional<AsChallenge>> challenge = absl::UnknownError("not run");
  as.Run([&](Reactor& r) -> Task<void> {
    AsClient client(r, At(as.url() + "/"));
    challenge = co_await client.GetChallenge();
    token = co_await client.Attest(SampleEvidence(kRuntime));
    pem = co_await client.GetCertificate();
  });
  ASSERT_TRUE(challenge.ok()) << challenge.status();
  ASSERT_TRUE(challenge->has_value());
  EXPECT_FALSE((*challenge)->token.empty());
  ASSERT_TRUE(token.ok()) << token.status();
  ASSERT_TRUE(pem.ok()) << pem.status();
  auto certs = ParseCertificateList(
      std::span(reinterpret_cast<const uint8_t*>(pem->data()), pem->size()), "/certificate");
  ASSERT_TRUE(certs.ok());
  EarTokenOptions options{.trusted_certs = *std::move(certs),
                          .policy_ids = {"default"},
                          .expected_runtime_data = std::string(kRuntime),
                          .now_unix = std::time(nullptr)};
  auto verified = VerifyAsToken(*token, options);
  EXPECT_TRUE(verified.ok()) << verified.status();
  ASSERT_EQ(as.bodies().size(), 3u);
  EXPECT_THAT(as.bodies()[1], HasSubstr("\"verification_requests\""));
  EXPECT_THAT(as.headers(),
              ::testing::ElementsAre("1 application/json", "1 application/json", "1 -"));
}

TEST(AsClientTest, RetriesWithTheFlatBodyForAnOldAs) {
  AsFixture as({.policies = {}, .legacy_api = true});
  absl::StatusOr<std::string> first = absl::UnknownError("not run"), second = first;
  bool legacy = false;
  as.Run([&](Reactor& r) -> Task<void> {
    AsClient client(r, At(as.url()));
    first = co_await client.Attest(SampleEvidence(kRuntime));
    second = co_await client.Attest(SampleEvidence(kRuntime));
    legacy = client.uses_legacy_api();
  });
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(legacy);
  // New body, rejected; flat body; then the flat body straight away.
  ASSERT_EQ(as.bodies().size(), 3u);
  EXPECT_THAT(as.bodies()[0], HasSubstr("\"verification_requests\""));
  EXPECT_THAT(as.bodies()[1], ::testing::StartsWith("{\"tee\":\"sample\""));
  EXPECT_THAT(as.bodies()[2], ::testing::StartsWith("{\"tee\":\"sample\""));
}

TEST(AsClientTest, ReportsRejectionsAndUnreachableServices) {
  AsFixture as({});
  absl::StatusOr<std::string> rejected = absl::UnknownError("not run"), unreachable = rejected;
  as.Run([&](Reactor& r) -> Task<void> {
    AsClient client(r, At(as.url()));
    AsAttestationInput input = SampleEvidence(kRuntime);
    input.policy_ids = {"missing"};
    rejected = co_await client.Attest(input);
    // Port 1 on loopback: nothing listens there.
    AsClient nowhere(r, At("http://127.0.0.1:1"));
    unreachable = co_await nowhere.Attest(SampleEvidence(kRuntime));
  });
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(rejected.status().message(), HasSubstr("Policy `missing_cpu.rego` not found"));
  EXPECT_EQ(unreachable.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(unreachable.status().message(), HasSubstr("Attestation Service: POST "));
}

}  // namespace
}  // namespace tng::attestation
