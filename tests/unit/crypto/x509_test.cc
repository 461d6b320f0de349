#include "crypto/x509.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "crypto/der.h"

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Oid(std::string_view dotted) { return DerOid(*OidFromString(dotted)); }

struct TbsParts {
  std::vector<uint8_t> version = DerConstructed(der::ContextConstructed(0), {DerSmallInteger(2)});
  std::vector<uint8_t> inner_alg = DerSequence({Oid("1.2.840.10045.4.3.2")});
  std::vector<uint8_t> outer_alg = DerSequence({Oid("1.2.840.10045.4.3.2")});
  std::vector<std::vector<uint8_t>> extensions;
  bool with_extensions = true;
};

// A certificate signed by `key`, assembled here so that every field can be varied.
std::vector<uint8_t> MakeCert(EcPrivateKey& key, const TbsParts& p) {
  const auto name = DerSequence(
      {DerConstructed(der::kSet, {DerSequence({Oid("2.5.4.3"), DerUtf8String("x509 test")})})});
  const auto validity = DerSequence({DerTime(1000), DerTime(2000)});
  std::vector<uint8_t> ext_list;
  for (const auto& e : p.extensions) ext_list.insert(ext_list.end(), e.begin(), e.end());
  std::vector<uint8_t> tbs_content;
  for (const auto& part :
       {p.version, DerSmallInteger(77), p.inner_alg, name, validity, name, key.public_spki_der()}) {
    tbs_content.insert(tbs_content.end(), part.begin(), part.end());
  }
  if (p.with_extensions) {
    const auto exts =
        DerConstructed(der::ContextConstructed(3), {DerTlv(der::kSequence, ext_list)});
    tbs_content.insert(tbs_content.end(), exts.begin(), exts.end());
  }
  const auto tbs = DerTlv(der::kSequence, tbs_content);
  auto sig = key.Sign(HashAlgorithm::kSha256, tbs);
  EXPECT_TRUE(sig.ok());
  return DerSequence({tbs, p.outer_alg, DerBitString(*sig)});
}

EcPrivateKey NewKey() { return *EcPrivateKey::Generate(EcCurve::kP256); }

TEST(X509Test, ParsesFieldsAndVerifiesSignature) {
  auto key = NewKey();
  TbsParts parts;
  parts.extensions = {
      DerSequence({Oid("2.5.29.19"), DerBoolean(true), DerOctetString(DerSequence({}))}),
      DerSequence({Oid("1.2.3.4"), DerOctetString(std::vector<uint8_t>{9, 9})})};
  const auto der = MakeCert(key, parts);
  auto cert = X509Certificate::ParseDer(der);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->version(), 3);
  EXPECT_EQ(cert->serial().size(), 1u);
  EXPECT_EQ(cert->serial()[0], 77);
  EXPECT_EQ(cert->not_before(), 1000);
  EXPECT_EQ(cert->not_after(), 2000);
  EXPECT_TRUE(std::ranges::equal(cert->issuer_der(), cert->subject_der()));
  EXPECT_TRUE(std::ranges::equal(cert->spki_der(), key.public_spki_der()));
  ASSERT_EQ(cert->extensions().size(), 2u);
  EXPECT_TRUE(cert->FindExtension("2.5.29.19")->critical);
  EXPECT_EQ(cert->FindExtension("1.2.3.4")->value, (std::vector<uint8_t>{9, 9}));
  EXPECT_EQ(cert->FindExtension("1.2.3.5"), nullptr);
  auto alg = cert->signature_algorithm();
  ASSERT_TRUE(alg.ok());
  EXPECT_EQ(alg->scheme, SignatureScheme::kEcdsa);
  EXPECT_EQ(alg->hash, HashAlgorithm::kSha256);
  EXPECT_TRUE(cert->VerifySignature(*key.public_key()).ok());
  const absl::Status wrong = cert->VerifySignature(*NewKey().public_key());
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.message(),
              HasSubstr("X.509 certificate signature: ECDSA signature does not verify"));

  // A copy keeps working after the original is gone (fields are offsets, not pointers).
  X509Certificate copy = *cert;
  cert = absl::UnknownError("gone");
  EXPECT_TRUE(copy.VerifySignature(*key.public_key()).ok());
}

TEST(X509Test, VersionOneWithoutExtensions) {
  auto key = NewKey();
  TbsParts parts;
  parts.version.clear();
  parts.with_extensions = false;
  auto cert = X509Certificate::ParseDer(MakeCert(key, parts));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->version(), 1);
  EXPECT_TRUE(cert->extensions().empty());
}

TEST(X509Test, StructuralErrors) {
  auto key = NewKey();
  TbsParts mismatch;
  mismatch.inner_alg = DerSequence({Oid("1.2.840.10045.4.3.3")});
  EXPECT_THAT(X509Certificate::ParseDer(MakeCert(key, mismatch)).status().message(),
              HasSubstr("tbsCertificate signature algorithm at offset 15 differs from "
                        "signatureAlgorithm"));

  TbsParts sha1;
  sha1.inner_alg = sha1.outer_alg = DerSequence({Oid("1.2.840.113549.1.1.5"), DerNull()});
  auto sha1_cert = X509Certificate::ParseDer(MakeCert(key, sha1));
  ASSERT_TRUE(sha1_cert.ok()) << sha1_cert.status();
  EXPECT_EQ(sha1_cert->signature_algorithm().status().message(),
            "X.509 certificate: unsupported signature algorithm 1.2.840.113549.1.1.5");
  EXPECT_FALSE(sha1_cert->VerifySignature(*key.public_key()).ok());

  TbsParts dup;
  dup.extensions = {DerSequence({Oid("1.2.3.4"), DerOctetString({})}),
                    DerSequence({Oid("1.2.3.4"), DerOctetString({})})};
  EXPECT_THAT(X509Certificate::ParseDer(MakeCert(key, dup)).status().message(),
              HasSubstr("duplicate extension 1.2.3.4"));

  TbsParts bad_flag;
  bad_flag.extensions = {DerSequence(
      {Oid("1.2.3.4"), DerTlv(der::kBoolean, std::vector<uint8_t>{7}), DerOctetString({})})};
  EXPECT_THAT(X509Certificate::ParseDer(MakeCert(key, bad_flag)).status().message(),
              HasSubstr("malformed critical flag"));

  TbsParts missing_value;
  missing_value.extensions = {DerSequence({Oid("1.2.3.4")})};
  EXPECT_THAT(X509Certificate::ParseDer(MakeCert(key, missing_value)).status().message(),
              HasSubstr("extnValue of 1.2.3.4 (OCTET STRING) is missing"));

  EXPECT_EQ(
      X509Certificate::ParseDerOrPem(std::vector<uint8_t>{'h', 'i'}).status().message(),
      "X.509 certificate: input is neither DER (byte 0x68 at offset 0, expected 0x30) nor PEM");
  EXPECT_THAT(X509Certificate::ParseDer(std::vector<uint8_t>{0x30, 0x00}).status().message(),
              HasSubstr("X.509 certificate: truncated DER at offset 2: tbsCertificate"));
}

// An RSA certificate made by the openssl command: the RSA signature path and PEM input.
TEST(X509Test, VerifiesOpensslRsaCertificate) {
  const std::string dir = ::testing::TempDir() + "x509_test_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string cmd = "cd " + dir +
                          " && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out "
                          "cert.pem -sha384 -days 2 -subj /CN=rsa-test >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(dir + "/cert.pem", std::ios::binary);
  const std::vector<uint8_t> pem((std::istreambuf_iterator<char>(in)), {});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << cmd;

  auto cert = X509Certificate::ParseDerOrPem(pem);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->signature_algorithm_oid(), "1.2.840.113549.1.1.12");
  EXPECT_EQ(cert->not_after() - cert->not_before(), 2 * 86400);
  auto key = PublicKey::FromSpkiDer(cert->spki_der());
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->type(), PublicKey::Type::kRsa);
  EXPECT_TRUE(cert->VerifySignature(*key).ok()) << cert->VerifySignature(*key);
  auto der = cert->der();
  der[der.size() - 10] ^= 1;
  auto forged = X509Certificate::ParseDer(der);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->VerifySignature(*key).code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace tng::crypto
