// The RA-TLS issuer: certificates that bind a fresh key to evidence (background check) or to an
// AS token (passport), background refresh, refresh_interval 0, and failing closed when the
// evidence source fails.
#include "attestation/ratls_issuer.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "attestation/ear_token.h"
#include "core/connection_scope.h"
#include "crypto/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/attestation_peers.h"
#include "tests/unit/attestation/run_on_reactor.h"

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using tng::testing::SampleAttester;

// Records on_status calls; Wait* block (bounded) until a condition on them holds.
class StatusLog {
 public:
  std::function<void(bool, const std::string&)> Callback() {
    return [this](bool ready, const std::string& reason) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back({ready, reason});
      cv_.notify_all();
    };
  }
  // Waits until `pred(events)` holds; false after 30 s.
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return pred(events_); });
  }
  struct Event {
    bool ready;
    std::string reason;
  };
  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

RatlsIssuerOptions Options(StatusLog* log, std::chrono::seconds refresh = 600s) {
  RatlsIssuerOptions o;
  o.name = "test";
  o.refresh_interval = refresh;
  o.initial_backoff = 10ms;
  o.max_backoff = 40ms;
  if (log != nullptr) o.on_status = log->Callback();
  return o;
}

TEST(RatlsIssuerTest, CertificateBindsAFreshKeyToTheEvidence) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), Options(nullptr));
  std::vector<std::shared_ptr<const RatlsMaterial>> made;
  tng::testing::RunOnReactor([&](Reactor&) -> Task<void> {
    for (int i = 0; i < 2; ++i) {
      auto m = co_await issuer.Issue();
      EXPECT_TRUE(m.ok()) << m.status();
      if (m.ok()) made.push_back(*m);
    }
  });
  ASSERT_EQ(made.size(), 2u);
  auto cert = ParseRatlsCert(made[0]->cert_der);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->evidence.tag, kTagTngEvidence);
  EXPECT_TRUE(cert->has_endorsement_extension);
  EXPECT_TRUE(VerifySelfSigned(*cert).ok());
  auto binding = CheckTngEvidenceBinding(*cert);
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ(binding->evidence.tee_type, "sample");
  EXPECT_EQ(binding->evidence.aa_runtime_data, TngClaimsJson(cert->spki_der()));
  // The evidence's report data is the SHA-384 of the claims.
  const std::string evidence(binding->evidence.aa_evidence.begin(),
                             binding->evidence.aa_evidence.end());
  EXPECT_THAT(evidence, HasSubstr(crypto::Base64Encode(binding->runtime_data_hash)));
  // The key belongs to the certificate, and every issue has a new one.
  auto key = crypto::EcPrivateKey::FromDer(made[0]->key_der);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->public_spki_der(),
            std::vector<uint8_t>(cert->spki_der().begin(), cert->spki_der().end()));
  auto second = ParseRatlsCert(made[1]->cert_der);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(std::vector<uint8_t>(second->spki_der().begin(), second->spki_der().end()),
            std::vector<uint8_t>(cert->spki_der().begin(), cert->spki_der().end()));
  EXPECT_EQ(made[0]->tee_type, "sample");
  EXPECT_EQ(switches->calls, 2);
}

TEST(RatlsIssuerTest, PassportCertificateCarriesTheAsToken) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  std::string chain;
  std::shared_ptr<const RatlsMaterial> made;
  auto reactor = Reactor::Create(0, {});
  ASSERT_TRUE(reactor.ok());
  Reactor& r = **reactor;
  tng::testing::LocalAs as(r, {});
  RatlsIssuerOptions o = Options(nullptr);
  o.passport.emplace();
  o.passport->as.as_addr = as.url();
  o.passport->policy_ids = {"default"};
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), std::move(o));
  auto body = [&]() -> Task<void> {
    ConnectionScope scope(r);
    auto m = co_await issuer.Issue();
    EXPECT_TRUE(m.ok()) << m.status();
    if (m.ok()) made = *m;
    r.BeginDrain();
  };
  r.Post([&] {
    as.Start();
    Spawn(body());
  });
  r.Run();
  ASSERT_NE(made, nullptr);
  auto cert = ParseRatlsCert(made->cert_der);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->evidence.tag, kTagTngToken);
  const std::string token(cert->evidence.evidence.begin(), cert->evidence.evidence.end());
  auto anchors = ParseCertificateList(
      std::span(reinterpret_cast<const uint8_t*>(as.chain_pem().data()), as.chain_pem().size()),
      "AS");
  ASSERT_TRUE(anchors.ok());
  EarTokenOptions eo;
  eo.trusted_certs = *anchors;
  eo.policy_ids = {"default"};
  eo.expected_runtime_data = TngClaimsJson(cert->spki_der());
  eo.now_unix = std::time(nullptr);
  auto verified = VerifyAsToken(token, eo);
  EXPECT_TRUE(verified.ok()) << verified.status();
}

TEST(RatlsIssuerTest, PublishesAtStartAndRefreshes) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  StatusLog log;
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), Options(&log, 1s));
  EXPECT_EQ(issuer.generation(), 0u);
  EXPECT_EQ(issuer.Current(), nullptr);
  issuer.Start();
  ASSERT_TRUE(log.WaitFor([](auto& e) { return !e.empty(); }));
  EXPECT_TRUE(log.events()[0].ready);
  auto first = issuer.Current();
  ASSERT_NE(first, nullptr);
  EXPECT_GE(first->generation, 1u);
  // The next refresh publishes new material under a new generation.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (issuer.generation() == first->generation && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  auto second = issuer.Current();
  ASSERT_NE(second, nullptr);
  EXPECT_GT(second->generation, first->generation);
  EXPECT_NE(second->cert_der, first->cert_der);
}

TEST(RatlsIssuerTest, FailedRefreshKeepsTheOldMaterialAndReportsNotReady) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  StatusLog log;
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), Options(&log, 1s));
  issuer.Start();
  ASSERT_TRUE(log.WaitFor([](auto& e) { return !e.empty(); }));
  auto first = issuer.Current();
  ASSERT_NE(first, nullptr);
  switches->fail = true;
  ASSERT_TRUE(log.WaitFor([](auto& e) { return e.size() >= 2; }));
  auto events = log.events();
  EXPECT_FALSE(events[1].ready);
  EXPECT_THAT(events[1].reason, HasSubstr("sample attester switched off"));
  EXPECT_THAT(events[1].reason, HasSubstr("still presenting the previous certificate"));
  EXPECT_EQ(issuer.Current(), first);
  // Retries with backoff (each failure is reported), and recovers.
  ASSERT_TRUE(log.WaitFor([](auto& e) { return e.size() >= 4; }));
  switches->fail = false;
  ASSERT_TRUE(log.WaitFor([](auto& e) { return e.back().ready; }));
  EXPECT_GT(issuer.Current()->generation, first->generation);
}

TEST(RatlsIssuerTest, WithoutEvidenceThereIsNoMaterial) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  switches->fail = true;
  StatusLog log;
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), Options(&log));
  issuer.Start();
  ASSERT_TRUE(log.WaitFor([](auto& e) { return !e.empty(); }));
  EXPECT_FALSE(log.events()[0].ready);
  EXPECT_THAT(log.events()[0].reason, HasSubstr("handshakes fail until it is available"));
  EXPECT_EQ(issuer.generation(), 0u);
  EXPECT_EQ(issuer.Current(), nullptr);
}

TEST(RatlsIssuerTest, ExpiredMaterialIsNotHandedOut) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  StatusLog log;
  std::atomic<int64_t> now{std::time(nullptr)};
  RatlsIssuerOptions o = Options(&log);
  o.now = [&now] { return now.load(); };
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), std::move(o));
  issuer.Start();
  ASSERT_TRUE(log.WaitFor([](auto& e) { return !e.empty(); }));
  ASSERT_NE(issuer.Current(), nullptr);
  now += 6 * 3600;
  EXPECT_EQ(issuer.Current(), nullptr);
}

TEST(RatlsIssuerTest, RefreshIntervalZeroIssuesPerHandshakeOnly) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  StatusLog log;
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), Options(&log, 0s));
  EXPECT_TRUE(issuer.per_handshake());
  issuer.Start();
  // One probe tells readiness; nothing is published for handshakes to share.
  ASSERT_TRUE(log.WaitFor([](auto& e) { return !e.empty(); }));
  EXPECT_TRUE(log.events()[0].ready);
  EXPECT_EQ(issuer.generation(), 0u);
  switches->fail = true;
  tng::testing::RunOnReactor([&](Reactor&) -> Task<void> {
    auto m = co_await issuer.Issue();
    EXPECT_FALSE(m.ok());
    issuer.ReportPerHandshake(m.status());
  });
  ASSERT_TRUE(log.WaitFor([](auto& e) { return e.size() >= 2; }));
  EXPECT_FALSE(log.events()[1].ready);
}

// OpenSSL (what TNG's Rust peers and operators inspect certificates with) reads the certificate
// and shows both RA-TLS extensions.
TEST(RatlsIssuerTest, OpensslShowsBothExtensions) {
  auto switches = std::make_shared<SampleAttester::Switches>();
  RatlsIssuer issuer(std::make_unique<SampleAttester>(switches), Options(nullptr));
  std::vector<uint8_t> der;
  tng::testing::RunOnReactor([&](Reactor&) -> Task<void> {
    auto m = co_await issuer.Issue();
    EXPECT_TRUE(m.ok()) << m.status();
    if (m.ok()) der = (*m)->cert_der;
  });
  ASSERT_FALSE(der.empty());
  char path[] = "/tmp/tng-ratls-cert-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, der.data(), der.size()), static_cast<ssize_t>(der.size()));
  ::close(fd);
  const std::string command =
      std::string("openssl x509 -inform DER -noout -text -in ") + path + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int rc = ::pclose(p);
  ::unlink(path);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("2.23.133.5.4.9:"));
  EXPECT_THAT(out, HasSubstr("2.23.133.5.4.2:"));
  EXPECT_THAT(out, HasSubstr("Subject: O = Inclavare Containers, CN = TNG"));
  EXPECT_THAT(out, HasSubstr("prime256v1"));
}

}  // namespace
}  // namespace tng::attestation
