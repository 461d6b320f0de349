// Peers for the RA-TLS issuer, verifier and RaTls tests: an in-process Attester for the sample TEE
// (with switches to fail or to lie about the report data) and the reference AS served over
// loopback HTTP on a test reactor.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <string>

#include "attestation/attester.h"
#include "core/http/server.h"
#include "core/net.h"
#include "crypto/base64.h"
#include "crypto/str_cat.h"
#include "gtest/gtest.h"
#include "tools/reference_as/service.h"

namespace tng::testing {

// Answers as the reference AA does: {"svn":"1","report_data": base64(runtime data)}.
class SampleAttester : public attestation::Attester {
 public:
  struct Switches {
    std::atomic<bool> fail{false};
    std::atomic<bool> wrong_report_data{false};
    std::atomic<int> calls{0};
  };
  explicit SampleAttester(std::shared_ptr<Switches> switches) : switches_(std::move(switches)) {}

  Task<absl::StatusOr<attestation::AttesterEvidence>> GetEvidence(
      std::span<const uint8_t> runtime_data) override {
    ++switches_->calls;
    if (switches_->fail) co_return absl::UnavailableError("sample attester switched off");
    std::vector<uint8_t> report(runtime_data.begin(), runtime_data.end());
    if (switches_->wrong_report_data) report.assign(48, 0x5a);
    const std::string evidence =
        crypto::StrCat(R"({"svn":"1","report_data":")", crypto::Base64Encode(report), "\"}");
    attestation::AttesterEvidence out;
    out.tee_type = "sample";
    out.evidence.assign(evidence.begin(), evidence.end());
    co_return out;
  }
  std::string Describe() const override { return "sample attester"; }

 private:
  std::shared_ptr<Switches> switches_;
};

// The reference AS on 127.0.0.1:<ephemeral>, served by `reactor` once Start() ran there.
class LocalAs {
 public:
  LocalAs(Reactor& reactor, reference_as::ServiceOptions options, bool untrusted_key = false) {
    auto signer = reference_as::TokenSigner::Create(std::time(nullptr), untrusted_key);
    EXPECT_TRUE(signer.ok()) << signer.status();
    service_ = std::make_unique<reference_as::Service>(*std::move(signer), std::move(options));
    auto fd = ListenTcp(*SocketAddress::FromLiteral("127.0.0.1", 0));
    EXPECT_TRUE(fd.ok()) << fd.status();
    SocketAddress bound;
    EXPECT_EQ(getsockname(fd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
    url_ = "http://" + bound.ToString();
    server_ = std::make_unique<http::HttpServer>(
        reactor, std::move(*fd), [this](const http::Request& request) -> Task<http::Response> {
          ++requests_;
          if (request.parsed.path == "/attestation") ++attestations_;
          auto answer = service_->Handle(request.method, request.parsed.path, request.body,
                                         std::time(nullptr));
          http::Response response;
          response.status = answer.status;
          response.body = std::move(answer.body);
          co_return response;
        });
  }
  void Start() { server_->Start(); }  // on the reactor's thread
  const std::string& url() const { return url_; }
  int attestations() const { return attestations_; }
  std::string chain_pem() const { return service_->signer().CertificateChainPem(); }

 private:
  std::unique_ptr<reference_as::Service> service_;
  std::unique_ptr<http::HttpServer> server_;
  std::string url_;
  int requests_ = 0;
  int attestations_ = 0;
};

}  // namespace tng::testing
