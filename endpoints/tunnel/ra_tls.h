// The attested TLS layer of one endpoint: which certificate this side presents, whether it asks
// for the peer's, and how the peer is judged after the handshake. One per endpoint per reactor.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/connection_scope.h"
#include "core/net.h"
#include "crypto/tls_session.h"
#include "endpoints/config/options.h"
#include "endpoints/tunnel/tls_stream.h"

namespace tng::tunnel {

struct TunnelTimeouts {
  Duration connect = std::chrono::seconds(10);
  Duration handshake = std::chrono::seconds(10);
};

class RaTls {
 public:
  // `role`: ingress endpoints are TLS clients, egress endpoints TLS servers.
  static absl::StatusOr<std::unique_ptr<RaTls>> Create(const config::RaOptions& ra,
                                                       crypto::TlsRole role);

  // Ingress: TLS client handshake on a connected socket, then the peer check. No application
  // byte may be sent before this returns a stream.
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> Connect(TcpStream tcp, Duration timeout);
  // Egress: TLS server handshake on an accepted socket, then the client check.
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> Accept(TcpStream tcp, Duration timeout);

 private:
  RaTls() = default;
  Task<absl::StatusOr<std::unique_ptr<TlsStream>>> Handshake(TcpStream tcp, Duration timeout);
  absl::Status CheckPeer(crypto::TlsSession& session) const;

  std::unique_ptr<crypto::TlsContext> context_;
  config::RaOptions ra_;
};

}  // namespace tng::tunnel
