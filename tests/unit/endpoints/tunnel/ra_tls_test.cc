// RaTls over loopback with the reference AA (a child process, over ttrpc) and the reference AS (on
// the test's reactor): every trust combination, and each way a peer check or the attestation
// material can fail closed.
#include "endpoints/tunnel/ra_tls.h"

#include <chrono>
#include <string>

#include "attestation/ratls_cert.h"
#include "core/connection_scope.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/attestation_peers.h"
#include "tests/unit/attestation/reference_aa_process.h"
#include "tests/unit/core/test_sockets.h"

namespace tng::tunnel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct SideResult {
  absl::Status status = absl::UnknownError("not run");
  TunnelAttestation attestation;
  std::string received;
  std::vector<uint8_t> peer_cert;
};

class RaTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    aa_ = std::make_unique<tng::testing::ReferenceAa>(std::vector<std::string>{});
    ASSERT_TRUE(aa_->WaitListening()) << aa_->Log();
    auto r = Reactor::Create(0, {});
    ASSERT_TRUE(r.ok());
    reactor_ = std::move(*r);
    reference_as::ServiceOptions as_options;
    as_options.policies = {{"strict", reference_as::PolicyVerdict::kDeny}};
    as_ = std::make_unique<tng::testing::LocalAs>(*reactor_, std::move(as_options));
  }

  config::RaOptions Attest(uint64_t refresh = 600, std::string aa_addr = "") {
    config::RaOptions ra;
    ra.attest.emplace();
    ra.attest->aa_addr = aa_addr.empty() ? aa_->address() : aa_addr;
    ra.attest->refresh_interval_s = refresh;
    return ra;
  }
  config::RaOptions Verify(config::RaOptions ra = {}, std::string policy = "default") {
    ra.verify.emplace();
    ra.verify->as_addr = as_->url();
    ra.verify->policy_ids = {policy};
    return ra;
  }
  static config::RaOptions NoRa() {
    config::RaOptions ra;
    ra.no_ra = true;
    return ra;
  }
  std::unique_ptr<RaTls> Make(const config::RaOptions& ra, crypto::TlsRole role) {
    auto shared = MakeRaShared(ra, "test", timeouts_, nullptr);
    EXPECT_TRUE(shared.ok()) << shared.status();
    if (!shared.ok()) return nullptr;
    if (shared->issuer) shared->issuer->Start();
    auto t = RaTls::Create(ra, role, *shared);
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) return nullptr;
    (*t)->set_keep_peer_certificates(true);  // the tests look at the evidence
    return std::move(*t);
  }

  // `n` connections one after the other: the client sends "ping", the server answers "pong";
  // both sides' results. The reactor (and the AS on it) runs once per test.
  std::vector<std::pair<SideResult, SideResult>> RunMany(RaTls& client, RaTls& server, int n,
                                                         Duration timeout = 20s) {
    std::vector<std::pair<SideResult, SideResult>> results(n);
    Reactor& r = *reactor_;
    auto side = [&r, timeout](RaTls& ra, bool is_client, UniqueFd fd,
                              SideResult* out) -> Task<void> {
      ConnectionScope scope(r);
      TcpStream tcp(r, std::move(fd), &scope);
      // Not a conditional expression: GCC 12 miscompiles co_await inside ?:.
      absl::StatusOr<std::unique_ptr<TlsStream>> t = absl::UnknownError("not run");
      if (is_client) {
        t = co_await ra.Connect(std::move(tcp), timeout);
      } else {
        t = co_await ra.Accept(std::move(tcp), timeout);
      }
      out->status = t.status();
      if (!t.ok()) co_return;
      out->attestation = (*t)->attestation();
      // A server that asked for no client certificate must not ask wolfSSL 5.5.4 for it (it
      // dereferences a missing session there).
      if (is_client) out->peer_cert = (*t)->session().PeerCertificateDer();
      if (is_client) {
        EXPECT_EQ(co_await (*t)->Write(Bytes("ping")), 0);
      }
      uint8_t buf[16];
      int got = co_await (*t)->Read(std::span(buf));
      if (got > 0) out->received.assign(reinterpret_cast<char*>(buf), got);
      if (!is_client) {
        // A client that rejected this server has gone: only an answered ping must be sent.
        int rc = co_await (*t)->Write(Bytes("pong"));
        if (!out->received.empty()) {
          EXPECT_EQ(rc, 0);
        }
      }
      co_await (*t)->ShutdownWrite();
      while (co_await (*t)->Read(std::span(buf)) > 0) {
      }
    };
    auto all = [&]() -> Task<void> {
      ConnectionScope scope(r);
      for (auto& [cr, sr] : results) {
        auto [c, s] = tng::testing::TcpPair();
        Spawn(side(server, false, std::move(s), &sr));
        co_await side(client, true, std::move(c), &cr);
      }
      r.BeginDrain();  // Run() returns once the server sides have ended too
    };
    r.Post([&] {
      as_->Start();
      Spawn(all());
    });
    r.Run();
    return results;
  }
  std::pair<SideResult, SideResult> Run(RaTls& client, RaTls& server, Duration timeout = 20s) {
    return RunMany(client, server, 1, timeout)[0];
  }

  TunnelTimeouts timeouts_;
  std::unique_ptr<tng::testing::ReferenceAa> aa_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<tng::testing::LocalAs> as_;
};

TEST_F(RaTlsTest, OneWayClientVerifiesAttestingServer) {
  auto client = Make(Verify(), crypto::TlsRole::kClient);
  auto server = Make(Attest(), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_EQ(s.received, "ping");
  EXPECT_EQ(c.received, "pong");
  EXPECT_TRUE(c.attestation.peer_verified);
  EXPECT_EQ(c.attestation.peer_tee, "sample");
  EXPECT_THAT(c.attestation.peer_policy_ids, ElementsAre("default"));
  EXPECT_EQ(c.attestation.local_tee, "");
  EXPECT_EQ(s.attestation.local_tee, "sample");
  EXPECT_FALSE(s.attestation.peer_verified);
  auto cert = attestation::ParseRatlsCert(c.peer_cert);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->evidence.tag, attestation::kTagTngEvidence);
}

TEST_F(RaTlsTest, TwoWayBothAttestAndVerify) {
  auto client = Make(Verify(Attest()), crypto::TlsRole::kClient);
  auto server = Make(Verify(Attest()), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_EQ(s.received, "ping");
  EXPECT_EQ(c.received, "pong");
  EXPECT_TRUE(c.attestation.peer_verified);
  EXPECT_TRUE(s.attestation.peer_verified);
  EXPECT_EQ(s.attestation.peer_tee, "sample");
  EXPECT_EQ(c.attestation.local_tee, "sample");
  EXPECT_EQ(s.attestation.local_tee, "sample");
}

TEST_F(RaTlsTest, ReverseClientAttestsServerVerifiesWithTheDummyCertificate) {
  auto client = Make(Attest(), crypto::TlsRole::kClient);
  auto server = Make(Verify(), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_EQ(s.received, "ping");
  EXPECT_TRUE(s.attestation.peer_verified);
  EXPECT_EQ(s.attestation.peer_tee, "sample");
  EXPECT_EQ(c.attestation.local_tee, "sample");
  // The server had nothing to attest: the dummy certificate, without evidence.
  EXPECT_FALSE(attestation::ParseRatlsCert(c.peer_cert).ok());
}

TEST_F(RaTlsTest, NoRaStillWorks) {
  auto client = Make(NoRa(), crypto::TlsRole::kClient);
  auto server = Make(NoRa(), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_EQ(c.received, "pong");
  EXPECT_FALSE(c.attestation.peer_verified);
}

TEST_F(RaTlsTest, PerHandshakeEvidenceWithRefreshIntervalZero) {
  auto client = Make(Verify(), crypto::TlsRole::kClient);
  auto server = Make(Attest(/*refresh=*/0), crypto::TlsRole::kServer);
  auto results = RunMany(*client, *server, 2);
  ASSERT_TRUE(results[0].first.status.ok()) << results[0].first.status;
  ASSERT_TRUE(results[1].first.status.ok()) << results[1].first.status;
  EXPECT_EQ(results[1].second.received, "ping");
  // A fresh certificate per handshake.
  EXPECT_NE(results[0].first.peer_cert, results[1].first.peer_cert);
}

TEST_F(RaTlsTest, ClientRejectsServerWithoutEvidence) {
  auto client = Make(Verify(), crypto::TlsRole::kClient);
  auto server = Make(NoRa(), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  ASSERT_FALSE(c.status.ok());
  EXPECT_EQ(FailureStage(c.status), "attestation");
  EXPECT_THAT(c.status.message(), HasSubstr("no usable RA-TLS evidence"));
  EXPECT_EQ(s.received, "");  // nothing was relayed
}

TEST_F(RaTlsTest, ServerRejectsClientWithoutCertificate) {
  auto client = Make(NoRa(), crypto::TlsRole::kClient);
  auto server = Make(Verify(), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  EXPECT_FALSE(s.status.ok());
  EXPECT_EQ(s.received, "");
}

TEST_F(RaTlsTest, DenyingPolicyFailsTheHandshake) {
  auto client = Make(Verify({}, "strict"), crypto::TlsRole::kClient);
  auto server = Make(Attest(), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server);
  ASSERT_FALSE(c.status.ok());
  EXPECT_EQ(FailureStage(c.status), "attestation");
  EXPECT_THAT(c.status.message(), HasSubstr("contraindicated"));
  EXPECT_EQ(s.received, "");
}

TEST_F(RaTlsTest, WithoutAnAaTheAttestingSideFailsClosed) {
  auto client = Make(Verify(), crypto::TlsRole::kClient);
  auto server =
      Make(Attest(600, "unix://" + aa_->dir() + "/missing.sock"), crypto::TlsRole::kServer);
  auto [c, s] = Run(*client, *server, 1s);
  ASSERT_FALSE(s.status.ok());
  EXPECT_EQ(FailureStage(s.status), "attestation");
  EXPECT_THAT(s.status.message(), HasSubstr("no RA-TLS certificate yet"));
  EXPECT_FALSE(c.status.ok());
}

}  // namespace
}  // namespace tng::tunnel
