#include "endpoints/tunnel/tls_stream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/log.h"

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
  co_return absl::OkStatus();
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
  if (rc == 0 && !write_shut_) {
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
    if (send_error_ == 0 && records_ != nullptr) {
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

}  // namespace tng::tunnel
