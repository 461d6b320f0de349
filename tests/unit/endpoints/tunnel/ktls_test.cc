// kTLS detection and key hand-over: the crypto_info the kernel gets for each suite (RFC 8448's
// server application keys typed in), how a setsockopt(TCP_ULP) result is classified, the
// per-thread "unsupported" memo, and the fallback of a real loopback TLS stream when the kernel
// has no tls ULP (the development machines) or when kTLS is switched off.
#include "endpoints/tunnel/ktls.h"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/connection_scope.h"
#include "endpoints/tunnel/ra_tls.h"
#include "endpoints/tunnel/tls_stream.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng::tunnel {
namespace {

std::vector<uint8_t> Hex(std::string_view text) {
  std::vector<uint8_t> out;
  int nibble = -1;
  for (char ch : text) {
    int v = -1;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    if (v < 0) continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<uint8_t>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

std::vector<uint8_t> Range(const uint8_t* p, size_t n) { return {p, p + n}; }

// RFC 8448 §3, server_application_traffic_secret_0 and the key and IV derived from it.
const auto kServerSecret =
    Hex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 "
        "16 43");

crypto::TrafficKeys Rfc8448ServerKeys() {
  auto secret = crypto::MakeTrafficSecret(crypto::Tls13Suite::kAes128GcmSha256, kServerSecret);
  EXPECT_TRUE(secret.ok()) << secret.status();
  auto keys = crypto::DeriveTrafficKeys(*secret);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return *keys;
}

TEST(KtlsTest, Aes128GcmCryptoInfoSplitsTheIvAsTheKernelWants) {
  auto info = MakeKtlsCryptoInfo(Rfc8448ServerKeys(), 0x0102030405060708ULL);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size, sizeof(tls12_crypto_info_aes_gcm_128));
  tls12_crypto_info_aes_gcm_128 got;
  std::memcpy(&got, info->bytes.data(), sizeof(got));
  EXPECT_EQ(got.info.version, 0x0304);
  EXPECT_EQ(got.info.cipher_type, 51);
  EXPECT_EQ(Range(got.key, sizeof(got.key)),
            Hex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"));
  // The 12-byte TLS 1.3 IV: 4 bytes of salt, then the 8 the kernel XORs with the sequence.
  EXPECT_EQ(Range(got.salt, sizeof(got.salt)), Hex("cf 78 2b 88"));
  EXPECT_EQ(Range(got.iv, sizeof(got.iv)), Hex("dd 83 54 9a ad f1 e9 84"));
  EXPECT_EQ(Range(got.rec_seq, sizeof(got.rec_seq)), Hex("01 02 03 04 05 06 07 08"));
}

TEST(KtlsTest, OtherSuitesGetTheirOwnLayout) {
  crypto::TrafficKeys keys;
  keys.suite = crypto::Tls13Suite::kAes256GcmSha384;
  keys.key_size = 32;
  for (size_t i = 0; i < keys.key.size(); ++i) keys.key[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < keys.iv.size(); ++i) keys.iv[i] = static_cast<uint8_t>(0xa0 + i);
  auto info = MakeKtlsCryptoInfo(keys, 1);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size, sizeof(tls12_crypto_info_aes_gcm_256));
  tls12_crypto_info_aes_gcm_256 gcm256;
  std::memcpy(&gcm256, info->bytes.data(), sizeof(gcm256));
  EXPECT_EQ(gcm256.info.cipher_type, TLS_CIPHER_AES_GCM_256);
  EXPECT_EQ(gcm256.key[31], 31);
  EXPECT_EQ(Range(gcm256.salt, 4), Hex("a0 a1 a2 a3"));
  EXPECT_EQ(gcm256.iv[0], 0xa4);
  EXPECT_EQ(Range(gcm256.rec_seq, 8), Hex("00 00 00 00 00 00 00 01"));

  keys.suite = crypto::Tls13Suite::kChacha20Poly1305Sha256;
  info = MakeKtlsCryptoInfo(keys, 0);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size, sizeof(tls12_crypto_info_chacha20_poly1305));
  tls12_crypto_info_chacha20_poly1305 chacha;
  std::memcpy(&chacha, info->bytes.data(), sizeof(chacha));
  EXPECT_EQ(chacha.info.cipher_type, TLS_CIPHER_CHACHA20_POLY1305);
  // ChaCha20-Poly1305 has no salt: the whole 12-byte IV goes in.
  EXPECT_EQ(Range(chacha.iv, 12), Range(keys.iv.data(), 12));
}

TEST(KtlsTest, UlpResultsAreClassified) {
  auto ok = ClassifyUlpResult(0, 0);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, KtlsAttach::kAttached);
  for (int err : {ENOENT, EOPNOTSUPP, ENOPROTOOPT}) {
    auto r = ClassifyUlpResult(-1, err);
    ASSERT_TRUE(r.ok()) << err;
    EXPECT_EQ(*r, KtlsAttach::kUnsupported) << err;
  }
  // Anything else is a real failure on this socket, not a statement about the kernel.
  for (int err : {EBUSY, EEXIST, ENOTCONN, EINVAL}) {
    auto r = ClassifyUlpResult(-1, err);
    ASSERT_FALSE(r.ok()) << err;
    EXPECT_NE(r.status().message().find("TCP_ULP"), std::string_view::npos) << r.status();
    EXPECT_NE(r.status().message().find(strerror(err)), std::string_view::npos) << r.status();
  }
}

TEST(KtlsTest, UnsupportedIsRememberedPerThread) {
  std::thread([] {
    EXPECT_FALSE(KtlsKnownUnsupported());
    NoteKtlsUnsupported("test");
    EXPECT_TRUE(KtlsKnownUnsupported());
    NoteKtlsUnsupported("again");  // no second log line, still unsupported
    EXPECT_TRUE(KtlsKnownUnsupported());
  }).join();
  std::thread([] { EXPECT_FALSE(KtlsKnownUnsupported()); }).join();
}

bool KernelOffersTlsUlp() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_available_ulp");
  std::string ulps((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return ulps.find("tls") != std::string::npos;
}

// What attaching the ULP to a connected socket says must agree with what the kernel lists (a
// module that is present but not yet loaded loads on first use and is listed afterwards).
TEST(KtlsTest, AttachAgreesWithTheKernel) {
  auto [c, s] = tng::testing::TcpPair();
  auto r = AttachTlsUlp(c.get());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r == KtlsAttach::kAttached, KernelOffersTlsUlp());
}

config::RaOptions NoRa() {
  config::RaOptions ra;
  ra.no_ra = true;
  return ra;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct StreamResult {
  bool client_tx = false, client_rx = false, server_tx = false, server_rx = false;
  std::string server_got, client_got;
};

// A no_ra TLS stream over loopback with `mode` on both sides; each side sends a message of
// `size` bytes and half-closes, and reads the other's.
StreamResult RunStream(KtlsMode mode, size_t size) {
  StreamResult out;
  auto reactor = Reactor::Create(0, {});
  EXPECT_TRUE(reactor.ok());
  Reactor& r = **reactor;
  auto client_tls = RaTls::Create(NoRa(), crypto::TlsRole::kClient);
  auto server_tls = RaTls::Create(NoRa(), crypto::TlsRole::kServer);
  EXPECT_TRUE(client_tls.ok() && server_tls.ok());
  (*client_tls)->set_ktls_mode(mode);
  (*server_tls)->set_ktls_mode(mode);
  std::string message(size, '\0');
  for (size_t i = 0; i < size; ++i) message[i] = static_cast<char>('a' + i % 23);
  auto side = [&](TlsStream& t, std::string* got) -> Task<void> {
    EXPECT_EQ(co_await t.Write(Bytes(message)), 0);
    co_await t.ShutdownWrite();
    std::vector<uint8_t> buf(64 * 1024);
    for (;;) {
      int n = co_await t.Read(std::span(buf));
      EXPECT_GE(n, 0);
      if (n <= 0) break;
      got->append(reinterpret_cast<char*>(buf.data()), n);
    }
  };
  auto [c, s] = tng::testing::TcpPair();
  auto client = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    auto t = co_await (*client_tls)
                 ->Connect(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) {
      out.client_tx = (*t)->kernel_tx();
      out.client_rx = (*t)->kernel_rx();
      co_await side(**t, &out.client_got);
    }
  };
  auto server = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    auto t = co_await (*server_tls)
                 ->Accept(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) {
      out.server_tx = (*t)->kernel_tx();
      out.server_rx = (*t)->kernel_rx();
      co_await side(**t, &out.server_got);
    }
  };
  // Post() takes a copyable function: hand the sockets over as raw descriptors.
  r.Post([&, cfd = c.release(), sfd = s.release()] {
    Spawn(client(UniqueFd(cfd)));
    Spawn(server(UniqueFd(sfd)));
    r.BeginDrain();
  });
  r.Run();
  EXPECT_EQ(out.client_got, message);
  EXPECT_EQ(out.server_got, message);
  return out;
}

TEST(KtlsTest, OffNeverUsesTheKernel) {
  StreamResult r = RunStream(KtlsMode::kOff, 300 * 1024);
  EXPECT_FALSE(r.client_tx || r.client_rx || r.server_tx || r.server_rx);
}

// auto: the kernel seals when it has the ULP, user space otherwise; bytes arrive either way.
TEST(KtlsTest, AutoFallsBackOrOffloads) {
  const bool kernel = KernelOffersTlsUlp();
  StreamResult r = RunStream(KtlsMode::kAuto, 300 * 1024);
  EXPECT_EQ(r.client_tx, kernel);
  EXPECT_EQ(r.server_tx, kernel);
  if (!kernel) {
    EXPECT_FALSE(r.client_rx || r.server_rx);
  }
}

}  // namespace
}  // namespace tng::tunnel
