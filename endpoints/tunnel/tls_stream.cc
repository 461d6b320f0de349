#include "endpoints/tunnel/tls_stream.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace tng::tunnel {

Task<int> TlsStream::Flush(Duration timeout) {
  while (flushing_) co_await flush_done_.Wait();
  if (send_error_ != 0) co_return send_error_;
  flushing_ = true;
  int rc = 0;
  // PendingOutput() stays valid while in flight: output produced meanwhile (a KeyUpdate answer from
  // the read side) is appended behind it and sent by the next iteration.
  for (auto out = session_->PendingOutput(); !out.empty(); out = session_->PendingOutput()) {
    int n = co_await Send(tcp_.reactor(), tcp_.fd(), out, timeout);
    if (n <= 0) {
      rc = n == 0 ? -EPIPE : n;
      send_error_ = rc;
      break;
    }
    session_->ConsumeOutput(static_cast<size_t>(n));
  }
  flushing_ = false;
  flush_done_.NotifyAll();
  co_return rc;
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
    if (int rc = co_await Flush(remaining()); rc < 0) {
      co_return absl::UnavailableError(absl::StrCat(
          "TLS handshake: send failed: ", rc == -ETIMEDOUT ? "timed out" : strerror(-rc)));
    }
    if (!progress.ok()) co_return progress.status();
    if (*progress == crypto::TlsProgress::kDone) co_return absl::OkStatus();
    auto space = session_->InputSpace();
    int n = co_await tcp_.Read(space, remaining());
    if (n == 0) co_return absl::UnavailableError("TLS handshake: peer closed the connection");
    if (n < 0) {
      co_return absl::UnavailableError(
          absl::StrCat("TLS handshake: ", n == -ETIMEDOUT ? "timed out" : strerror(-n)));
    }
    session_->CommitInput(static_cast<size_t>(n));
  }
}

Task<int> TlsStream::Read(std::span<uint8_t> buf) {
  for (;;) {
    auto r = session_->Read(buf);
    // Post-handshake messages (KeyUpdate) may need an answer. If the write side is mid-flush, its
    // loop sends the answer too; waiting for it here would stop this side from reading while the
    // peer may be blocked writing to us (both gateways would then wait on each other).
    if (!flushing_ && !session_->PendingOutput().empty()) {
      if (int rc = co_await Flush(); rc < 0) co_return rc;
    }
    if (!r.ok()) {
      TNG_LOG(Debug, "tls") << "record error: " << r.status().message();
      co_return -EPROTO;
    }
    switch (r->first) {
      case crypto::TlsProgress::kDone:
        if (r->second > 0) co_return static_cast<int>(r->second);
        break;  // a record with no application data (ticket, key update): read on
      case crypto::TlsProgress::kClosed:
        co_return 0;
      case crypto::TlsProgress::kWantRead: {
        auto space = session_->InputSpace();
        int n = co_await tcp_.Read(space);
        if (n == 0) co_return -EPROTO;  // EOF without close_notify
        if (n < 0) co_return n;
        session_->CommitInput(static_cast<size_t>(n));
        break;
      }
    }
  }
}

Task<int> TlsStream::Write(std::span<const uint8_t> data) {
  if (auto st = session_->Write(data); !st.ok()) {
    TNG_LOG(Debug, "tls") << "encrypt failed: " << st.message();
    co_return -EPROTO;
  }
  co_return co_await Flush();
}

Task<void> TlsStream::ShutdownWrite() {
  if (session_->Shutdown().ok()) co_await Flush();
  co_await tcp_.ShutdownWrite();
}

}  // namespace tng::tunnel
