#include "endpoints/tunnel/ra_tls.h"

#include "absl/strings/str_cat.h"
#include "attestation/dummy_cert.h"

namespace tng::tunnel {

absl::StatusOr<std::unique_ptr<RaTls>> RaTls::Create(const config::RaOptions& ra,
                                                     crypto::TlsRole role) {
  std::unique_ptr<RaTls> t(new RaTls());
  t->ra_ = ra;
  if (ra.attest || ra.verify) {
    // The schema refuses these until remote attestation lands; never fall back to no_ra.
    return absl::UnimplementedError("remote attestation (attest/verify) is not supported yet");
  }
  crypto::TlsContextOptions options;
  options.role = role;
  options.alpn = "rats-tls";
  if (role == crypto::TlsRole::kServer) {
    // A side with nothing to attest presents the fixed dummy certificate (TNG's behaviour).
    auto cert = attestation::DummyCertDer();
    auto key = attestation::DummyKeyDer();
    options.cert_der.assign(cert.begin(), cert.end());
    options.key_der.assign(key.begin(), key.end());
  }
  auto ctx = crypto::TlsContext::Create(options);
  if (!ctx.ok()) return ctx.status();
  t->context_ = std::move(*ctx);
  return t;
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::Handshake(TcpStream tcp, Duration timeout) {
  auto session = crypto::TlsSession::Create(*context_);
  if (!session.ok()) co_return session.status();
  auto stream = std::make_unique<TlsStream>(std::move(tcp), std::move(*session));
  if (auto st = co_await stream->Handshake(timeout); !st.ok()) co_return st;
  if (auto st = CheckPeer(stream->session()); !st.ok()) co_return st;
  co_return std::move(stream);
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::Connect(TcpStream tcp, Duration timeout) {
  return Handshake(std::move(tcp), timeout);
}

Task<absl::StatusOr<std::unique_ptr<TlsStream>>> RaTls::Accept(TcpStream tcp, Duration timeout) {
  return Handshake(std::move(tcp), timeout);
}

absl::Status RaTls::CheckPeer(crypto::TlsSession& session) const {
  if (session.NegotiatedAlpn() != "rats-tls") {
    return absl::PermissionDeniedError(absl::StrCat("peer did not negotiate ALPN rats-tls (got '",
                                                    session.NegotiatedAlpn(), "')"));
  }
  // no_ra: the side has nothing to verify and accepts any certificate.
  return absl::OkStatus();
}

}  // namespace tng::tunnel
