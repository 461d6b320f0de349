// The attested TLS layer of one endpoint: which certificate this side presents (its RA-TLS
// certificate when it attests, else the dummy one on a server), whether it asks for the peer's,
// and how the peer is judged after the handshake. One RaTls per endpoint per reactor; the issuer
// and verifier behind it (RaShared) are one per endpoint, shared by all reactors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "attestation/as_client.h"
#include "attestation/ratls_issuer.h"
#include "attestation/ratls_verifier.h"
#include "core/connection_scope.h"
#include "core/net.h"
#include "crypto/tls_session.h"
#include "endpoints/config/options.h"
#include "endpoints/tunnel/http_camouflage.h"
#include "endpoints/tunnel/tls_stream.h"

namespace tng::tunnel {

struct TunnelTimeouts {
  Duration connect = std::chrono::seconds(10);
  Duration handshake = std::chrono::seconds(10);
};

// The per-endpoint attestation state: set for `attest` and `verify` respectively.
// The endpoint's HTTP camouflage rides along: built once, used by every reactor's RaTls.
struct RaShared {
  std::shared_ptr<attestation::RatlsIssuer> issuer;
  std::shared_ptr<attestation::RatlsVerifier> verifier;
  std::shared_ptr<const HttpEncap> encap;  // encap_in_http of an ingress
  std::shared_ptr<const HttpDecap> decap;  // decap_from_http of an egress
};

// Builds the issuer (not started) and verifier of an endpoint's RA settings: reads
// trusted_certs_paths, picks the evidence source. `name` names the endpoint in logs; `on_status`
// is told when the attestation material becomes available or unavailable.
absl::StatusOr<RaShared> MakeRaShared(
    const config::RaOptions& ra, std::string name, const TunnelTimeouts& timeouts,
    std::function<void(bool ready, const std::string& reason)> on_status);

// "attestation" for errors of the attestation checks or material, else "handshake": the stage
// the access log names.
std::string_view FailureStage(const absl::Status& status);

class RaTls {
 public:
  // `role`: ingress endpoints are TLS clients, egress endpoints TLS servers. `shared` must hold
  // an issuer when ra.attest is set and a verifier when ra.verify is set.
  static absl::StatusOr<std::unique_ptr<RaTls>> Create(const config::RaOptions& ra,
                                                       crypto::TlsRole role, RaShared shared = {});

  // Ingress: TLS client handshake on a connected socket, then the peer check. No application
  // byte may be sent before this returns a stream.
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> Connect(TcpStream tcp, Duration timeout);
  // Egress: TLS server handshake on an accepted socket, then the client check.
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> Accept(TcpStream tcp, Duration timeout);

  // The HTTP camouflage under this layer (encap_in_http on an ingress, decap_from_http on an
  // egress), when the endpoint has one; the endpoints build their flows with the two below.
  void set_encap(std::shared_ptr<const HttpEncap> encap) { encap_ = std::move(encap); }
  void set_decap(std::shared_ptr<const HttpDecap> decap) { decap_ = std::move(decap); }
  const HttpEncap* encap() const { return encap_.get(); }

  // Ingress flow over a connected socket: Connect, inside the camouflage when there is one.
  // Then `inner` (required with encap(): the application's first request, read by
  // ReadInnerRequest) goes first through the tunnel. Failures of the camouflage say so.
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> ConnectFlow(TcpStream tcp,
                                                               const InnerRequest* inner,
                                                               Duration timeout,
                                                               ConnectionScope* scope);
  // Egress flow on an accepted socket: Accept, behind the camouflage when there is one. A
  // request the camouflage lets through in plain (allow_non_tng_traffic_regexes) comes back as
  // `plain` with the bytes already read of it in `early`; `stage` names what failed.
  struct AcceptedFlow {
    absl::StatusOr<std::unique_ptr<TlsStream>> tls = absl::UnknownError("not accepted");
    std::unique_ptr<TcpStream> plain;
    std::string early;
    const char* stage = "handshake";
  };
  Task<AcceptedFlow> AcceptFlow(Reactor& reactor, UniqueFd fd, Duration timeout,
                                ConnectionScope* scope);

  // The peer's certificate is dropped once judged (RA-TLS certificates carry their evidence);
  // diagnostics and tests that inspect it after the handshake keep it.
  void set_keep_peer_certificates(bool keep) { keep_peer_certificates_ = keep; }

  // Benchmarks only (`tng launch --bench-plain-tunnel`): endpoints skip this layer and relay
  // plaintext, so the relay can be measured without TLS.
  void set_bench_plaintext(bool on) { bench_plaintext_ = on; }
  // Whether streams hand their records to the kernel (kTLS) after the handshake.
  void set_ktls_mode(KtlsMode mode) { ktls_mode_ = mode; }
  bool bench_plaintext() const { return bench_plaintext_; }

 private:
  RaTls() = default;
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> Handshake(TcpStream tcp, Duration timeout);
  // The context presenting the current RA-TLS certificate (waits for the first one, bounded by
  // `deadline`; per handshake with refresh_interval 0).
  Task<absl::StatusOr<std::shared_ptr<crypto::TlsContext>>> AttestedContext(
      Reactor& reactor, std::chrono::steady_clock::time_point deadline, std::string* tee);
  absl::StatusOr<std::shared_ptr<crypto::TlsContext>> MakeContext(
      const attestation::RatlsMaterial* material) const;
  absl::Status CheckAlpn(crypto::TlsSession& session) const;
  attestation::AsClient* AsClientFor(Reactor& reactor);

  config::RaOptions ra_;
  crypto::TlsRole role_ = crypto::TlsRole::kClient;
  RaShared shared_;
  // Without attest: fixed. With attest: the one for material generation context_generation_.
  std::shared_ptr<crypto::TlsContext> context_;
  uint64_t context_generation_ = 0;
  int64_t context_not_after_ = 0;
  std::string context_tee_;
  std::unique_ptr<attestation::AsClient> as_client_;
  bool keep_peer_certificates_ = false;
  bool bench_plaintext_ = false;
  std::shared_ptr<const HttpEncap> encap_;
  std::shared_ptr<const HttpDecap> decap_;
  KtlsMode ktls_mode_ = KtlsMode::kAuto;  // this reactor's, when verify has as_addr
};

}  // namespace tng::tunnel
