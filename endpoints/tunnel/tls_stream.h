// The RA-TLS leg of a tunnel: a TCP socket whose bytes are TLS 1.3 records. wolfSSL (through
// TlsSession) runs the handshake; afterwards this stream seals and opens the records itself
// (crypto::RecordLayer), straight between the reactor's receive buffers and the socket, so the
// relay moves each byte through one AEAD pass and no staging copy. Offers TcpStream's shapes:
// Read/Write for protocol code, Fill/Data/Consume/WriteV for the relay (core/relay.h).
#pragma once

#include <sys/uio.h>

#include <array>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "core/block_pool.h"
#include "core/buffer_ring.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "core/wait_list.h"
#include "crypto/tls_session.h"
#include "endpoints/tunnel/ktls.h"
#include "endpoints/tunnel/tunnel_attestation.h"

namespace tng::tunnel {

class TlsStream {
 public:
  TlsStream(TcpStream tcp, std::unique_ptr<crypto::TlsSession> session)
      : tcp_(std::move(tcp)), session_(std::move(session)) {}

  // Runs the handshake within `timeout`. On error the socket is left for the caller to close.
  // Then, with kTLS allowed and offered by the kernel, hands the record protection to it.
  Task<absl::Status> Handshake(Duration timeout);
  void set_ktls_mode(KtlsMode mode) { ktls_mode_ = mode; }
  // The kernel seals what this stream sends / opens what it receives (kTLS).
  bool kernel_tx() const { return ktls_tx_; }
  bool kernel_rx() const { return ktls_rx_; }

  // Plaintext bytes (>0), 0 on close_notify, negative errno on failure (-EPROTO: bad record or
  // a TCP EOF without close_notify, i.e. possible truncation).
  Task<int> Read(std::span<uint8_t> buf);
  // Encrypts and sends all of `data`: 0 or a negative errno.
  Task<int> Write(std::span<const uint8_t> data);
  // close_notify, then FIN. The read direction keeps working (TLS 1.3 half-close).
  Task<void> ShutdownWrite();
  void Abort() { tcp_.Abort(); }
  void ForceClose() { tcp_.ForceClose(); }

  // ---- The relay's side (core/relay.h), with Read's results.
  // Opens the records that have arrived, in place: plaintext bytes available (>0), 0 after
  // close_notify, negative errno as Read.
  Task<int> Fill();
  std::span<iovec> Data() { return {spans_.data() + span_first_, span_count_ - span_first_}; }
  void Consume(size_t n);
  // Seals `spans` into records (borrowing the byte after each span, see core/relay.h) and sends
  // them: 0 or a negative errno.
  Task<int> WriteV(std::span<iovec> spans);

  crypto::TlsSession& session() { return *session_; }
  int fd() const { return tcp_.fd(); }
  Reactor& reactor() { return tcp_.reactor(); }
  // For a spliced kTLS relay: the kernel could not splice the next record (a control record,
  // errno `err`); reads and handles it. 1: go on, 0: close_notify, <0: error.
  Task<int> HandleUnspliceable(int err);
  TcpStream& tcp() { return tcp_; }
  // Set by RaTls once the peer check passed.
  const TunnelAttestation& attestation() const { return attestation_; }
  void set_attestation(TunnelAttestation a) { attestation_ = std::move(a); }

 private:
  // Handshake output (wolfSSL's flights).
  Task<int> FlushHandshake(Duration timeout);
  // Opens the complete records buffered in the stash and in in_, up to the span limit.
  int OpenBuffered();
  int AddRecord(std::span<uint8_t> record);
  // Moves an incomplete record at the end of in_ into the stash, so in_'s buffer can go back.
  void StashTail();
  Task<int> ReceiveCiphertext();
  // One sender at a time: records must reach the socket in the order they were sealed.
  Task<void> LockSend();
  void UnlockSend();
  Task<int> SendBlock(const Block& block, size_t size);
  // A KeyUpdate the peer asked for, sent now if no writer is about to send it anyway.
  Task<int> SendDueControl();
  Task<int> SealAndSend(std::span<iovec> spans, bool borrow_scratch);
  // kTLS: try to move the record protection into the kernel after the handshake.
  void TryKernelTls();
  Task<int> FillKernel();
  Task<int> ReceiveKernelRecord(ReceivedBytes& out, crypto::ContentType& type);
  Task<int> HandleKernelControl(crypto::ContentType type, std::span<uint8_t> plaintext);
  Task<int> SendKernelRecord(crypto::ContentType type, std::span<const uint8_t> body);
  Task<int> SendKernelKeyUpdate();

  TcpStream tcp_;
  std::unique_ptr<crypto::TlsSession> session_;
  crypto::RecordLayer* records_ = nullptr;  // session_'s, after the handshake
  TunnelAttestation attestation_;

  // Ciphertext being worked through: what ReceiveSome got, or a block for what the handshake
  // left.
  struct Input {
    ReceivedBytes bytes;
    uint8_t* base = nullptr;
    size_t begin = 0;
    size_t end = 0;
    size_t available() const { return end - begin; }
    void Release() {
      bytes.Reset();
      base = nullptr;
      begin = end = 0;
    }
  } in_;
  // Gives back what no span points into any more.
  void ReleaseDone();
  // A record that arrived split across two receives is reassembled here.
  Block stash_;
  size_t stash_len_ = 0;
  bool stash_has_data_ = false;  // spans_ point into the stash

  std::array<iovec, kMaxRelaySpans> spans_{};
  size_t span_first_ = 0;
  size_t span_count_ = 0;
  size_t span_bytes_ = 0;  // not consumed yet
  bool peer_closed_ = false;
  int read_error_ = 0;

  bool sending_ = false;
  WaitList send_waiters_;
  int send_error_ = 0;
  bool write_shut_ = false;

  KtlsMode ktls_mode_ = KtlsMode::kOff;
  bool ktls_tx_ = false;
  bool ktls_rx_ = false;
};

// kTLS both ways: the tunnel socket is spliced like a plain one (core/splice_pump.h); otherwise
// the copying relay of core/relay.h.
Task<RelayStats> Relay(TcpStream& plain, TlsStream& tls);
Task<RelayStats> Relay(TlsStream& tls, TcpStream& plain);

}  // namespace tng::tunnel
