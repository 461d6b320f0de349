#include "endpoints/tunnel/tls_stream.h"

#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/splice_pump.h"

namespace tng::tunnel {

using crypto::RecordLayer;

Task<int> TlsStream::FlushHandshake(Duration timeout) {
  for (auto out = session_->PendingOutput(); !out.empty(); out = session_->PendingOutput()) {
    int n = co_await Send(tcp_.reactor(), tcp_.fd(), out, timeout);
    if (n <= 0) co_return n == 0 ? -EPIPE : n;
    session_->ConsumeOutput(static_cast<size_t>(n));
  }
  co_return 0;
}

Task<absl::Status> TlsStream::Handshake(Duration timeout) {
  // One deadline for the whole handshake, however many round trips it takes.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto progress = session_->Handshake();
    auto remaining = [&] {
      auto left = deadline - std::chrono::steady_clock::now();
      return left > Duration::zero() ? std::chrono::duration_cast<Duration>(left) : Duration(1);
    };
    if (int rc = co_await FlushHandshake(remaining()); rc < 0) {
      co_return absl::UnavailableError(absl::StrCat(
          "TLS handshake: send failed: ", rc == -ETIMEDOUT ? "timed out" : strerror(-rc)));
    }
    if (!progress.ok()) co_return progress.status();
    if (*progress == crypto::TlsProgress::kDone) break;
    auto space = session_->InputSpace();
    int n = co_await tcp_.Read(space, remaining());
    if (n == 0) co_return absl::UnavailableError("TLS handshake: peer closed the connection");
    if (n < 0) {
      co_return absl::UnavailableError(
          absl::StrCat("TLS handshake: ", n == -ETIMEDOUT ? "timed out" : strerror(-n)));
    }
    session_->CommitInput(static_cast<size_t>(n));
  }
  // From here on this stream moves the records itself. Records the peer sent right behind its
  // last handshake message (a client's first request) are already in the session's buffer.
  records_ = &session_->records();
  auto left = session_->BufferedInput();
  if (!left.empty()) {
    in_.bytes.block = tcp_.reactor().blocks().Acquire();
    std::memcpy(in_.bytes.block.data(), left.data(), left.size());
    in_.base = in_.bytes.block.data();
    in_.begin = 0;
    in_.end = left.size();
  }
  session_->ReleaseInput();
  if (ktls_mode_ == KtlsMode::kAuto) TryKernelTls();
  co_return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Kernel TLS

void TlsStream::TryKernelTls() {
  if (KtlsKnownUnsupported()) return;
  // A camouflaged flow's TLS runs on a socketpair (http_camouflage.h): no TCP, no kTLS, and its
  // refusal must not be remembered as the kernel's.
  int protocol = 0;
  socklen_t len = sizeof(protocol);
  if (getsockopt(tcp_.fd(), SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
      protocol != IPPROTO_TCP) {
    return;
  }
  auto attached = AttachTlsUlp(tcp_.fd());
  if (!attached.ok()) {
    // The socket stays a plain TCP socket: the userspace records go on working.
    TNG_LOG(Debug, "tls") << attached.status().message();
    return;
  }
  if (*attached == KtlsAttach::kUnsupported) {
    NoteKtlsUnsupported(absl::StrCat("setsockopt(TCP_ULP, \"tls\"): ", strerror(errno)));
    return;
  }
  // Sending: nothing was sealed with the application keys yet, so the kernel starts where our
  // record layer is. Receiving: only when no record has begun arriving in user space, since the
  // kernel can only take the stream at a record boundary it has not seen.
  if (auto st = InstallKtlsKeys(tcp_.fd(), TLS_TX, records_->write_cipher()); !st.ok()) {
    TNG_LOG(Debug, "tls") << st.message();
    return;
  }
  ktls_tx_ = true;
  if (in_.available() == 0 && stash_len_ == 0 && !records_->control_pending()) {
    if (auto st = InstallKtlsKeys(tcp_.fd(), TLS_RX, records_->read_cipher()); st.ok()) {
      ktls_rx_ = true;
    } else {
      TNG_LOG(Debug, "tls") << st.message();
    }
  }
}

Task<int> TlsStream::ReceiveKernelRecord(ReceivedBytes& out, crypto::ContentType& type) {
  // Wait holding nothing, then take what the kernel opened (one record type per call).
  for (;;) {
    int ready = co_await PollIn(tcp_.reactor(), tcp_.fd());
    if (ready < 0) co_return ready;
    out.block = tcp_.reactor().blocks().Acquire();
    iovec iov{out.block.data(), 64 * 1024};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint8_t)) + 16];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    int n = co_await Submit(tcp_.reactor(), [fd = tcp_.fd(), m = &msg](io_uring_sqe* s) {
      io_uring_prep_recvmsg(s, fd, m, MSG_DONTWAIT);
    });
    if (n == -EAGAIN) {
      out.Reset();
      continue;
    }
    if (n <= 0) {
      out.Reset();
      co_return n;
    }
    out.data = out.block.data();
    type = ReceivedRecordType(msg);
    co_return n;
  }
}

Task<int> TlsStream::HandleKernelControl(crypto::ContentType type, std::span<uint8_t> plaintext) {
  bool read_keys_changed = false;
  auto got = records_->HandleOpened(type, plaintext, &read_keys_changed);
  if (!got.ok()) {
    TNG_LOG(Debug, "tls") << "record error: " << got.status().message();
    co_return -EPROTO;
  }
  if (read_keys_changed) {
    // The kernel stops at a KeyUpdate until it has the next key; without rekey support the
    // connection cannot continue (fail closed).
    if (auto st = InstallKtlsKeys(tcp_.fd(), TLS_RX, records_->read_cipher()); !st.ok()) {
      TNG_LOG(Warn, "tls") << "peer updated its keys but the kernel cannot take the new ones: "
                           << st.message();
      co_return -EPROTO;
    }
  }
  if (records_->control_pending() && !sending_ && !write_shut_) {
    if (int rc = co_await SendDueControl(); rc < 0) co_return rc;
  }
  if (got->kind == crypto::RecordLayer::Received::kClosed) {
    peer_closed_ = true;
    co_return 0;
  }
  co_return 1;
}

Task<int> TlsStream::FillKernel() {
  for (;;) {
    in_.Release();
    if (peer_closed_) co_return 0;
    crypto::ContentType type = crypto::ContentType::kApplicationData;
    int n = co_await ReceiveKernelRecord(in_.bytes, type);
    if (n == 0) n = -EPROTO;  // TCP EOF without close_notify
    if (n < 0) {
      read_error_ = n;
      co_return n;
    }
    if (type == crypto::ContentType::kApplicationData) {
      spans_[0] = {in_.bytes.data, static_cast<size_t>(n)};
      span_first_ = 0;
      span_count_ = 1;
      span_bytes_ = static_cast<size_t>(n);
      in_.base = in_.bytes.data;
      in_.begin = in_.end = static_cast<size_t>(n);  // all of it handed out
      co_return n;
    }
    int rc = co_await HandleKernelControl(type, std::span<uint8_t>(in_.bytes.data, n));
    in_.Release();
    if (rc <= 0) {
      if (rc < 0) read_error_ = rc;
      co_return rc;
    }
  }
}

Task<int> TlsStream::HandleUnspliceable(int err) {
  // tls_sw_splice_read refuses a record that is not application data (EINVAL); read it with
  // its type instead.
  if (!ktls_rx_ || (err != EINVAL && err != EIO && err != EBADMSG)) co_return -err;
  ReceivedBytes bytes;
  crypto::ContentType type = crypto::ContentType::kApplicationData;
  int n = co_await ReceiveKernelRecord(bytes, type);
  if (n <= 0) co_return n == 0 ? -EPROTO : n;
  if (type == crypto::ContentType::kApplicationData) {
    // Data after all (a race with the splice): nothing may be lost, so refuse loudly.
    TNG_LOG(Warn, "tls") << "kTLS splice: application data where a control record was expected";
    co_return -EPROTO;
  }
  co_return co_await HandleKernelControl(type, std::span<uint8_t>(bytes.data, n));
}

Task<int> TlsStream::SendKernelRecord(crypto::ContentType type, std::span<const uint8_t> body) {
  iovec iov{const_cast<uint8_t*>(body.data()), body.size()};
  alignas(cmsghdr) uint8_t control[kKtlsControlSize];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  SetSendRecordType(msg, control, type);
  int n = co_await SendMsg(tcp_.reactor(), tcp_.fd(), &msg);
  co_return n == static_cast<int>(body.size()) ? 0 : (n < 0 ? n : -EPIPE);
}

Task<int> TlsStream::SendKernelKeyUpdate() {
  // The KeyUpdate goes out under the current key, then both our shadow cipher and the kernel
  // move to the next one.
  auto message = crypto::RecordLayer::kKeyUpdateMessage;
  if (int rc = co_await SendKernelRecord(crypto::ContentType::kHandshake, message); rc < 0) {
    co_return rc;
  }
  if (auto st = records_->RotateWriteKeyForKernel(); !st.ok()) co_return -EPROTO;
  if (auto st = InstallKtlsKeys(tcp_.fd(), TLS_TX, records_->write_cipher()); !st.ok()) {
    TNG_LOG(Warn, "tls") << "the kernel cannot take our next key after a KeyUpdate: "
                         << st.message();
    co_return -EPROTO;
  }
  co_return 0;
}

// ---------------------------------------------------------------------------------------------
// Receiving

int TlsStream::AddRecord(std::span<uint8_t> record) {
  auto got = records_->OpenRecord(record);
  if (!got.ok()) {
    TNG_LOG(Debug, "tls") << "record error: " << got.status().message();
    return -EPROTO;
  }
  if (got->kind == RecordLayer::Received::kClosed) peer_closed_ = true;
  if (got->kind == RecordLayer::Received::kData) {
    spans_[span_count_++] = {got->data.data(), got->data.size()};
    span_bytes_ += got->data.size();
  }
  return 0;
}

int TlsStream::OpenBuffered() {
  span_first_ = span_count_ = span_bytes_ = 0;
  if (stash_len_ > 0) {
    // Complete the record that began in an earlier receive.
    uint8_t* stash = stash_.data();
    auto take = [&](size_t want) {
      const size_t n = std::min(want, in_.available());
      std::memcpy(stash + stash_len_, in_.base + in_.begin, n);
      stash_len_ += n;
      in_.begin += n;
    };
    if (stash_len_ < crypto::kRecordHeaderSize) take(crypto::kRecordHeaderSize - stash_len_);
    if (stash_len_ < crypto::kRecordHeaderSize) return 0;
    auto size = crypto::ProtectedRecordSize({stash, stash_len_});
    if (!size.ok()) {
      TNG_LOG(Debug, "tls") << "record error: " << size.status().message();
      return -EPROTO;
    }
    take(*size - stash_len_);
    if (stash_len_ < *size) return 0;
    stash_len_ = 0;
    if (int rc = AddRecord({stash, *size}); rc < 0) return rc;
    stash_has_data_ = span_count_ > 0;
  }
  while (!peer_closed_ && span_count_ < spans_.size() && in_.available() > 0) {
    std::span<uint8_t> rest(in_.base + in_.begin, in_.available());
    auto size = crypto::ProtectedRecordSize(rest);
    if (!size.ok()) {
      TNG_LOG(Debug, "tls") << "record error: " << size.status().message();
      return -EPROTO;
    }
    if (*size == 0 || *size > rest.size()) break;
    if (int rc = AddRecord(rest.first(*size)); rc < 0) return rc;
    in_.begin += *size;
  }
  return static_cast<int>(span_bytes_);
}

void TlsStream::StashTail() {
  if (in_.available() == 0) return;
  // Only an incomplete record is left (OpenBuffered took every whole one), so it fits.
  if (!stash_) stash_ = tcp_.reactor().blocks().Acquire();
  std::memcpy(stash_.data() + stash_len_, in_.base + in_.begin, in_.available());
  stash_len_ += in_.available();
  in_.begin = in_.end;
}

Task<int> TlsStream::ReceiveCiphertext() {
  in_.Release();
  int n = co_await ReceiveSome(tcp_.reactor(), tcp_.fd(), in_.bytes);
  if (n > 0) {
    in_.base = in_.bytes.data;
    in_.begin = 0;
    in_.end = static_cast<size_t>(n);
  }
  co_return n;
}

void TlsStream::ReleaseDone() {
  if (span_bytes_ > 0) return;
  stash_has_data_ = false;
  if (stash_len_ == 0 && stash_) stash_.Reset();
  if (in_.base != nullptr && in_.available() == 0) in_.Release();
}

Task<int> TlsStream::Fill() {
  if (span_bytes_ > 0) co_return static_cast<int>(span_bytes_);
  if (read_error_ != 0) co_return read_error_;
  if (ktls_rx_) co_return co_await FillKernel();
  for (;;) {
    ReleaseDone();
    int n = OpenBuffered();
    if (n < 0) {
      read_error_ = n;
      ReleaseDone();
      co_return n;
    }
    if (records_->control_pending() && !sending_ && !write_shut_) {
      // The peer asked for our KeyUpdate and nothing is being written that would carry it.
      if (int rc = co_await SendDueControl(); rc < 0) {
        read_error_ = rc;
        co_return rc;
      }
    }
    if (n > 0) co_return n;
    if (peer_closed_) {
      ReleaseDone();  // a half-closed stream keeps no buffer while its other direction runs
      co_return 0;
    }
    StashTail();
    int r = co_await ReceiveCiphertext();
    if (r == 0) r = -EPROTO;  // TCP EOF without close_notify: the stream may be truncated
    if (r < 0) {
      read_error_ = r;
      co_return r;
    }
  }
}

void TlsStream::Consume(size_t n) {
  n = std::min(n, span_bytes_);
  span_bytes_ -= n;
  while (n > 0 && span_first_ < span_count_) {
    iovec& v = spans_[span_first_];
    const size_t k = std::min(n, v.iov_len);
    v.iov_base = static_cast<uint8_t*>(v.iov_base) + k;
    v.iov_len -= k;
    n -= k;
    if (v.iov_len == 0) ++span_first_;
  }
  ReleaseDone();
}

Task<int> TlsStream::Read(std::span<uint8_t> buf) {
  if (buf.empty()) co_return -EINVAL;
  int n = co_await Fill();
  if (n <= 0) co_return n;
  size_t copied = 0;
  for (const iovec& v : Data()) {
    const size_t k = std::min(v.iov_len, buf.size() - copied);
    std::memcpy(buf.data() + copied, v.iov_base, k);
    copied += k;
    if (copied == buf.size()) break;
  }
  Consume(copied);
  co_return static_cast<int>(copied);
}

// ---------------------------------------------------------------------------------------------
// Sending

Task<void> TlsStream::LockSend() {
  while (sending_) co_await send_waiters_.Wait();
  sending_ = true;
}

void TlsStream::UnlockSend() {
  sending_ = false;
  send_waiters_.NotifyAll();
}

Task<int> TlsStream::SendBlock(const Block& block, size_t size) {
  co_return co_await SendAll(tcp_.reactor(), tcp_.fd(),
                             std::span<const uint8_t>(block.data(), size));
}

Task<int> TlsStream::SendDueControl() {
  co_await LockSend();
  int rc = send_error_;
  if (rc == 0 && !write_shut_ && ktls_tx_) {
    if (records_->control_pending()) rc = co_await SendKernelKeyUpdate();
    if (rc < 0) send_error_ = rc;
  } else if (rc == 0 && !write_shut_) {
    std::array<uint8_t, RecordLayer::kControlReserve> record;
    auto sealed = records_->SealPendingControl(record);
    if (!sealed.ok()) {
      TNG_LOG(Debug, "tls") << "KeyUpdate: " << sealed.status().message();
      rc = -EPROTO;
    } else if (*sealed > 0) {
      rc = co_await SendAll(tcp_.reactor(), tcp_.fd(),
                            std::span<const uint8_t>(record.data(), *sealed));
    }
    if (rc < 0) send_error_ = rc;
  }
  UnlockSend();
  co_return rc;
}

Task<int> TlsStream::SealAndSend(std::span<iovec> spans, bool borrow_scratch) {
  if (write_shut_) co_return -EPIPE;
  co_await LockSend();
  int rc = send_error_;
  if (rc == 0 && ktls_tx_) {
    // The kernel seals: plaintext goes straight from the source's buffer to the socket.
    if (records_->control_pending()) rc = co_await SendKernelKeyUpdate();
    if (rc == 0) rc = co_await SendAllV(tcp_.reactor(), tcp_.fd(), spans);
    if (rc < 0) send_error_ = rc;
    UnlockSend();
    co_return rc;
  }
  Block out;
  size_t used = 0;
  if (rc == 0) out = tcp_.reactor().blocks().Acquire();
  // Records of up to 16 KiB, in batches of up to 64 KiB of plaintext, into one block that goes
  // out in one send (or more, when the spans hold more than a block's worth).
  constexpr size_t kBatch = 4 * crypto::kMaxRecordPlaintext;
  for (size_t i = 0; rc == 0 && i < spans.size(); ++i) {
    auto* p = static_cast<uint8_t*>(spans[i].iov_base);
    size_t left = spans[i].iov_len;
    while (rc == 0 && left > 0) {
      const size_t chunk = std::min(left, kBatch);
      if (RecordLayer::SealedSize(chunk) > BlockPool::kBlockSize - used) {
        rc = co_await SendBlock(out, used);
        used = 0;
        if (rc < 0) break;
      }
      std::span<uint8_t> room(out.data() + used, BlockPool::kBlockSize - used);
      auto sealed = borrow_scratch
                        ? records_->SealDataWithScratch(std::span<uint8_t>(p, chunk + 1), room)
                        : records_->SealData(std::span<const uint8_t>(p, chunk), room);
      if (!sealed.ok()) {
        TNG_LOG(Debug, "tls") << "seal failed: " << sealed.status().message();
        rc = -EPROTO;
        break;
      }
      used += *sealed;
      p += chunk;
      left -= chunk;
    }
  }
  if (rc == 0 && used > 0) rc = co_await SendBlock(out, used);
  if (rc < 0) send_error_ = rc;
  UnlockSend();
  co_return rc;
}

Task<int> TlsStream::WriteV(std::span<iovec> spans) { return SealAndSend(spans, true); }

Task<int> TlsStream::Write(std::span<const uint8_t> data) {
  if (data.empty()) co_return 0;
  // Sealed from a const buffer: each record's plaintext is staged in the output block.
  iovec v{const_cast<uint8_t*>(data.data()), data.size()};
  co_return co_await SealAndSend(std::span<iovec>(&v, 1), false);
}

Task<void> TlsStream::ShutdownWrite() {
  if (!write_shut_) {
    co_await LockSend();
    write_shut_ = true;
    if (send_error_ == 0 && ktls_tx_) {
      const uint8_t close_notify[2] = {1, 0};
      send_error_ = co_await SendKernelRecord(crypto::ContentType::kAlert, close_notify);
    } else if (send_error_ == 0 && records_ != nullptr) {
      std::array<uint8_t, RecordLayer::kControlReserve> alert;
      auto sealed = records_->SealCloseNotify(alert);
      if (sealed.ok()) {
        send_error_ = co_await SendAll(tcp_.reactor(), tcp_.fd(),
                                       std::span<const uint8_t>(alert.data(), *sealed));
      }
    }
    UnlockSend();
  }
  co_await tcp_.ShutdownWrite();
}

// ---------------------------------------------------------------------------------------------
// Relays

namespace {

// Splice pumps want fd()/reactor()/ShutdownWrite()/Abort(): TlsStream has them; the unspliceable
// hook lets the kTLS side deal with control records.
struct TlsControlHook {
  TlsStream* tls;
  Task<int> operator()(int err) { return tls->HandleUnspliceable(err); }
};

Task<RelayStats> KernelTlsRelay(TcpStream& plain, TlsStream& tls, bool plain_first) {
  SplicePipe to_tls, from_tls;
  if (!to_tls.Open() || !from_tls.Open()) {
    co_return plain_first ? co_await RelayCopying(plain, tls) : co_await RelayCopying(tls, plain);
  }
  SetNonBlocking(plain.fd());
  SetNonBlocking(tls.fd());
  RelayStats stats;
  internal::RelayJoin join;
  uint64_t& p2t = plain_first ? stats.a_to_b : stats.b_to_a;
  uint64_t& t2p = plain_first ? stats.b_to_a : stats.a_to_b;
  int& plain_error = plain_first ? stats.a_error : stats.b_error;
  int& tls_error = plain_first ? stats.b_error : stats.a_error;
  Spawn(SplicePump(plain, tls, to_tls, p2t, plain_error, tls_error, join));
  Spawn(SplicePump(tls, plain, from_tls, t2p, tls_error, plain_error, join, TlsControlHook{&tls}));
  co_await join.Wait();
  co_return stats;
}

}  // namespace

Task<RelayStats> Relay(TcpStream& plain, TlsStream& tls) {
  if (tls.kernel_tx() && tls.kernel_rx()) co_return co_await KernelTlsRelay(plain, tls, true);
  co_return co_await RelayCopying(plain, tls);
}

Task<RelayStats> Relay(TlsStream& tls, TcpStream& plain) {
  if (tls.kernel_tx() && tls.kernel_rx()) co_return co_await KernelTlsRelay(plain, tls, false);
  co_return co_await RelayCopying(tls, plain);
}

}  // namespace tng::tunnel
