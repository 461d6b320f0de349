#include "crypto/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "crypto/base64.h"

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// RFC 7515 Appendix A.3: ES256 over the A.1 payload, with the JWK of the signing key.
constexpr std::string_view kRfcHeader = "eyJhbGciOiJFUzI1NiJ9";
constexpr std::string_view kRfcPayload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ";
constexpr std::string_view kRfcSignature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr std::string_view kRfcX = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr std::string_view kRfcY = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

std::string RfcToken() {
  return std::string(kRfcHeader) + "." + std::string(kRfcPayload) + "." +
         std::string(kRfcSignature);
}

PublicKey RfcKey() {
  auto key =
      PublicKey::FromEcPoint(EcCurve::kP256, *Base64UrlDecode(kRfcX), *Base64UrlDecode(kRfcY));
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

std::string ParseError(std::string_view token, const JwsLimits& limits = {}) {
  auto r = ParseJws(token, limits);
  EXPECT_FALSE(r.ok()) << token;
  return r.ok() ? "" : std::string(r.status().message());
}

std::string Header(std::string_view json) { return Base64UrlEncode(Bytes(json)); }

TEST(JwtTest, VerifiesRfc7515Es256Example) {
  auto jws = ParseJws(RfcToken());
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->header.alg, "ES256");
  EXPECT_EQ(jws->algorithm, JwsAlgorithm::kEs256);
  EXPECT_EQ(jws->header.json, "{\"alg\":\"ES256\"}");
  EXPECT_EQ(std::string(jws->payload.begin(), jws->payload.end()),
            "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");
  EXPECT_EQ(jws->signature.size(), 64u);
  EXPECT_EQ(jws->signing_input, std::string(kRfcHeader) + "." + std::string(kRfcPayload));
  EXPECT_TRUE(VerifyJws(*jws, RfcKey()).ok());

  // Q -> R in the last character only sets an unused bit: refused as non-canonical base64, so
  // two spellings of one signature cannot both be accepted.
  std::string respelled = RfcToken();
  respelled.back() = 'R';
  EXPECT_THAT(ParseError(respelled), HasSubstr("JWS signature: non-canonical base64"));

  // The first signature character changed (D -> E) alters r.
  std::string tampered = RfcToken();
  tampered[tampered.rfind('.') + 1] = 'E';
  auto bad = ParseJws(tampered);
  ASSERT_TRUE(bad.ok()) << bad.status();
  const absl::Status s = VerifyJws(*bad, RfcKey());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("JWS signature: ECDSA signature does not verify"));
}

TEST(JwtTest, SignedInTestVerifiesAndTamperedDoesNot) {
  auto key = EcPrivateKey::Generate(EcCurve::kP256);
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string claims = R"({"exp":1900000000,"submods":{"cpu":{"ear.status":"affirming"}}})";
  auto token = SignJws(R"({"alg":"ES256","typ":"JWT"})", Bytes(claims), JwsAlgorithm::kEs256, *key);
  ASSERT_TRUE(token.ok()) << token.status();
  auto jws = ParseJws(*token);
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->header.typ, "JWT");
  EXPECT_EQ(std::string(jws->payload.begin(), jws->payload.end()), claims);
  auto pub = key->public_key();
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(VerifyJws(*jws, *pub).ok());

  // Payload changed after signing: same header and signature, different claims.
  const size_t dot1 = token->find('.'), dot2 = token->rfind('.');
  const std::string forged_claims =
      R"({"exp":1900000000,"submods":{"cpu":{"ear.status":"contraindicated"}}})";
  const std::string forged =
      token->substr(0, dot1 + 1) + Base64UrlEncode(Bytes(forged_claims)) + token->substr(dot2);
  auto forged_jws = ParseJws(forged);
  ASSERT_TRUE(forged_jws.ok()) << forged_jws.status();
  EXPECT_EQ(VerifyJws(*forged_jws, *pub).code(), absl::StatusCode::kUnauthenticated);

  // Another key does not verify it either.
  auto other = EcPrivateKey::Generate(EcCurve::kP256);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(VerifyJws(*jws, *other->public_key()).code(), absl::StatusCode::kUnauthenticated);
}

TEST(JwtTest, Es384AndKeyAlgorithmMismatch) {
  auto p384 = EcPrivateKey::Generate(EcCurve::kP384);
  ASSERT_TRUE(p384.ok()) << p384.status();
  auto token = SignJws(R"({"alg":"ES384"})", Bytes("{}"), JwsAlgorithm::kEs384, *p384);
  ASSERT_TRUE(token.ok()) << token.status();
  auto jws = ParseJws(*token);
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->signature.size(), 96u);
  EXPECT_TRUE(VerifyJws(*jws, *p384->public_key()).ok());

  const absl::Status wrong_curve = VerifyJws(*jws, RfcKey());
  EXPECT_EQ(wrong_curve.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong_curve.message(), "JWS signature: ES384 needs a P-384 key, got P-256");

  auto refused = SignJws(R"({"alg":"ES256"})", Bytes("{}"), JwsAlgorithm::kEs256, *p384);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("cannot sign ES256 with a P-384 key"));
  auto mislabelled = SignJws(R"({"alg":"ES256"})", Bytes("{}"), JwsAlgorithm::kEs384, *p384);
  ASSERT_FALSE(mislabelled.ok());
  EXPECT_THAT(mislabelled.status().message(), HasSubstr("does not match ES384"));
}

TEST(JwtTest, HeaderJwkAndX5c) {
  auto key = EcPrivateKey::Generate(EcCurve::kP256);
  ASSERT_TRUE(key.ok());
  // x and y from the SPKI's uncompressed point (last 64 bytes).
  const auto& spki = key->public_spki_der();
  const std::vector<uint8_t> x(spki.end() - 64, spki.end() - 32), y(spki.end() - 32, spki.end());
  // x5c: standard base64 as RFC 7517 says, and base64url with a line break as some services send.
  const std::vector<uint8_t> fake_der = {0x30, 0x04, 0xfb, 0xff, 0xbf, 0xfe};
  const std::string url = Base64UrlEncode(fake_der);
  ASSERT_NE(url.find_first_of("-_"), std::string::npos);
  const std::string header =
      R"({"alg":"ES256","kid":"k1","jwk":{"kty":"EC","crv":"P-256","alg":"ES256","x":")" +
      Base64UrlEncode(x) + R"(","y":")" + Base64UrlEncode(y) + R"(","x5c":[")" +
      Base64Encode(fake_der) + R"(",")" + url.substr(0, 4) + "\\n" + url.substr(4) + R"("]}})";
  auto token = SignJws(header, Bytes("{}"), JwsAlgorithm::kEs256, *key);
  ASSERT_TRUE(token.ok()) << token.status();
  auto jws = ParseJws(*token);
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->header.kid, "k1");
  ASSERT_TRUE(jws->header.jwk.has_value());
  EXPECT_EQ(jws->header.jwk->kty, "EC");
  EXPECT_EQ(jws->header.jwk->x, x);
  ASSERT_EQ(jws->header.jwk->x5c.size(), 2u);
  EXPECT_EQ(jws->header.jwk->x5c[0], fake_der);
  EXPECT_EQ(jws->header.jwk->x5c[1], fake_der);
  auto pub = jws->header.jwk->ToPublicKey();
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->spki_der(), spki);
  EXPECT_TRUE(VerifyJws(*jws, *pub).ok());
}

TEST(JwtTest, JwkCoordinatesWithStrippedLeadingZeroStillMatch) {
  // Some services drop leading zero bytes of EC coordinates (RFC 7518 says pad). Find a key whose
  // x starts with 0x00 (1 in 256) and check the short form gives the same key.
  for (int attempt = 0; attempt < 4000; ++attempt) {
    auto key = EcPrivateKey::Generate(EcCurve::kP256);
    ASSERT_TRUE(key.ok());
    const auto& spki = key->public_spki_der();
    const std::vector<uint8_t> x(spki.end() - 64, spki.end() - 32), y(spki.end() - 32, spki.end());
    if (x[0] != 0) continue;
    auto short_form = PublicKey::FromEcPoint(EcCurve::kP256, std::span(x).subspan(1), y);
    ASSERT_TRUE(short_form.ok()) << short_form.status();
    EXPECT_EQ(short_form->spki_der(), spki);
    return;
  }
  FAIL() << "no key with a leading zero coordinate in 4000 attempts (p < 1e-6)";
}

// RS256 with a key and signature made by the openssl command, checked through the SPKI path.
TEST(JwtTest, VerifiesRs256MadeByOpenssl) {
  const std::string dir = ::testing::TempDir() + "jwt_test_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string header = Header(R"({"alg":"RS256","typ":"JWT"})");
  const std::string payload = Base64UrlEncode(Bytes(R"({"sub":"tng"})"));
  { std::ofstream(dir + "/input") << header << "." << payload; }
  const std::string cmd =
      "cd " + dir +
      " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null"
      " && openssl pkey -in key.pem -pubout -outform DER -out pub.der"
      " && openssl dgst -sha256 -sign key.pem -out sig.bin input";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl failed: " << cmd;
  auto read = [&](const std::string& name) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  };
  const auto spki = read("pub.der");
  const auto sig = read("sig.bin");
  std::filesystem::remove_all(dir);
  ASSERT_EQ(sig.size(), 256u);

  auto key = PublicKey::FromSpkiDer(spki);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->type(), PublicKey::Type::kRsa);
  EXPECT_EQ(key->rsa_bits(), 2048u);
  auto jws = ParseJws(header + "." + payload + "." + Base64UrlEncode(sig));
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->algorithm, JwsAlgorithm::kRs256);
  EXPECT_TRUE(VerifyJws(*jws, *key).ok());
  EXPECT_EQ(VerifyJws(*jws, RfcKey()).message(),
            "JWS signature: RS256 needs an RSA key, got an EC key");

  auto tampered = *jws;
  tampered.signature[100] ^= 1;
  EXPECT_EQ(VerifyJws(tampered, *key).code(), absl::StatusCode::kUnauthenticated);
  auto es_jws = ParseJws(RfcToken());
  ASSERT_TRUE(es_jws.ok());
  EXPECT_EQ(VerifyJws(*es_jws, *key).message(),
            "JWS signature: ES256 needs a P-256 key, got an RSA key");
}

TEST(JwtTest, ErrorsNameThePart) {
  EXPECT_EQ(ParseError("abc.def"),
            "JWS: expected 3 dot-separated parts (header.payload.signature), found 2");
  EXPECT_EQ(ParseError("a.b.c.d.e"),
            "JWS: expected 3 dot-separated parts (header.payload.signature), found 5");
  EXPECT_THAT(ParseError("ey*." + std::string(kRfcPayload) + "." + std::string(kRfcSignature)),
              HasSubstr("JWS header: invalid base64 character '*'"));
  EXPECT_THAT(ParseError(std::string(kRfcHeader) + ".e30=." + std::string(kRfcSignature)),
              HasSubstr("JWS payload: base64 padding '=' at offset 3 is not allowed here"));
  EXPECT_THAT(ParseError(std::string(kRfcHeader) + ".e30.A"),
              HasSubstr("JWS signature: base64 ends with a dangling character"));
  EXPECT_EQ(ParseError(std::string(kRfcHeader) + ".e30."), "JWS signature: empty");
  EXPECT_THAT(ParseError(Header("[1]") + ".e30.AAAA"),
              HasSubstr("JWS header: must be a JSON object"));
  EXPECT_THAT(ParseError(Header("{\"alg\":") + ".e30.AAAA"), HasSubstr("JWS header: invalid JSON"));
  EXPECT_EQ(ParseError(Header(R"({"typ":"JWT"})") + ".e30.AAAA"), "JWS header: \"alg\" is missing");
  EXPECT_EQ(ParseError(Header(R"({"alg":7})") + ".e30.AAAA"),
            "JWS header: \"alg\" must be a string");
  EXPECT_THAT(ParseError(Header(R"({"alg":"none"})") + ".e30.AAAA"),
              HasSubstr("\"none\" (unsigned token) is not accepted"));
  EXPECT_THAT(ParseError(Header(R"({"alg":"HS256"})") + ".e30.AAAA"),
              HasSubstr("JWS header: JWS alg \"HS256\" is not supported"));
  EXPECT_THAT(ParseError(Header(R"({"alg":"ES256","crit":["exp"]})") + ".e30.AAAA"),
              HasSubstr("\"crit\""));
  EXPECT_THAT(ParseError(Header(R"({"alg":"ES256","jwk":{"kty":"OKP"}})") + ".e30.AAAA"),
              HasSubstr("jwk.kty \"OKP\" is not supported"));
  EXPECT_THAT(ParseError(Header(R"({"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA"}})") +
                         ".e30.AAAA"),
              HasSubstr("jwk.\"y\" is missing or empty"));
  EXPECT_THAT(ParseError(Header(R"({"alg":"ES256","jwk":{"kty":"EC","crv":"P-256",)"
                                R"("x":"AA","y":"AA","alg":"ES384"}})") +
                         ".e30.AAAA"),
              HasSubstr("jwk.alg \"ES384\" does not match alg \"ES256\""));
  EXPECT_THAT(ParseError(Header(R"({"alg":"ES256","x5c":["!!"]})") + ".e30.AAAA"),
              HasSubstr("JWS header: x5c[0]: invalid base64 character '!'"));
  EXPECT_THAT(ParseError(Header(R"({"alg":"ES256","x5c":"MAMCAfs="})") + ".e30.AAAA"),
              HasSubstr("\"x5c\" must be an array of strings"));
}

TEST(JwtTest, RawSignatureOfWrongLengthIsRejected) {
  auto jws = ParseJws(std::string(kRfcHeader) + "." + std::string(kRfcPayload) + ".AAAA");
  ASSERT_TRUE(jws.ok()) << jws.status();
  const absl::Status s = VerifyJws(*jws, RfcKey());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(), "JWS signature: ECDSA P-256 signature must be 64 bytes (r || s), got 3");
}

TEST(JwtTest, SizeLimits) {
  JwsLimits limits;
  limits.max_token_size = 100;
  EXPECT_EQ(ParseError(RfcToken(), limits), "JWS of " + std::to_string(RfcToken().size()) +
                                                " bytes exceeds the limit of 100 bytes");
  JwsLimits header_limit;
  header_limit.max_header_size = 10;
  EXPECT_THAT(ParseError(RfcToken(), header_limit), HasSubstr("JWS header: larger than the limit"));
}

}  // namespace
}  // namespace tng::crypto
