#include "crypto/signature.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/der.h"
#include "crypto/digest.h"

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<uint8_t> Oid(std::string_view dotted) { return DerOid(*OidFromString(dotted)); }

std::vector<uint8_t> EcSpki(std::string_view curve_oid, std::span<const uint8_t> point) {
  return DerSequence(
      {DerSequence({Oid("1.2.840.10045.2.1"), Oid(curve_oid)}), DerBitString(point)});
}

// FIPS 180-2 "abc" examples.
TEST(DigestTest, KnownAnswers) {
  EXPECT_EQ(ToHex(Digest(HashAlgorithm::kSha256, "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      ToHex(Digest(HashAlgorithm::kSha384, "abc")),
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca1"
      "34c825a7");
  EXPECT_EQ(
      ToHex(Digest(HashAlgorithm::kSha512, "abc")),
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23"
      "a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(ToHex(Sha1ForKeyId(Bytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(IanaHashId(HashAlgorithm::kSha384), 7u);
  EXPECT_EQ(HashFromIanaId(8), HashAlgorithm::kSha512);
  EXPECT_EQ(HashFromIanaId(2), std::nullopt);
  EXPECT_EQ(HashName(HashAlgorithm::kSha256), "sha256");
}

TEST(SignatureTest, SignsAndVerifiesOnEveryCurve) {
  for (EcCurve curve : {EcCurve::kP256, EcCurve::kP384, EcCurve::kP521}) {
    SCOPED_TRACE(std::string(EcCurveName(curve)));
    auto key = EcPrivateKey::Generate(curve);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->curve(), curve);
    auto pub = key->public_key();
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(pub->type(), PublicKey::Type::kEc);
    EXPECT_EQ(pub->curve(), curve);
    const auto message = Bytes("attested bytes");
    for (EcdsaEncoding encoding : {EcdsaEncoding::kDer, EcdsaEncoding::kRaw}) {
      auto sig = key->Sign(HashAlgorithm::kSha384, message, encoding);
      ASSERT_TRUE(sig.ok()) << sig.status();
      if (encoding == EcdsaEncoding::kRaw) {
        EXPECT_EQ(sig->size(), 2 * EcCoordinateSize(curve));
      }
      const SignatureAlgorithm alg{SignatureScheme::kEcdsa, HashAlgorithm::kSha384};
      EXPECT_TRUE(pub->Verify(alg, message, *sig, encoding).ok());
      auto tampered = *sig;
      tampered[tampered.size() - 2] ^= 0x10;
      EXPECT_EQ(pub->Verify(alg, message, tampered, encoding).code(),
                absl::StatusCode::kUnauthenticated);
      EXPECT_EQ(pub->Verify(alg, Bytes("other bytes"), *sig, encoding).code(),
                absl::StatusCode::kUnauthenticated);
      // Signed with SHA-384, checked as SHA-256: a different digest, so no.
      EXPECT_FALSE(
          pub->Verify({SignatureScheme::kEcdsa, HashAlgorithm::kSha256}, message, *sig, encoding)
              .ok());
    }
    EXPECT_EQ(pub->Verify({SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha256}, message,
                          std::vector<uint8_t>(256), EcdsaEncoding::kDer)
                  .message(),
              "an RSA signature needs an RSA key, not an EC key");
  }
}

TEST(SignatureTest, PrivateKeyDerRoundTripsAsSec1AndPkcs8) {
  auto key = EcPrivateKey::Generate(EcCurve::kP256);
  ASSERT_TRUE(key.ok());
  auto sec1 = key->ToDer();
  ASSERT_TRUE(sec1.ok()) << sec1.status();
  auto again = EcPrivateKey::FromDer(*sec1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->public_spki_der(), key->public_spki_der());

  // PKCS#8 PrivateKeyInfo { version 0, algorithm { id-ecPublicKey, prime256v1 }, SEC1 key }.
  const auto pkcs8 = DerSequence(
      {DerSmallInteger(0), DerSequence({Oid("1.2.840.10045.2.1"), Oid("1.2.840.10045.3.1.7")}),
       DerOctetString(*sec1)});
  auto from_pkcs8 = EcPrivateKey::FromDer(pkcs8);
  ASSERT_TRUE(from_pkcs8.ok()) << from_pkcs8.status();
  EXPECT_EQ(from_pkcs8->public_spki_der(), key->public_spki_der());
  // A signature by the reloaded key verifies with the original's public key.
  auto sig = from_pkcs8->Sign(HashAlgorithm::kSha256, Bytes("m"));
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key->public_key()
                  ->Verify({SignatureScheme::kEcdsa, HashAlgorithm::kSha256}, Bytes("m"), *sig)
                  .ok());

  auto garbage = EcPrivateKey::FromDer(Bytes("not a key"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(), HasSubstr("not an EC private key"));
}

TEST(SignatureTest, PublicKeyFromSpkiRejectsBadKeys) {
  auto key = EcPrivateKey::Generate(EcCurve::kP256);
  ASSERT_TRUE(key.ok());
  const auto& spki = key->public_spki_der();
  const std::vector<uint8_t> point(spki.end() - 65, spki.end());
  ASSERT_EQ(point[0], 0x04);
  EXPECT_TRUE(PublicKey::FromSpkiDer(EcSpki("1.2.840.10045.3.1.7", point)).ok());

  std::vector<uint8_t> compressed(point.begin(), point.begin() + 33);
  compressed[0] = 0x02;
  EXPECT_THAT(PublicKey::FromSpkiDer(EcSpki("1.2.840.10045.3.1.7", compressed)).status().message(),
              HasSubstr("must be an uncompressed P-256 point of 65 bytes, got 33 bytes"));
  auto off_curve = point;
  off_curve.back() ^= 1;
  EXPECT_THAT(PublicKey::FromSpkiDer(EcSpki("1.2.840.10045.3.1.7", off_curve)).status().message(),
              HasSubstr("is not a valid P-256 point"));
  auto k1 = PublicKey::FromSpkiDer(EcSpki("1.3.132.0.10", point));
  EXPECT_EQ(k1.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(k1.status().message(), HasSubstr("unsupported EC curve 1.3.132.0.10"));
  auto ed = PublicKey::FromSpkiDer(
      DerSequence({DerSequence({Oid("1.3.101.112")}), DerBitString(std::vector<uint8_t>(32, 1))}));
  EXPECT_THAT(ed.status().message(), HasSubstr("unsupported public key algorithm 1.3.101.112"));

  std::vector<uint8_t> modulus(128, 0xc5);  // 1024 bits
  auto small = PublicKey::FromRsa(modulus, std::vector<uint8_t>{1, 0, 1});
  EXPECT_THAT(small.status().message(),
              HasSubstr("RSA key of 1024 bits is too small (minimum 2048)"));
  modulus.assign(256, 0xc5);
  modulus.back() |= 1;
  auto rsa = PublicKey::FromRsa(modulus, std::vector<uint8_t>{1, 0, 1});
  ASSERT_TRUE(rsa.ok()) << rsa.status();
  EXPECT_EQ(rsa->rsa_bits(), 2048u);
  EXPECT_EQ(rsa->Verify({SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha256}, Bytes("m"),
                        std::vector<uint8_t>(10))
                .message(),
            "RSA signature must be 256 bytes, got 10");

  auto trailing = spki;
  trailing.push_back(0);
  EXPECT_THAT(PublicKey::FromSpkiDer(trailing).status().message(),
              HasSubstr("trailing bytes at offset 91 after SubjectPublicKeyInfo"));
  EXPECT_THAT(PublicKey::FromSpkiDer(std::span(spki).first(40)).status().message(),
              HasSubstr("truncated SubjectPublicKeyInfo at offset 0"));
}

TEST(SignatureTest, EcPointCoordinatesArePaddedOrRejected) {
  auto key = EcPrivateKey::Generate(EcCurve::kP384);
  ASSERT_TRUE(key.ok());
  const auto& spki = key->public_spki_der();
  const std::vector<uint8_t> x(spki.end() - 96, spki.end() - 48), y(spki.end() - 48, spki.end());
  auto pub = PublicKey::FromEcPoint(EcCurve::kP384, x, y);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->spki_der(), spki);
  std::vector<uint8_t> long_x(49, 0);
  EXPECT_THAT(PublicKey::FromEcPoint(EcCurve::kP384, long_x, y).status().message(),
              HasSubstr("coordinates of at most 48 bytes, got x of 49"));
}

}  // namespace
}  // namespace tng::crypto
