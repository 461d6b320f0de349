// The RA-TLS verifier against the reference AS on loopback: background check and passport
// certificates made by the issuer, the result cache, and each reason to reject a peer.
#include "attestation/ratls_verifier.h"

#include <atomic>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attestation/dummy_cert.h"
#include "attestation/ear_token.h"
#include "attestation/ratls_issuer.h"
#include "core/connection_scope.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/attestation_peers.h"

namespace tng::attestation {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tng::testing::LocalAs;
using tng::testing::SampleAttester;
using Model = RatlsVerifierOptions::Model;

// One reactor serving the reference AS; Run(body) runs body(as, reactor) there.
class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::Create(0, {});
    ASSERT_TRUE(r.ok());
    reactor_ = std::move(*r);
  }
  void StartAs(reference_as::ServiceOptions options = {}, bool untrusted_key = false) {
    as_ = std::make_unique<LocalAs>(*reactor_, std::move(options), untrusted_key);
  }
  void Run(std::function<Task<void>()> body) {
    auto task = [](Reactor& r, std::function<Task<void>()> body) -> Task<void> {
      ConnectionScope scope(r);
      co_await body();
      r.BeginDrain();
    };
    reactor_->Post([this, body, task] {
      if (as_) as_->Start();
      Spawn(task(*reactor_, body));
    });
    reactor_->Run();
  }
  // An RA-TLS certificate from the issuer (on the running reactor).
  Task<std::vector<uint8_t>> MakeCert(bool passport, bool wrong_report_data = false) {
    auto switches = std::make_shared<SampleAttester::Switches>();
    switches->wrong_report_data = wrong_report_data;
    RatlsIssuerOptions o;
    if (passport) {
      o.passport.emplace();
      o.passport->as.as_addr = as_->url();
      o.passport->policy_ids = {"default"};
    }
    RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), std::move(o));
    auto m = co_await issuer.Issue();
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) co_return std::vector<uint8_t>{};
    co_return (*m)->cert_der;
  }
  RatlsVerifierOptions Options(Model model) {
    RatlsVerifierOptions o;
    o.model = model;
    o.as_addr = as_->url();
    o.policy_ids = {"default"};
    o.now = [this] { return now_.load(); };
    return o;
  }
  AsClient& Client() {
    if (!client_) {
      AsClientOptions options;
      options.as_addr = as_->url();
      client_ = std::make_unique<AsClient>(*reactor_, std::move(options));
    }
    return *client_;
  }

  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<LocalAs> as_;
  std::unique_ptr<AsClient> client_;
  std::atomic<int64_t> now_{std::time(nullptr)};
};

TEST_F(VerifierTest, BackgroundCheckVerifiesAndCachesUntilTheTokenExpires) {
  reference_as::ServiceOptions options;
  options.token_ttl_seconds = 300;
  StartAs(options);
  RatlsVerifier verifier(Options(Model::kBackgroundCheck));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(false);
    auto first = co_await verifier.Verify(cert, &Client());
    EXPECT_TRUE(first.ok()) << first.status();
    if (!first.ok()) co_return;
    EXPECT_EQ(first->tee_type, "sample");
    EXPECT_THAT(first->policy_ids, ElementsAre("default"));
    EXPECT_FALSE(first->from_cache);
    EXPECT_EQ(as_->attestations(), 1);
    // Same evidence again: from the cache, no AS call.
    auto second = co_await verifier.Verify(cert, &Client());
    EXPECT_TRUE(second.ok() && second->from_cache);
    EXPECT_EQ(as_->attestations(), 1);
    // Past the token's exp the evidence goes to the AS again (its new token is within the
    // verifier's clock-skew tolerance at the moved clock).
    now_ += 301;
    auto after_expiry = co_await verifier.Verify(cert, &Client());
    EXPECT_TRUE(after_expiry.ok()) << after_expiry.status();
    EXPECT_FALSE(after_expiry.ok() && after_expiry->from_cache);
    EXPECT_EQ(as_->attestations(), 2);
  });
}

TEST_F(VerifierTest, PassportVerifiesTheTokenWithoutAnAttestationCall) {
  StartAs();
  RatlsVerifier verifier(Options(Model::kPassport));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(true);
    const int before = as_->attestations();
    auto peer = co_await verifier.Verify(cert, &Client());
    EXPECT_TRUE(peer.ok()) << peer.status();
    if (peer.ok()) {
      EXPECT_EQ(peer->tee_type, "sample");
    }
    EXPECT_EQ(as_->attestations(), before);  // only /certificate was asked
  });
}

TEST_F(VerifierTest, PassportWithTrustedCertsNeedsNoAs) {
  StartAs();
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(true);
    RatlsVerifierOptions o = Options(Model::kPassport);
    o.as_addr.clear();
    const std::string pem = as_->chain_pem();
    auto anchors = ParseCertificateList(
        std::span(reinterpret_cast<const uint8_t*>(pem.data()), pem.size()), "test");
    EXPECT_TRUE(anchors.ok());
    o.trusted_certs = *anchors;
    RatlsVerifier verifier(std::move(o));
    auto peer = co_await verifier.Verify(cert, nullptr);
    EXPECT_TRUE(peer.ok()) << peer.status();
  });
}

TEST_F(VerifierTest, ExpiredPassportTokenIsRejected) {
  reference_as::ServiceOptions options;
  options.token_ttl_seconds = 60;
  StartAs(options);
  RatlsVerifier verifier(Options(Model::kPassport));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(true);
    now_ += 3600;
    auto peer = co_await verifier.Verify(cert, &Client());
    EXPECT_FALSE(peer.ok());
    EXPECT_THAT(peer.status().message(), HasSubstr("AS token exp"));
  });
}

TEST_F(VerifierTest, DenyingPolicyIsRejected) {
  reference_as::ServiceOptions options;
  options.policies = {{"strict", reference_as::PolicyVerdict::kDeny}};
  StartAs(options);
  RatlsVerifierOptions o = Options(Model::kBackgroundCheck);
  o.policy_ids = {"strict"};
  RatlsVerifier verifier(std::move(o));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(false);
    auto peer = co_await verifier.Verify(cert, &Client());
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kPermissionDenied) << peer.status();
    EXPECT_THAT(peer.status().message(), HasSubstr("contraindicated"));
    EXPECT_EQ(verifier.cache_size(), 0u);
  });
}

TEST_F(VerifierTest, TokenWithoutTheConfiguredPolicyIsRejected) {
  StartAs();
  RatlsVerifierOptions o = Options(Model::kPassport);
  o.policy_ids = {"default", "other"};
  RatlsVerifier verifier(std::move(o));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(true);  // appraised against "default" only
    auto peer = co_await verifier.Verify(cert, &Client());
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kPermissionDenied) << peer.status();
    EXPECT_THAT(peer.status().message(), HasSubstr("policy"));
  });
}

TEST_F(VerifierTest, EvidenceWithWrongReportDataIsRejectedByTheAs) {
  StartAs();
  RatlsVerifier verifier(Options(Model::kBackgroundCheck));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(false, /*wrong_report_data=*/true);
    auto peer = co_await verifier.Verify(cert, &Client());
    EXPECT_FALSE(peer.ok());
    EXPECT_THAT(peer.status().message(), HasSubstr("AS rejected the peer's evidence"));
  });
}

TEST_F(VerifierTest, UntrustedTokenSignerIsRejected) {
  StartAs({}, /*untrusted_key=*/true);
  RatlsVerifier verifier(Options(Model::kBackgroundCheck));
  Run([&]() -> Task<void> {
    auto cert = co_await MakeCert(false);
    auto peer = co_await verifier.Verify(cert, &Client());
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated) << peer.status();
  });
}

TEST_F(VerifierTest, EvidenceUnderAnotherKeyIsRejected) {
  StartAs();
  RatlsVerifier verifier(Options(Model::kBackgroundCheck));
  Run([&]() -> Task<void> {
    // A certificate for a new key carrying the evidence extension of another certificate.
    auto genuine = co_await MakeCert(false);
    auto parsed = ParseRatlsCert(genuine);
    EXPECT_TRUE(parsed.ok());
    if (!parsed.ok()) co_return;
    auto key = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
    RatlsCertOptions cert_options;
    cert_options.not_before_unix = now_.load();
    auto forged = BuildRatlsCert(*key, parsed->evidence, cert_options);
    EXPECT_TRUE(forged.ok());
    auto peer = co_await verifier.Verify(*forged, &Client());
    EXPECT_FALSE(peer.ok());
    EXPECT_THAT(peer.status().message(), HasSubstr("evidence does not bind the certificate key"));
    EXPECT_EQ(as_->attestations(), 0);
  });
}

TEST_F(VerifierTest, CertificatesWithoutEvidenceAreRejected) {
  StartAs();
  RatlsVerifier verifier(Options(Model::kBackgroundCheck));
  Run([&]() -> Task<void> {
    auto none = co_await verifier.Verify({}, &Client());
    EXPECT_THAT(none.status().message(), HasSubstr("no certificate"));
    auto dummy = co_await verifier.Verify(DummyCertDer(), &Client());
    EXPECT_THAT(dummy.status().message(), HasSubstr("no usable RA-TLS evidence"));
  });
}

}  // namespace
}  // namespace tng::attestation
