// The RA-TLS leg of a tunnel: a TCP socket whose bytes pass through a TlsSession. Provides the
// same Read/Write/ShutdownWrite/Abort shape as TcpStream so the relay pumps treat both alike.
#pragma once

#include <memory>
#include <span>

#include "absl/status/status.h"
#include "core/tcp_stream.h"
#include "core/wait_list.h"
#include "crypto/tls_session.h"
#include "endpoints/tunnel/tunnel_attestation.h"

namespace tng::tunnel {

class TlsStream {
 public:
  TlsStream(TcpStream tcp, std::unique_ptr<crypto::TlsSession> session)
      : tcp_(std::move(tcp)), session_(std::move(session)) {}

  // Runs the handshake within `timeout`. On error the socket is left for the caller to close.
  Task<absl::Status> Handshake(Duration timeout);

  // Plaintext bytes (>0), 0 on close_notify, negative errno on failure (-EPROTO: bad record or
  // a TCP EOF without close_notify, i.e. possible truncation).
  Task<int> Read(std::span<uint8_t> buf);
  // Encrypts and sends all of `data`: 0 or a negative errno.
  Task<int> Write(std::span<const uint8_t> data);
  // close_notify, then FIN. The read direction keeps working (TLS 1.3 half-close).
  Task<void> ShutdownWrite();
  void Abort() { tcp_.Abort(); }
  void ForceClose() { tcp_.ForceClose(); }

  crypto::TlsSession& session() { return *session_; }
  TcpStream& tcp() { return tcp_; }
  // Set by RaTls once the peer check passed.
  const TunnelAttestation& attestation() const { return attestation_; }
  void set_attestation(TunnelAttestation a) { attestation_ = std::move(a); }

 private:
  // Sends everything the session has produced. Only one flush runs at a time; a second caller
  // waits for it and then sends what is left.
  Task<int> Flush(Duration timeout = Duration::zero());

  TcpStream tcp_;
  std::unique_ptr<crypto::TlsSession> session_;
  bool flushing_ = false;
  int send_error_ = 0;
  WaitList flush_done_;
  TunnelAttestation attestation_;
};

}  // namespace tng::tunnel
