// Tests for TlsContext: certificate and key options, certificates the size of RA-TLS evidence,
// and the wolfSSL build facts.
#include "crypto/tls_session.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
// clang-format on

#include <gtest/gtest.h>

#include <initializer_list>
#include <string_view>
#include <vector>

#include "attestation/dummy_cert.h"
#include "tests/unit/crypto/tls_test_util.h"

namespace tng::crypto::test {
namespace {

TEST(TlsContext, RejectsInconsistentOptions) {
  TlsContextOptions server = ServerOptions();
  server.cert_der.clear();
  server.key_der.clear();
  EXPECT_EQ(TlsContext::Create(server).status().code(), absl::StatusCode::kInvalidArgument);

  TlsContextOptions client = ClientOptions();
  client.cert_der = ToVector(attestation::DummyCertDer());
  EXPECT_EQ(TlsContext::Create(client).status().code(), absl::StatusCode::kInvalidArgument)
      << "certificate without key";

  client = ClientOptions();
  client.require_peer_cert = true;
  EXPECT_EQ(TlsContext::Create(client).status().code(), absl::StatusCode::kInvalidArgument);

  client = ClientOptions();
  client.alpn.clear();
  EXPECT_EQ(TlsContext::Create(client).status().code(), absl::StatusCode::kInvalidArgument);
  client.alpn = "h2,rats-tls";  // one protocol, not a list
  EXPECT_EQ(TlsContext::Create(client).status().code(), absl::StatusCode::kInvalidArgument);

  server = ServerOptions();
  server.cert_der.resize(100);  // truncated DER
  auto truncated = TlsContext::Create(server);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(truncated.status().message().find("certificate"), std::string_view::npos)
      << truncated.status();
}

// Key material helpers built on wolfCrypt, for keys in other encodings and other certificates.
class EccKey {
 public:
  EccKey() {
    wc_ecc_init(&key_);
    wc_InitRng(&rng_);
  }
  ~EccKey() {
    wc_ecc_free(&key_);
    wc_FreeRng(&rng_);
  }
  bool Generate() { return wc_ecc_make_key_ex(&rng_, 32, &key_, ECC_SECP256R1) == 0; }
  bool LoadSec1(std::span<const uint8_t> der) {
    word32 at = 0;
    return wc_EccPrivateKeyDecode(der.data(), &at, &key_, static_cast<word32>(der.size())) == 0;
  }
  std::vector<uint8_t> Sec1Der() {
    std::vector<uint8_t> der(256);
    const int n = wc_EccKeyToDer(&key_, der.data(), static_cast<word32>(der.size()));
    der.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return der;
  }
  std::vector<uint8_t> PublicPoint() {
    std::vector<uint8_t> point(65);
    word32 size = static_cast<word32>(point.size());
    if (wc_ecc_export_x963(&key_, point.data(), &size) != 0) return {};
    point.resize(size);
    return point;
  }
  std::vector<uint8_t> SignSha256(std::span<const uint8_t> message) {
    uint8_t hash[WC_SHA256_DIGEST_SIZE];
    wc_Sha256Hash(message.data(), static_cast<word32>(message.size()), hash);
    std::vector<uint8_t> sig(ECC_MAX_SIG_SIZE);
    word32 size = static_cast<word32>(sig.size());
    if (wc_ecc_sign_hash(hash, sizeof(hash), sig.data(), &size, &rng_, &key_) != 0) return {};
    sig.resize(size);
    return sig;
  }

 private:
  ecc_key key_;
  WC_RNG rng_;
};

// The SEC1 ECPrivateKey inside the dummy key's PKCS#8 wrapper.
std::vector<uint8_t> DummyKeySec1() {
  std::vector<uint8_t> der = ToVector(attestation::DummyKeyDer());
  word32 at = 0;
  const int length = wc_GetPkcs8TraditionalOffset(der.data(), &at, static_cast<word32>(der.size()));
  if (length <= 0) return {};
  return {der.begin() + at, der.begin() + at + length};
}

TEST(TlsContext, AcceptsSec1KeysAndRejectsAKeyThatDoesNotMatch) {
  TlsContextOptions server = ServerOptions();
  server.key_der = DummyKeySec1();
  ASSERT_FALSE(server.key_der.empty());
  auto pair = MakePair(ClientOptions(), server);
  ASSERT_TRUE(pair.ok()) << pair.status();
  ASSERT_TRUE(HandshakeBoth(*pair).ok());

  EccKey other;
  ASSERT_TRUE(other.Generate());
  server.key_der = other.Sec1Der();
  auto mismatch = TlsContext::Create(server);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string_view::npos)
      << mismatch.status();
}

// Minimal DER writer for building a test certificate.
void AppendTlv(std::vector<uint8_t>& out, uint8_t tag, std::span<const uint8_t> value) {
  out.push_back(tag);
  size_t length = value.size();
  if (length < 0x80) {
    out.push_back(static_cast<uint8_t>(length));
  } else {
    uint8_t bytes[8];
    int n = 0;
    for (; length > 0; length >>= 8) bytes[n++] = static_cast<uint8_t>(length);
    out.push_back(static_cast<uint8_t>(0x80 | n));
    while (n > 0) out.push_back(bytes[--n]);
  }
  out.insert(out.end(), value.begin(), value.end());
}
std::vector<uint8_t> Tlv(uint8_t tag, std::initializer_list<std::span<const uint8_t>> parts) {
  std::vector<uint8_t> value;
  for (auto part : parts) value.insert(value.end(), part.begin(), part.end());
  std::vector<uint8_t> out;
  AppendTlv(out, tag, value);
  return out;
}

// A self-signed P-256 certificate for `key` with a non-critical extension of `extension_size`
// bytes under the RA-TLS evidence OID 2.23.133.5.4.9, the size class of real evidence.
std::vector<uint8_t> LargeCertificate(EccKey& key, size_t extension_size) {
  const std::vector<uint8_t> version = {0xa0, 0x03, 0x02, 0x01, 0x02};
  const std::vector<uint8_t> serial = {0x02, 0x01, 0x01};
  const std::vector<uint8_t> ecdsa_sha256 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  const std::vector<uint8_t> cn_oid = {0x06, 0x03, 0x55, 0x04, 0x03};
  const auto name = Tlv(0x30, {Tlv(0x31, {Tlv(0x30, {cn_oid, Tlv(0x0c, {AsBytes("TNG")})})})});
  const auto validity =
      Tlv(0x30, {Tlv(0x17, {AsBytes("250101000000Z")}), Tlv(0x18, {AsBytes("21250101000000Z")})});
  const std::vector<uint8_t> ec_p256 = {0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
                                        0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  const std::vector<uint8_t> zero = {0x00};
  const auto spki = Tlv(0x30, {ec_p256, Tlv(0x03, {zero, key.PublicPoint()})});
  const std::vector<uint8_t> evidence_oid = {0x06, 0x06, 0x67, 0x81, 0x05, 0x05, 0x04, 0x09};
  const auto extension = Tlv(0x30, {evidence_oid, Tlv(0x04, {Payload(extension_size, 7)})});
  const auto extensions = Tlv(0xa3, {Tlv(0x30, {extension})});
  const auto tbs =
      Tlv(0x30, {version, serial, ecdsa_sha256, name, validity, name, spki, extensions});
  return Tlv(0x30, {tbs, ecdsa_sha256, Tlv(0x03, {zero, key.SignSha256(tbs)})});
}

// Runs a mutually authenticated handshake where both sides present `cert` (for the dummy key).
absl::Status HandshakeWithCertificate(const std::vector<uint8_t>& cert) {
  TlsContextOptions server = ServerOptions();
  server.cert_der = cert;
  server.require_peer_cert = true;
  TlsContextOptions client = ClientOptions();
  client.cert_der = cert;
  client.key_der = ToVector(attestation::DummyKeyDer());
  auto pair = MakePair(client, server);
  if (!pair.ok()) return pair.status();
  if (auto status = HandshakeBoth(*pair, 1000); !status.ok()) return status;
  if (pair->client->PeerCertificateDer() != cert || pair->server->PeerCertificateDer() != cert) {
    return absl::InternalError("peer certificate differs from the one presented");
  }
  return absl::OkStatus();
}

TEST(TlsSession, EvidenceSizedCertificatesBothWays) {
  EccKey key;
  ASSERT_TRUE(key.LoadSec1(DummyKeySec1()));
  for (size_t size : {size_t{1000}, size_t{12000}}) {
    const std::vector<uint8_t> cert = LargeCertificate(key, size);
    auto status = HandshakeWithCertificate(cert);
    EXPECT_TRUE(status.ok()) << "certificate of " << cert.size() << " bytes: " << status;
  }
}

// wolfSSL caps a handshake message at MAX_CERTIFICATE_SZ, by default 3 + 9 * (2048 + 3) = 18462
// bytes: too small for RA-TLS evidence such as a TDX quote with its event log. rustls (TNG)
// accepts handshake messages up to 64 KiB. A wolfSSL built with -DMAX_CERTIFICATE_SZ=65536 (the
// flag lands in options.h) must carry certificates that large; a default build must refuse them
// with an error that names the cause.
TEST(TlsSession, CertificateSizeLimit) {
  EccKey key;
  ASSERT_TRUE(key.LoadSec1(DummyKeySec1()));
  const std::vector<uint8_t> cert = LargeCertificate(key, 60000);
  auto status = HandshakeWithCertificate(cert);
#if defined(MAX_CERTIFICATE_SZ) && MAX_CERTIFICATE_SZ >= 65536
  EXPECT_TRUE(status.ok()) << "certificate of " << cert.size() << " bytes: " << status;
#else
  ASSERT_FALSE(status.ok()) << "wolfSSL without a raised MAX_CERTIFICATE_SZ took " << cert.size()
                            << " bytes";
  EXPECT_NE(status.message().find("Handshake message too large"), std::string_view::npos) << status;
#endif
}

TEST(WolfSsl, BuildFacts) {
  EXPECT_EQ(WolfSslVersion(), LIBWOLFSSL_VERSION_STRING);
  // AES-NI is compiled in (the build refuses a wolfSSL without it), so the answer is the CPU's.
  EXPECT_EQ(AesNiActive(), __builtin_cpu_supports("aes") != 0);
}

}  // namespace
}  // namespace tng::crypto::test
