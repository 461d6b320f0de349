#include "endpoints/tunnel/ra_tls.h"

#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "attestation/dummy_cert.h"
#include "attestation/ear_token.h"
#include "core/log.h"
#include "endpoints/tunnel/attesters.h"

namespace tng::tunnel {
namespace {

// Marks a status as an attestation failure (Debian's Abseil has its own string_view: plain
// character arrays convert to both).
constexpr char kStagePayload[] = "tng/stage";
constexpr char kAttestationStage[] = "attestation";

absl::Status AttestationError(const absl::Status& status) {
  absl::Status out = status;
  out.SetPayload(kStagePayload, absl::Cord(std::string(kAttestationStage)));
  return out;
}

absl::StatusOr<std::vector<crypto::X509Certificate>> ReadTrustedCerts(
    const std::vector<std::string>& paths) {
  std::vector<crypto::X509Certificate> out;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("trusted_certs_paths: cannot read '", path, "'"));
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    auto certs =
        attestation::ParseCertificateList(bytes, absl::StrCat("trusted_certs_paths '", path, "'"));
    if (!certs.ok()) return certs.status();
    for (auto& c : *certs) out.push_back(std::move(c));
  }
  return out;
}

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

std::string_view FailureStage(const absl::Status& status) {
  return status.GetPayload(kStagePayload).has_value() ? std::string_view(kAttestationStage)
                                                      : std::string_view("handshake");
}

namespace {
// TNG's as_type "grpc" (or as_is_grpc) speaks gRPC to the AS; "restful" speaks REST.
attestation::AsTransport AsTransportFor(const std::string& as_type) {
  return as_type == "grpc" ? attestation::AsTransport::kGrpc : attestation::AsTransport::kRest;
}
}  // namespace

absl::StatusOr<RaShared> MakeRaShared(
    const config::RaOptions& ra, std::string name, const TunnelTimeouts& timeouts,
    std::function<void(bool ready, const std::string& reason)> on_status) {
  RaShared shared;
  if (ra.attest) {
    const config::AttestOptions& a = *ra.attest;
    const bool per_handshake = a.refresh_interval_s == 0;
    auto attester = MakeAttester(a, per_handshake ? timeouts.handshake : Duration::zero());
    if (!attester.ok()) return attester.status();
    attestation::RatlsIssuerOptions options;
    options.name = name;
    options.refresh_interval = std::chrono::seconds(a.refresh_interval_s);
    if (a.model == "passport") {
      if (a.as_provider != "coco" || (a.as_type != "restful" && a.as_type != "grpc") ||
          !a.as_addr) {
        return absl::UnimplementedError(absl::StrCat("passport attestation with as_provider \"",
                                                     a.as_provider, "\", as_type \"", a.as_type,
                                                     "\" is not supported yet"));
      }
      attestation::RatlsIssuerOptions::Passport passport;
      passport.as.transport = AsTransportFor(a.as_type);
      passport.as.as_addr = *a.as_addr;
      passport.as.headers = a.as_headers;
      passport.policy_ids = a.policy_ids;
      options.passport = std::move(passport);
    }
    options.on_status = on_status;
    shared.issuer =
        std::make_shared<attestation::RatlsIssuer>(std::move(*attester), std::move(options));
  }
  if (ra.verify) {
    const config::VerifyOptions& v = *ra.verify;
    if (v.as_provider != "coco" || (v.as_type != "restful" && v.as_type != "grpc")) {
      return absl::UnimplementedError(absl::StrCat("verification with as_provider \"",
                                                   v.as_provider, "\", as_type \"", v.as_type,
                                                   "\" is not supported yet"));
    }
    attestation::RatlsVerifierOptions options;
    options.model = v.model == "passport"
                        ? attestation::RatlsVerifierOptions::Model::kPassport
                        : attestation::RatlsVerifierOptions::Model::kBackgroundCheck;
    options.as_addr = v.as_addr;
    options.policy_ids = v.policy_ids;
    options.skip_cert_verify = v.skip_as_token_cert_verify;
    auto certs = ReadTrustedCerts(v.trusted_certs_paths);
    if (!certs.ok()) return certs.status();
    options.trusted_certs = std::move(*certs);
    shared.verifier = std::make_shared<attestation::RatlsVerifier>(std::move(options));
  }
  return shared;
}

absl::StatusOr<std::unique_ptr<RaTls>> RaTls::Create(const config::RaOptions& ra,
                                                     crypto::TlsRole role, RaShared shared) {
  if (ra.attest && shared.issuer == nullptr) {
    return absl::InvalidArgumentError("attest is set but no RA-TLS issuer was built for it");
  }
  if (ra.verify && shared.verifier == nullptr) {
    return absl::InvalidArgumentError("verify is set but no RA-TLS verifier was built for it");
  }
  std::unique_ptr<RaTls> t(new RaTls());
  t->ra_ = ra;
  t->role_ = role;
  t->shared_ = std::move(shared);
  if (!ra.attest) {
    // Nothing to attest: a server presents the fixed dummy certificate (TNG's behaviour), a
    // client presents none.
    auto ctx = t->MakeContext(nullptr);
    if (!ctx.ok()) return ctx.status();
    t->context_ = std::move(*ctx);
  }
  return t;
}

absl::StatusOr<std::shared_ptr<crypto::TlsContext>> RaTls::MakeContext(
    const attestation::RatlsMaterial* material) const {
  crypto::TlsContextOptions options;
  options.role = role_;
  options.alpn = "rats-tls";
  // A verifying server must see the client's evidence: no certificate, no handshake.
  options.require_peer_cert = role_ == crypto::TlsRole::kServer && ra_.verify.has_value();
  if (material != nullptr) {
    options.cert_der = material->cert_der;
    options.key_der = material->key_der;
  } else if (role_ == crypto::TlsRole::kServer) {
    auto cert = attestation::DummyCertDer();
    auto key = attestation::DummyKeyDer();
    options.cert_der.assign(cert.begin(), cert.end());
    options.key_der.assign(key.begin(), key.end());
  }
  auto ctx = crypto::TlsContext::Create(options);
  if (!ctx.ok()) return ctx.status();
  return std::shared_ptr<crypto::TlsContext>(std::move(*ctx));
}

Task<absl::StatusOr<std::shared_ptr<crypto::TlsContext>>> RaTls::AttestedContext(
    Reactor& reactor, std::chrono::steady_clock::time_point deadline, std::string* tee) {
  attestation::RatlsIssuer& issuer = *shared_.issuer;
  if (issuer.per_handshake()) {
    // refresh_interval 0: fresh evidence for this handshake (the source is bounded by the
    // handshake timeout).
    auto material = co_await issuer.Issue();
    issuer.ReportPerHandshake(material.status());
    if (!material.ok()) {
      co_return absl::UnavailableError(
          absl::StrCat("no RA-TLS certificate: ", material.status().message()));
    }
    *tee = (*material)->tee_type;
    co_return MakeContext(material->get());
  }
  // Fast path: the reactor's context is current while the generation has not moved.
  uint64_t generation = issuer.generation();
  while (generation == 0 && std::chrono::steady_clock::now() < deadline) {
    // Only until the first certificate exists (start-up): the refresher publishes it.
    co_await Sleep(reactor, std::chrono::milliseconds(20));
    generation = issuer.generation();
  }
  if (generation == 0) {
    co_return absl::UnavailableError(
        absl::StrCat("no RA-TLS certificate yet: attestation evidence from ",
                     issuer.describe_source(), " is not available"));
  }
  if (generation != context_generation_ || context_not_after_ <= UnixNow()) {
    auto material = issuer.Current();
    if (material == nullptr) {
      co_return absl::UnavailableError(
          absl::StrCat("the RA-TLS certificate expired and no new evidence is available from ",
                       issuer.describe_source()));
    }
    auto ctx = MakeContext(material.get());
    if (!ctx.ok()) co_return ctx.status();
    context_ = std::move(*ctx);
    context_generation_ = material->generation;
    context_not_after_ = material->not_after_unix;
    context_tee_ = material->tee_type;
  }
  *tee = context_tee_;
  co_return context_;
}

attestation::AsClient* RaTls::AsClientFor(Reactor& reactor) {
  if (!ra_.verify || ra_.verify->as_addr.empty()) return nullptr;
  if (as_client_ == nullptr) {
    attestation::AsClientOptions options;
    options.transport = AsTransportFor(ra_.verify->as_type);
    options.as_addr = ra_.verify->as_addr;
    options.headers = ra_.verify->as_headers;
    as_client_ = std::make_unique<attestation::AsClient>(reactor, std::move(options));
  }
  return as_client_.get();
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::Handshake(TcpStream tcp, Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Reactor& reactor = tcp.reactor();
  TunnelAttestation info;
  std::shared_ptr<crypto::TlsContext> context = context_;
  if (ra_.attest) {
    auto attested = co_await AttestedContext(reactor, deadline, &info.local_tee);
    if (!attested.ok()) co_return AttestationError(attested.status());
    context = std::move(*attested);
  }
  // The session keeps the wolfSSL context alive (reference counted) across a refresh.
  auto session = crypto::TlsSession::Create(*context);
  if (!session.ok()) co_return session.status();
  auto stream = std::make_unique<TlsStream>(std::move(tcp), std::move(*session));
  stream->set_ktls_mode(ktls_mode_);
  auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
  if (left <= Duration::zero()) left = Duration(1);
  if (auto st = co_await stream->Handshake(left); !st.ok()) co_return st;
  if (auto st = CheckAlpn(stream->session()); !st.ok()) co_return st;
  if (ra_.verify) {
    // Judge the peer before any application byte: on failure the connection is closed unused.
    const std::vector<uint8_t> peer_cert = stream->session().PeerCertificateDer();
    auto peer = co_await shared_.verifier->Verify(peer_cert, AsClientFor(reactor));
    if (!peer.ok()) {
      stream->Abort();
      co_return AttestationError(peer.status());
    }
    info.peer_verified = true;
    info.peer_tee = std::move(peer->tee_type);
    info.peer_policy_ids = std::move(peer->policy_ids);
  }
  // Judged (or not to be judged): an RA-TLS certificate carries its evidence, tens of KiB that
  // an idle connection should not keep.
  if (!keep_peer_certificates_) stream->session().ReleasePeerCertificate();
  stream->set_attestation(std::move(info));
  co_return std::move(stream);
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::Connect(TcpStream tcp, Duration timeout) {
  return Handshake(std::move(tcp), timeout);
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::Accept(TcpStream tcp, Duration timeout) {
  return Handshake(std::move(tcp), timeout);
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::ConnectFlow(TcpStream tcp,
                                                                    const InnerRequest* inner,
                                                                    Duration timeout,
                                                                    ConnectionScope* scope) {
  if (!encap_) co_return co_await Handshake(std::move(tcp), timeout);
  if (inner == nullptr) co_return absl::InternalError("encap_in_http without the inner request");
  std::shared_ptr<const CamouflageReport> report;
  auto leg = co_await Encapsulate(std::move(tcp), inner->host, encap_->OuterPath(inner->path),
                                  scope, &report);
  if (!leg.ok()) co_return leg.status();
  auto tls = co_await Handshake(std::move(*leg), timeout);
  // What broke the camouflage explains a failed handshake better than the EOF it caused.
  if (!tls.ok()) {
    if (report && !report->status.ok()) {
      co_return absl::Status(report->status.code(),
                             absl::StrCat("encap_in_http: ", report->status.message()));
    }
    co_return tls.status();
  }
  if (inner->raw.empty()) co_return std::move(*tls);
  if (int rc = co_await (*tls)->Write(
          std::span(reinterpret_cast<const uint8_t*>(inner->raw.data()), inner->raw.size()));
      rc < 0) {
    co_return absl::UnavailableError(
        absl::StrCat("sending the first request through the tunnel: ", strerror(-rc)));
  }
  co_return std::move(*tls);
}

Task<RaTls::AcceptedFlow> RaTls::AcceptFlow(Reactor& reactor, UniqueFd fd, Duration timeout,
                                            ConnectionScope* scope) {
  AcceptedFlow flow;
  if (!decap_) {
    flow.tls = co_await Handshake(TcpStream(reactor, std::move(fd), scope), timeout);
    co_return flow;
  }
  Decapsulated d =
      co_await Decapsulate(TcpStream(reactor, std::move(fd), scope), *decap_, timeout, scope);
  switch (d.kind) {
    case Decapsulated::Kind::kRefused:
      flow.stage = "camouflage";
      flow.tls =
          absl::Status(d.status.code(), absl::StrCat("decap_from_http: ", d.status.message()));
      break;
    case Decapsulated::Kind::kPlain:
      flow.stage = "camouflage";
      flow.tls = absl::FailedPreconditionError("not camouflaged: let through in plain");
      flow.plain = std::move(d.stream);
      flow.early = std::move(d.early);
      break;
    case Decapsulated::Kind::kTunnel:
      flow.tls = co_await Handshake(std::move(*d.stream), timeout);
      break;
  }
  co_return flow;
}

absl::Status RaTls::CheckAlpn(crypto::TlsSession& session) const {
  if (session.NegotiatedAlpn() != "rats-tls") {
    return absl::PermissionDeniedError(absl::StrCat("peer did not negotiate ALPN rats-tls (got '",
                                                    session.NegotiatedAlpn(), "')"));
  }
  return absl::OkStatus();
}

}  // namespace tng::tunnel
