// TLS 1.3 over memory I/O: wolfSSL only transforms bytes; the caller (the reactor) moves them.
// A TlsContext is per reactor and per endpoint; a TlsSession is per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/tls13_record.h"

namespace tng::crypto {

enum class TlsRole { kClient, kServer };

struct TlsContextOptions {
  TlsRole role = TlsRole::kClient;
  // Our certificate and key (DER). Empty: present no certificate (client side only).
  std::vector<uint8_t> cert_der;
  std::vector<uint8_t> key_der;  // PKCS#8 or SEC1 EC private key
  std::string alpn = "rats-tls";
  // Server: send a CertificateRequest and require a client certificate.
  bool require_peer_cert = false;
  // The peer certificate is always accepted by the handshake; RA-TLS verification runs after the
  // handshake in the connection's coroutine (it may need asynchronous AS calls) and closes the
  // connection on failure before any application byte is relayed.
};

class TlsContext {
 public:
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(const TlsContextOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  TlsRole role() const { return role_; }
  void* native() const { return ctx_; }  // WOLFSSL_CTX*

 private:
  TlsContext() = default;
  void* ctx_ = nullptr;
  TlsRole role_ = TlsRole::kClient;
  std::string alpn_;
  bool require_peer_cert_ = false;
  friend class TlsSession;
};

// Result of a step that may need more bytes from the peer.
enum class TlsProgress {
  kDone,      // the step completed
  kWantRead,  // feed more ciphertext (after flushing pending output)
  kClosed,    // peer sent close_notify (Read only)
};

class TlsSession {
 public:
  static absl::StatusOr<std::unique_ptr<TlsSession>> Create(TlsContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext from the network: write up to InputSpace().size() bytes there, then CommitInput(n).
  // The input is a fixed buffer of two maximum-size TLS records; when it is full, Read (or
  // Handshake) consumes records and makes room again.
  std::span<uint8_t> InputSpace();
  void CommitInput(size_t n);

  // Ciphertext for the network, produced by Handshake/Write/Read (key updates)/Shutdown. The
  // returned bytes stay valid and unchanged until ConsumeOutput() has consumed them all, even if
  // more output is produced meanwhile (it is returned after them): a send may be in flight.
  std::span<const uint8_t> PendingOutput();
  void ConsumeOutput(size_t n);

  // Drive the handshake. kWantRead: send PendingOutput(), then feed input and call again.
  // On error PendingOutput() may hold a fatal alert worth sending before closing. After kDone the
  // input may already hold application data: Read until kWantRead before waiting for the socket.
  absl::StatusOr<TlsProgress> Handshake();
  bool handshake_done() const;

  // After the handshake wolfSSL is gone: records are sealed and opened by this RecordLayer, which
  // a stream doing its own I/O uses directly. BufferedInput() is the ciphertext received after
  // the handshake's last record and not yet read; ReleaseInput() frees the input buffer (and the
  // drained output buffers) once such a stream has taken those bytes (Read() is unavailable
  // afterwards).
  RecordLayer& records();
  std::span<const uint8_t> BufferedInput() const;
  void ReleaseInput();

  // Decrypt into `out`. Returns bytes (>0) with kDone, kWantRead when no full record is buffered,
  // kClosed on close_notify. Corrupted or forged records are errors (naming wolfSSL's error and
  // the alert). Before the handshake: FailedPrecondition; empty `out`: InvalidArgument.
  absl::StatusOr<std::pair<TlsProgress, size_t>> Read(std::span<uint8_t> out);
  // Encrypt all of `data` into PendingOutput(), in records of at most 16 KiB of plaintext (after
  // a KeyUpdate that is due). Empty `data` still flushes a due KeyUpdate.
  absl::Status Write(std::span<const uint8_t> data);
  // Queue close_notify into PendingOutput().
  absl::Status Shutdown();

  // After the handshake.
  std::vector<uint8_t> PeerCertificateDer() const;  // leaf, empty if none
  void ReleasePeerCertificate();  // once judged: an RA-TLS certificate can be tens of KiB
  std::string NegotiatedAlpn() const;
  std::string Version() const;  // e.g. "TLSv1.3"
  std::string Cipher() const;   // wolfSSL's name, e.g. "TLS13-AES128-GCM-SHA256"
  std::string Group() const;    // key exchange group, e.g. "X25519" or "SECP256R1"

 private:
  TlsSession() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// wolfSSL build facts for `tng --version`.
std::string WolfSslVersion();
bool AesNiActive();

}  // namespace tng::crypto
