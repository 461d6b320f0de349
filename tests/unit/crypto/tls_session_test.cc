// Tests for TlsSession: two sessions talk TLS 1.3 purely in memory, the test moves the bytes
// between them (whole, in small pieces, or one byte at a time).
#include "crypto/tls_session.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "attestation/dummy_cert.h"
#include "tests/unit/crypto/tls_test_util.h"

namespace tng::crypto::test {
namespace {

// Lengths of the TLS records in `wire` (all must be complete application_data records).
std::vector<size_t> RecordLengths(std::span<const uint8_t> wire) {
  std::vector<size_t> lengths;
  size_t at = 0;
  while (at + 5 <= wire.size()) {
    EXPECT_EQ(wire[at], 0x17) << "record at offset " << at << " is not application_data";
    EXPECT_EQ(wire[at + 1], 0x03);
    EXPECT_EQ(wire[at + 2], 0x03);
    const size_t length = (size_t{wire[at + 3]} << 8) | wire[at + 4];
    lengths.push_back(length);
    at += 5 + length;
  }
  EXPECT_EQ(at, wire.size()) << "trailing partial record";
  return lengths;
}

class HandshakenPair : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = MakePair(ClientOptions(), ServerOptions());
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = *std::move(pair);
    auto status = HandshakeBoth(pair_);
    ASSERT_TRUE(status.ok()) << status;
  }
  TlsSession& client() { return *pair_.client; }
  TlsSession& server() { return *pair_.server; }
  Pair pair_;
};

TEST_F(HandshakenPair, NegotiatesTls13AlpnCipherAndGroup) {
  EXPECT_TRUE(client().handshake_done());
  EXPECT_TRUE(server().handshake_done());
  for (TlsSession* s : {&client(), &server()}) {
    EXPECT_EQ(s->Version(), "TLSv1.3");
    EXPECT_EQ(s->NegotiatedAlpn(), "rats-tls");
    EXPECT_EQ(s->Cipher(), "TLS13-AES128-GCM-SHA256");
    EXPECT_EQ(s->Group(), "X25519");
  }
  // Nothing is left in flight once both sides are done (no session tickets).
  EXPECT_TRUE(client().PendingOutput().empty());
  EXPECT_TRUE(server().PendingOutput().empty());
}

TEST_F(HandshakenPair, ClientSeesTheServersDummyCertificate) {
  EXPECT_EQ(client().PeerCertificateDer(), ToVector(attestation::DummyCertDer()));
  // The server asked for no certificate, so it has none.
  EXPECT_TRUE(server().PeerCertificateDer().empty());
}

TEST_F(HandshakenPair, ApplicationDataBothWays) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{16384}, size_t{16385}, size_t{1} << 20}) {
    const auto up = Payload(size, 1);
    auto got = Send(client(), server(), up);
    ASSERT_TRUE(got.ok()) << "client->server " << size << ": " << got.status();
    EXPECT_TRUE(*got == up) << "client->server payload of " << size << " bytes differs";
    const auto down = Payload(size, 2);
    got = Send(server(), client(), down);
    ASSERT_TRUE(got.ok()) << "server->client " << size << ": " << got.status();
    EXPECT_TRUE(*got == down) << "server->client payload of " << size << " bytes differs";
  }
}

TEST_F(HandshakenPair, WriteSplitsIntoRecordsOfAtMost16KiB) {
  // Each record carries up to 16384 plaintext bytes + content type (1) + AEAD tag (16).
  ASSERT_TRUE(client().Write(Payload(16385, 3)).ok());
  EXPECT_EQ(RecordLengths(client().PendingOutput()), (std::vector<size_t>{16401, 18}));
  client().ConsumeOutput(client().PendingOutput().size());

  ASSERT_TRUE(client().Write(Payload(size_t{1} << 20, 4)).ok());
  EXPECT_EQ(RecordLengths(client().PendingOutput()), std::vector<size_t>(64, 16401));

  // An empty write produces nothing.
  client().ConsumeOutput(client().PendingOutput().size());
  ASSERT_TRUE(client().Write({}).ok());
  EXPECT_TRUE(client().PendingOutput().empty());
}

TEST_F(HandshakenPair, ReadWantsMoreUntilARecordIsComplete) {
  ASSERT_TRUE(client().Write(AsBytes("hello")).ok());
  const std::vector<uint8_t> wire = ToVector(client().PendingOutput());
  client().ConsumeOutput(wire.size());
  std::vector<uint8_t> buffer(100);
  for (size_t i = 0; i + 1 < wire.size(); ++i) {
    std::span<uint8_t> space = server().InputSpace();
    space[0] = wire[i];
    server().CommitInput(1);
    auto result = server().Read(buffer);
    ASSERT_TRUE(result.ok()) << "after " << i + 1 << " bytes: " << result.status();
    EXPECT_EQ(result->first, TlsProgress::kWantRead) << "after " << i + 1 << " bytes";
  }
  server().InputSpace()[0] = wire.back();
  server().CommitInput(1);
  auto result = server().Read(buffer);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->first, TlsProgress::kDone);
  EXPECT_EQ(std::string(buffer.begin(), buffer.begin() + result->second), "hello");
}

TEST_F(HandshakenPair, InputSpaceIsBoundedAndReusedAsRecordsAreConsumed) {
  const size_t capacity = server().InputSpace().size();
  EXPECT_GE(capacity, 2 * (5 + 16384 + 256)) << "must hold two maximum-size records";
  EXPECT_LT(capacity, 64 * 1024);
  ASSERT_TRUE(client().Write(Payload(size_t{1} << 20, 5)).ok());
  EXPECT_EQ(Transfer(client(), server()), capacity) << "fills the input completely";
  EXPECT_TRUE(server().InputSpace().empty());
  std::vector<uint8_t> buffer(16384);
  auto result = server().Read(buffer);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->second, 16384u);
  // One whole record was consumed; its room is available again, at the end after compaction.
  EXPECT_EQ(server().InputSpace().size(), size_t{16384 + 22});
}

TEST_F(HandshakenPair, CloseNotifyGivesClosed) {
  ASSERT_TRUE(client().Write(AsBytes("last words")).ok());
  ASSERT_TRUE(client().Shutdown().ok());
  Transfer(client(), server());
  std::vector<uint8_t> buffer(100);
  auto result = server().Read(buffer);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->first, TlsProgress::kDone);
  EXPECT_EQ(std::string(buffer.begin(), buffer.begin() + result->second), "last words");
  result = server().Read(buffer);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->first, TlsProgress::kClosed);
  result = server().Read(buffer);  // and it stays closed
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->first, TlsProgress::kClosed);
  // The other direction still works after a half-close, and the server can close too.
  auto got = Send(server(), client(), AsBytes("reply"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, ToVector(AsBytes("reply")));
  EXPECT_TRUE(server().Shutdown().ok());
  Transfer(server(), client());
  result = client().Read(buffer);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->first, TlsProgress::kClosed);
}

TEST_F(HandshakenPair, FlippedBitInARecordIsAnError) {
  ASSERT_TRUE(client().Write(AsBytes("attack at dawn")).ok());
  std::vector<uint8_t> wire = ToVector(client().PendingOutput());
  client().ConsumeOutput(wire.size());
  wire[5 + 3] ^= 0x10;  // inside the ciphertext
  std::span<uint8_t> space = server().InputSpace();
  std::memcpy(space.data(), wire.data(), wire.size());
  server().CommitInput(wire.size());
  std::vector<uint8_t> buffer(100);
  auto result = server().Read(buffer);
  ASSERT_FALSE(result.ok()) << "a forged record was accepted";
  EXPECT_NE(result.status().message().find("TLS read failed"), std::string_view::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("bad_record_mac"), std::string_view::npos)
      << result.status();
}

TEST_F(HandshakenPair, ReadRejectsAnEmptyBuffer) {
  EXPECT_EQ(server().Read({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsSession, ReadAndWriteBeforeTheHandshakeAreRefused) {
  auto pair = MakePair(ClientOptions(), ServerOptions());
  ASSERT_TRUE(pair.ok()) << pair.status();
  std::vector<uint8_t> buffer(10);
  EXPECT_EQ(pair->client->Read(buffer).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pair->client->Write(AsBytes("x")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(pair->client->handshake_done());
}

// The server takes each of the three TLS 1.3 suites and both groups when a client offers only
// that one (narrowed through the native wolfSSL context).
TEST(TlsSession, ServerAcceptsEachSuiteAndGroupOnItsOwn) {
  struct Case {
    const char* cipher;
    int group;
    const char* group_name;
  } cases[] = {
      {"TLS13-AES128-GCM-SHA256", WOLFSSL_ECC_SECP256R1, "SECP256R1"},
      {"TLS13-AES256-GCM-SHA384", WOLFSSL_ECC_X25519, "X25519"},
      {"TLS13-CHACHA20-POLY1305-SHA256", WOLFSSL_ECC_SECP256R1, "SECP256R1"},
  };
  for (const Case& c : cases) {
    auto pair = MakePair(ClientOptions(), ServerOptions());
    ASSERT_TRUE(pair.ok()) << pair.status();
    // Sessions copy the context's settings when created, so make fresh client sessions.
    auto* native = static_cast<WOLFSSL_CTX*>(pair->client_context->native());
    int group = c.group;
    ASSERT_EQ(wolfSSL_CTX_set_groups(native, &group, 1), WOLFSSL_SUCCESS);
    ASSERT_EQ(wolfSSL_CTX_set_cipher_list(native, c.cipher), WOLFSSL_SUCCESS);
    auto client = TlsSession::Create(*pair->client_context);
    ASSERT_TRUE(client.ok()) << client.status();
    pair->client = *std::move(client);
    auto status = HandshakeBoth(*pair);
    ASSERT_TRUE(status.ok()) << c.cipher << ": " << status;
    EXPECT_EQ(pair->server->Cipher(), c.cipher);
    EXPECT_EQ(pair->server->Group(), c.group_name);
    auto got = Send(*pair->client, *pair->server, Payload(40000, 8));
    ASSERT_TRUE(got.ok()) << c.cipher << ": " << got.status();
    EXPECT_TRUE(*got == Payload(40000, 8));
  }
}

TEST(TlsSession, ByteAtATimeHandshakeAndData) {
  auto pair = MakePair(ClientOptions(), ServerOptions());
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto status = HandshakeBoth(*pair, 1);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(pair->client->NegotiatedAlpn(), "rats-tls");
  const auto up = Payload(20000, 6);
  auto got = Send(*pair->client, *pair->server, up, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == up);
  got = Send(*pair->server, *pair->client, AsBytes("pong"), 1);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, ToVector(AsBytes("pong")));
}

TEST(TlsSession, SmallUnevenChunksHandshake) {
  for (size_t chunk : {size_t{2}, size_t{7}, size_t{100}, size_t{1000}}) {
    auto pair = MakePair(ClientOptions(), ServerOptions());
    ASSERT_TRUE(pair.ok()) << pair.status();
    auto status = HandshakeBoth(*pair, chunk);
    ASSERT_TRUE(status.ok()) << "chunk " << chunk << ": " << status;
  }
}

TEST(TlsSession, MutualAuthenticationCarriesTheClientCertificate) {
  TlsContextOptions server = ServerOptions();
  server.require_peer_cert = true;
  TlsContextOptions client = ClientOptions();
  client.cert_der = ToVector(attestation::DummyCertDer());
  client.key_der = ToVector(attestation::DummyKeyDer());
  auto pair = MakePair(client, server);
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto status = HandshakeBoth(*pair);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(pair->server->PeerCertificateDer(), ToVector(attestation::DummyCertDer()));
  EXPECT_EQ(pair->client->PeerCertificateDer(), ToVector(attestation::DummyCertDer()));
}

TEST(TlsSession, RequirePeerCertFailsWithoutAClientCertificate) {
  TlsContextOptions server = ServerOptions();
  server.require_peer_cert = true;
  auto pair = MakePair(ClientOptions(), server);
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto status = HandshakeBoth(*pair);
  ASSERT_FALSE(status.ok()) << "server accepted a client without a certificate";
  EXPECT_EQ(status.message().substr(0, 7), "server:") << status;
  EXPECT_FALSE(pair->server->handshake_done());
  // The server's alert reaches the client, whose session fails too.
  Transfer(*pair->server, *pair->client);
  std::vector<uint8_t> buffer(10);
  auto result = pair->client->Read(buffer);
  ASSERT_FALSE(result.ok()) << "client did not notice the refusal";
  EXPECT_NE(result.status().message().find("certificate_required"), std::string_view::npos)
      << result.status();
}

TEST(TlsSession, ClientWithACertificateIsNotAskedForItUnlessRequired) {
  TlsContextOptions client = ClientOptions();
  client.cert_der = ToVector(attestation::DummyCertDer());
  client.key_der = ToVector(attestation::DummyKeyDer());
  auto pair = MakePair(client, ServerOptions());
  ASSERT_TRUE(pair.ok()) << pair.status();
  ASSERT_TRUE(HandshakeBoth(*pair).ok());
  EXPECT_TRUE(pair->server->PeerCertificateDer().empty());
}

TEST(TlsSession, ClientOfferingAnotherAlpnIsRefused) {
  TlsContextOptions client = ClientOptions();
  client.alpn = "h2";
  auto pair = MakePair(client, ServerOptions());
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto status = HandshakeBoth(*pair);
  ASSERT_FALSE(status.ok()) << "server accepted ALPN h2";
  EXPECT_EQ(status.message().substr(0, 7), "server:") << status;
  Transfer(*pair->server, *pair->client);
  auto client_result = pair->client->Handshake();
  ASSERT_FALSE(client_result.ok()) << "client did not see the refusal";
  EXPECT_NE(client_result.status().message().find("no_application_protocol"),
            std::string_view::npos)
      << client_result.status();
}

// A bare wolfSSL TLS 1.3 peer without ALPN, which TlsSession cannot be configured to be. The
// server side presents the dummy certificate.
class NoAlpnPeer {
 public:
  explicit NoAlpnPeer(TlsRole role) {
    ctx_ = wolfSSL_CTX_new(role == TlsRole::kServer ? wolfTLSv1_3_server_method()
                                                    : wolfTLSv1_3_client_method());
    wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_NONE, nullptr);
    if (role == TlsRole::kServer) {
      auto cert = attestation::DummyCertDer();
      auto key = attestation::DummyKeyDer();
      wolfSSL_CTX_use_certificate_buffer(ctx_, cert.data(), static_cast<long>(cert.size()),
                                         WOLFSSL_FILETYPE_ASN1);
      wolfSSL_CTX_use_PrivateKey_buffer(ctx_, key.data(), static_cast<long>(key.size()),
                                        WOLFSSL_FILETYPE_ASN1);
    }
    ssl_ = wolfSSL_new(ctx_);
    wolfSSL_SSLSetIORecv(ssl_, &Recv);
    wolfSSL_SSLSetIOSend(ssl_, &Send);
    wolfSSL_SetIOReadCtx(ssl_, this);
    wolfSSL_SetIOWriteCtx(ssl_, this);
  }
  ~NoAlpnPeer() {
    wolfSSL_free(ssl_);
    wolfSSL_CTX_free(ctx_);
  }
  // Returns 1 when the handshake is done, 0 when it wants input, -1 on error.
  int Step() {
    const int ret = wolfSSL_negotiate(ssl_);
    if (ret == WOLFSSL_SUCCESS) return 1;
    return wolfSSL_get_error(ssl_, ret) == WOLFSSL_ERROR_WANT_READ ? 0 : -1;
  }
  std::vector<uint8_t> in;
  std::vector<uint8_t> out;

 private:
  static int Recv(WOLFSSL*, char* buf, int size, void* arg) {
    auto* self = static_cast<NoAlpnPeer*>(arg);
    if (self->in.empty()) return WOLFSSL_CBIO_ERR_WANT_READ;
    const size_t n = std::min(self->in.size(), static_cast<size_t>(size));
    std::memcpy(buf, self->in.data(), n);
    self->in.erase(self->in.begin(), self->in.begin() + static_cast<ptrdiff_t>(n));
    return static_cast<int>(n);
  }
  static int Send(WOLFSSL*, char* buf, int size, void* arg) {
    auto* self = static_cast<NoAlpnPeer*>(arg);
    self->out.insert(self->out.end(), buf, buf + size);
    return size;
  }
  WOLFSSL_CTX* ctx_ = nullptr;
  WOLFSSL* ssl_ = nullptr;
};

// Runs `session` against `peer` until the session finishes or fails; returns its last result.
absl::StatusOr<TlsProgress> HandshakeWithRawPeer(TlsSession& session, NoAlpnPeer& peer) {
  absl::StatusOr<TlsProgress> progress = TlsProgress::kWantRead;
  for (int step = 0; step < 10; ++step) {
    if (peer.Step() < 0) return absl::InternalError("raw peer failed");
    std::span<uint8_t> space = session.InputSpace();
    if (peer.out.size() > space.size()) return absl::InternalError("raw peer flight too large");
    std::memcpy(space.data(), peer.out.data(), peer.out.size());
    session.CommitInput(peer.out.size());
    peer.out.clear();
    progress = session.Handshake();
    auto pending = session.PendingOutput();
    peer.in.insert(peer.in.end(), pending.begin(), pending.end());
    session.ConsumeOutput(pending.size());
    if (!progress.ok() || *progress == TlsProgress::kDone) return progress;
  }
  return absl::InternalError("handshake with the raw peer did not finish");
}

TEST(TlsSession, ServerRefusesAClientWithoutAlpn) {
  auto context = TlsContext::Create(ServerOptions());
  ASSERT_TRUE(context.ok()) << context.status();
  auto server = TlsSession::Create(**context);
  ASSERT_TRUE(server.ok()) << server.status();
  NoAlpnPeer client(TlsRole::kClient);
  auto progress = HandshakeWithRawPeer(**server, client);
  ASSERT_FALSE(progress.ok()) << "server completed a handshake without ALPN";
  EXPECT_NE(progress.status().message().find("the client offered no ALPN"), std::string_view::npos)
      << progress.status();
  EXPECT_FALSE((*server)->handshake_done());
}

TEST(TlsSession, ClientRefusesAServerThatSelectsNoAlpn) {
  auto context = TlsContext::Create(ClientOptions());
  ASSERT_TRUE(context.ok()) << context.status();
  auto client = TlsSession::Create(**context);
  ASSERT_TRUE(client.ok()) << client.status();
  // The client speaks first: its ClientHello must be queued before the raw server steps.
  auto first = (*client)->Handshake();
  ASSERT_TRUE(first.ok()) << first.status();
  NoAlpnPeer server(TlsRole::kServer);
  auto hello = (*client)->PendingOutput();
  server.in.assign(hello.begin(), hello.end());
  (*client)->ConsumeOutput(hello.size());
  auto progress = HandshakeWithRawPeer(**client, server);
  ASSERT_FALSE(progress.ok()) << "client completed a handshake without ALPN";
  EXPECT_NE(progress.status().message().find("the server selected none"), std::string_view::npos)
      << progress.status();
  EXPECT_FALSE((*client)->handshake_done());
}

}  // namespace
}  // namespace tng::crypto::test
