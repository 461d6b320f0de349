// Our record layer (TlsSession after the handshake) against wolfSSL's own record layer on the
// other end: application data both ways, KeyUpdate requested by the wolfSSL peer and answered,
// and close_notify in each direction. A mirrored mistake on both of our sides (say, swapped
// traffic secrets) would pass TlsSession-to-TlsSession tests; it cannot pass these.
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "crypto/tls_session.h"
#include "tests/unit/crypto/tls_test_util.h"

namespace tng::crypto::test {
namespace {

// A wolfSSL session over in-memory queues, keeping wolfSSL's record layer after the handshake.
class WolfPeer {
 public:
  explicit WolfPeer(TlsContext& context) {
    ssl_ = wolfSSL_new(static_cast<WOLFSSL_CTX*>(context.native()));
    wolfSSL_SSLSetIORecv(ssl_, &WolfPeer::Recv);
    wolfSSL_SSLSetIOSend(ssl_, &WolfPeer::Send);
    wolfSSL_SetIOReadCtx(ssl_, this);
    wolfSSL_SetIOWriteCtx(ssl_, this);
    char alpn[] = "rats-tls";
    wolfSSL_UseALPN(ssl_, alpn, sizeof(alpn) - 1, WOLFSSL_ALPN_FAILED_ON_MISMATCH);
  }
  ~WolfPeer() { wolfSSL_free(ssl_); }
  WolfPeer(const WolfPeer&) = delete;
  WolfPeer& operator=(const WolfPeer&) = delete;

  WOLFSSL* ssl() { return ssl_; }
  std::deque<uint8_t> in;   // bytes for wolfSSL to read
  std::deque<uint8_t> out;  // bytes wolfSSL wrote

  // 1 when done, 0 when it wants more input, -1 on error.
  int Handshake() {
    const int ret = wolfSSL_negotiate(ssl_);
    if (ret == WOLFSSL_SUCCESS) return 1;
    return wolfSSL_get_error(ssl_, ret) == WOLFSSL_ERROR_WANT_READ ? 0 : -1;
  }
  // Reads whatever decrypts; sets `closed` on close_notify.
  std::string ReadAll(bool* closed = nullptr) {
    std::string got;
    char buf[20000];
    for (;;) {
      const int n = wolfSSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      const int err = wolfSSL_get_error(ssl_, n);
      if (err == WOLFSSL_ERROR_ZERO_RETURN && closed != nullptr) *closed = true;
      EXPECT_TRUE(err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_ZERO_RETURN)
          << "wolfSSL_read error " << err;
      return got;
    }
  }

 private:
  static int Recv(WOLFSSL*, char* buf, int size, void* arg) {
    auto* self = static_cast<WolfPeer*>(arg);
    if (self->in.empty()) return WOLFSSL_CBIO_ERR_WANT_READ;
    int n = 0;
    while (n < size && !self->in.empty()) {
      buf[n++] = static_cast<char>(self->in.front());
      self->in.pop_front();
    }
    return n;
  }
  static int Send(WOLFSSL*, char* buf, int size, void* arg) {
    auto* self = static_cast<WolfPeer*>(arg);
    self->out.insert(self->out.end(), buf, buf + size);
    return size;
  }
  WOLFSSL* ssl_ = nullptr;
};

// Moves our session's output to the peer and the peer's output to our session.
void Pump(TlsSession& ours, WolfPeer& peer) {
  auto pending = ours.PendingOutput();
  peer.in.insert(peer.in.end(), pending.begin(), pending.end());
  ours.ConsumeOutput(pending.size());
  while (!peer.out.empty()) {
    auto space = ours.InputSpace();
    ASSERT_FALSE(space.empty()) << "our input buffer is full";
    size_t n = 0;
    while (n < space.size() && !peer.out.empty()) {
      space[n++] = peer.out.front();
      peer.out.pop_front();
    }
    ours.CommitInput(n);
    if (!peer.out.empty()) return;  // the caller reads, then pumps again
  }
}

absl::Status HandshakeWith(TlsSession& ours, WolfPeer& peer) {
  for (int round = 0; round < 20; ++round) {
    auto mine = ours.Handshake();
    if (!mine.ok()) return mine.status();
    Pump(ours, peer);
    const int theirs = peer.Handshake();
    if (theirs < 0) return absl::InternalError("wolfSSL peer handshake failed");
    Pump(ours, peer);
    if (*mine == TlsProgress::kDone && theirs == 1) return absl::OkStatus();
  }
  return absl::InternalError("handshake did not finish");
}

// Reads all our session can decrypt, pumping as long as the peer has bytes for us.
std::string OursReadAll(TlsSession& ours, WolfPeer& peer, bool* closed) {
  std::string got;
  std::vector<uint8_t> buf(70000);
  for (int guard = 0; guard < 1000; ++guard) {
    auto r = ours.Read(buf);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return got;
    if (r->first == TlsProgress::kDone) {
      got.append(reinterpret_cast<const char*>(buf.data()), r->second);
      continue;
    }
    if (r->first == TlsProgress::kClosed) {
      *closed = true;
      return got;
    }
    if (peer.out.empty()) return got;
    Pump(ours, peer);
  }
  return got;
}

std::string Text(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31);
  return s;
}

void Exchange(TlsSession& ours, WolfPeer& peer) {
  // Ours -> wolfSSL: several records, one of them partial.
  const std::string to_peer = Text(3 * 16384 + 99, 'a');
  ASSERT_TRUE(ours.Write(AsBytes(to_peer)).ok());
  Pump(ours, peer);
  EXPECT_EQ(peer.ReadAll(), to_peer);

  // wolfSSL -> ours.
  const std::string to_us = Text(40000, 'b');
  ASSERT_EQ(wolfSSL_write(peer.ssl(), to_us.data(), static_cast<int>(to_us.size())),
            static_cast<int>(to_us.size()));
  Pump(ours, peer);
  bool closed = false;
  EXPECT_EQ(OursReadAll(ours, peer, &closed), to_us);

  // The peer rotates its keys and asks for ours (update_requested); we follow its rotation and
  // answer with our own KeyUpdate before our next data, which wolfSSL must then decrypt.
  ASSERT_EQ(wolfSSL_update_keys(peer.ssl()), WOLFSSL_SUCCESS);
  const std::string after = "after the key update";
  ASSERT_EQ(wolfSSL_write(peer.ssl(), after.data(), static_cast<int>(after.size())),
            static_cast<int>(after.size()));
  Pump(ours, peer);
  EXPECT_EQ(OursReadAll(ours, peer, &closed), after);
  const std::string reply = "reply under our next key";
  ASSERT_TRUE(ours.Write(AsBytes(reply)).ok());
  Pump(ours, peer);
  EXPECT_EQ(peer.ReadAll(), reply);
  int required = 1;
  ASSERT_EQ(wolfSSL_key_update_response(peer.ssl(), &required), 0);
  EXPECT_EQ(required, 0) << "wolfSSL still waits for our KeyUpdate";

  // Half-close each way: ours first, then the peer's.
  ASSERT_TRUE(ours.Shutdown().ok());
  Pump(ours, peer);
  bool peer_saw_close = false;
  EXPECT_EQ(peer.ReadAll(&peer_saw_close), "");
  EXPECT_TRUE(peer_saw_close);
  wolfSSL_shutdown(peer.ssl());
  Pump(ours, peer);
  EXPECT_EQ(OursReadAll(ours, peer, &closed), "");
  EXPECT_TRUE(closed);
}

class InteropTest : public ::testing::TestWithParam<const char*> {};

TEST_P(InteropTest, OurClientAgainstWolfSslServer) {
  auto server_options = ServerOptions();
  auto client_context = TlsContext::Create(ClientOptions());
  auto server_context = TlsContext::Create(server_options);
  ASSERT_TRUE(client_context.ok() && server_context.ok());
  ASSERT_EQ(wolfSSL_CTX_set_cipher_list(static_cast<WOLFSSL_CTX*>((*server_context)->native()),
                                        GetParam()),
            WOLFSSL_SUCCESS);
  auto ours = TlsSession::Create(**client_context);
  ASSERT_TRUE(ours.ok());
  WolfPeer peer(**server_context);
  ASSERT_TRUE(HandshakeWith(**ours, peer).ok());
  EXPECT_EQ((*ours)->Cipher(), GetParam());
  // A server may send NewSessionTickets at any time (rustls does by default): dropped unread.
  ASSERT_EQ(wolfSSL_send_SessionTicket(peer.ssl()), WOLFSSL_SUCCESS);
  ASSERT_FALSE(peer.out.empty());
  Exchange(**ours, peer);
}

TEST_P(InteropTest, WolfSslClientAgainstOurServer) {
  auto client_context = TlsContext::Create(ClientOptions());
  auto server_context = TlsContext::Create(ServerOptions());
  ASSERT_TRUE(client_context.ok() && server_context.ok());
  ASSERT_EQ(wolfSSL_CTX_set_cipher_list(static_cast<WOLFSSL_CTX*>((*client_context)->native()),
                                        GetParam()),
            WOLFSSL_SUCCESS);
  auto ours = TlsSession::Create(**server_context);
  ASSERT_TRUE(ours.ok());
  WolfPeer peer(**client_context);
  // The client speaks first.
  ASSERT_EQ(peer.Handshake(), 0);
  Pump(**ours, peer);
  ASSERT_TRUE(HandshakeWith(**ours, peer).ok());
  EXPECT_EQ((*ours)->Cipher(), GetParam());
  Exchange(**ours, peer);
}

INSTANTIATE_TEST_SUITE_P(Suites, InteropTest,
                         ::testing::Values("TLS13-AES128-GCM-SHA256", "TLS13-AES256-GCM-SHA384",
                                           "TLS13-CHACHA20-POLY1305-SHA256"));

}  // namespace
}  // namespace tng::crypto::test
