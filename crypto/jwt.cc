#include "crypto/jwt.h"

#include <simdjson.h>

#include "crypto/base64.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

struct AlgInfo {
  JwsAlgorithm alg;
  std::string_view name;
  SignatureAlgorithm signature;
};

constexpr AlgInfo kAlgorithms[] = {
    {JwsAlgorithm::kEs256, "ES256", {SignatureScheme::kEcdsa, HashAlgorithm::kSha256}},
    {JwsAlgorithm::kEs384, "ES384", {SignatureScheme::kEcdsa, HashAlgorithm::kSha384}},
    {JwsAlgorithm::kEs512, "ES512", {SignatureScheme::kEcdsa, HashAlgorithm::kSha512}},
    {JwsAlgorithm::kRs256, "RS256", {SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha256}},
    {JwsAlgorithm::kRs384, "RS384", {SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha384}},
    {JwsAlgorithm::kRs512, "RS512", {SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha512}},
};

// The curve each ECDSA JWS algorithm is defined on (RFC 7518 §3.4).
EcCurve CurveFor(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kEs384:
      return EcCurve::kP384;
    case JwsAlgorithm::kEs512:
      return EcCurve::kP521;
    default:
      return EcCurve::kP256;
  }
}

absl::Status PartError(std::string_view part, const absl::Status& s) {
  return absl::Status(s.code(), StrCat("JWS ", part, ": ", s.message()));
}

absl::Status Invalid(std::string_view part, std::string_view message) {
  return absl::InvalidArgumentError(StrCat("JWS ", part, ": ", message));
}

// An optional string member; an error if present with another type.
absl::Status ReadString(simdjson::dom::object obj, std::string_view key, std::string_view where,
                        std::string& out) {
  simdjson::dom::element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS) return absl::OkStatus();
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    return Invalid("header", StrCat(where, "\"", key, "\" must be a string"));
  }
  out = std::string(s);
  return absl::OkStatus();
}

absl::Status ReadBase64Url(simdjson::dom::object obj, std::string_view key, std::string_view where,
                           std::vector<uint8_t>& out) {
  std::string text;
  if (auto s = ReadString(obj, key, where, text); !s.ok()) return s;
  if (text.empty()) {
    return Invalid("header", StrCat(where, "\"", key, "\" is missing or empty"));
  }
  auto bytes = Base64Decode(text, Base64Alphabet::kUrl, Base64Padding::kOptional);
  if (!bytes.ok()) {
    return Invalid("header", StrCat(where, "\"", key, "\": ", bytes.status().message()));
  }
  out = *std::move(bytes);
  return absl::OkStatus();
}

// x5c entries are base64 DER (RFC 7517 §4.7); some services emit base64url or wrap lines, so
// both alphabets and line breaks are accepted here.
absl::Status ReadX5c(simdjson::dom::object obj, std::string_view where,
                     std::vector<std::vector<uint8_t>>& out) {
  simdjson::dom::element value;
  if (obj.at_key("x5c").get(value) != simdjson::SUCCESS) return absl::OkStatus();
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return Invalid("header", StrCat(where, "\"x5c\" must be an array of strings"));
  }
  size_t index = 0;
  for (simdjson::dom::element item : array) {
    std::string_view text;
    if (item.get_string().get(text) != simdjson::SUCCESS) {
      return Invalid("header", StrCat(where, "x5c[", index, "] must be a string"));
    }
    std::string compact;
    for (char c : text) {
      if (c != '\n' && c != '\r' && c != ' ') compact += c;
    }
    auto der = Base64Decode(compact, Base64Alphabet::kEither, Base64Padding::kOptional);
    if (!der.ok()) {
      return Invalid("header", StrCat(where, "x5c[", index, "]: ", der.status().message()));
    }
    out.push_back(*std::move(der));
    ++index;
  }
  return absl::OkStatus();
}

absl::StatusOr<Jwk> ParseJwk(simdjson::dom::element element) {
  simdjson::dom::object obj;
  if (element.get_object().get(obj) != simdjson::SUCCESS) {
    return Invalid("header", "\"jwk\" must be an object");
  }
  Jwk jwk;
  constexpr std::string_view kWhere = "jwk.";
  for (auto [key, target] : {std::pair{"kty", &jwk.kty}, std::pair{"crv", &jwk.crv},
                             std::pair{"alg", &jwk.alg}, std::pair{"kid", &jwk.kid}}) {
    if (auto s = ReadString(obj, key, kWhere, *target); !s.ok()) return s;
  }
  if (jwk.kty == "EC") {
    if (jwk.crv != "P-256" && jwk.crv != "P-384" && jwk.crv != "P-521") {
      return Invalid("header", StrCat("jwk.crv \"", jwk.crv, "\" is not supported"));
    }
    if (auto s = ReadBase64Url(obj, "x", kWhere, jwk.x); !s.ok()) return s;
    if (auto s = ReadBase64Url(obj, "y", kWhere, jwk.y); !s.ok()) return s;
  } else if (jwk.kty == "RSA") {
    if (auto s = ReadBase64Url(obj, "n", kWhere, jwk.n); !s.ok()) return s;
    if (auto s = ReadBase64Url(obj, "e", kWhere, jwk.e); !s.ok()) return s;
  } else {
    return Invalid("header", StrCat("jwk.kty \"", jwk.kty, "\" is not supported"));
  }
  if (auto s = ReadX5c(obj, kWhere, jwk.x5c); !s.ok()) return s;
  return jwk;
}

absl::StatusOr<JwsHeader> ParseHeader(std::string json) {
  JwsHeader header;
  header.json = std::move(json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(header.json).get(root); err != simdjson::SUCCESS) {
    return Invalid("header", StrCat("invalid JSON: ", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return Invalid("header", "must be a JSON object");
  }
  for (auto [key, target] : {std::pair{"alg", &header.alg}, std::pair{"typ", &header.typ},
                             std::pair{"kid", &header.kid}}) {
    if (auto s = ReadString(obj, key, "", *target); !s.ok()) return s;
  }
  if (header.alg.empty()) return Invalid("header", "\"alg\" is missing");
  simdjson::dom::element crit;
  if (obj.at_key("crit").get(crit) == simdjson::SUCCESS) {
    return Invalid("header", "\"crit\" names extensions this verifier does not understand");
  }
  simdjson::dom::element jwk;
  if (obj.at_key("jwk").get(jwk) == simdjson::SUCCESS) {
    auto parsed = ParseJwk(jwk);
    if (!parsed.ok()) return parsed.status();
    header.jwk = *std::move(parsed);
  }
  if (auto s = ReadX5c(obj, "", header.x5c); !s.ok()) return s;
  return header;
}

}  // namespace

std::string_view JwsAlgorithmName(JwsAlgorithm alg) {
  for (const auto& a : kAlgorithms) {
    if (a.alg == alg) return a.name;
  }
  return "unknown";
}

absl::StatusOr<JwsAlgorithm> JwsAlgorithmFromName(std::string_view name) {
  for (const auto& a : kAlgorithms) {
    if (a.name == name) return a.alg;
  }
  if (name == "none") {
    return absl::InvalidArgumentError("JWS alg \"none\" (unsigned token) is not accepted");
  }
  return absl::UnimplementedError(StrCat("JWS alg \"", name, "\" is not supported"));
}

SignatureAlgorithm ToSignatureAlgorithm(JwsAlgorithm alg) {
  for (const auto& a : kAlgorithms) {
    if (a.alg == alg) return a.signature;
  }
  return kAlgorithms[0].signature;
}

absl::StatusOr<PublicKey> Jwk::ToPublicKey() const {
  absl::StatusOr<PublicKey> key =
      absl::UnimplementedError(StrCat("JWK key type \"", kty, "\" is not supported"));
  if (kty == "EC") {
    const EcCurve curve = crv == "P-384"   ? EcCurve::kP384
                          : crv == "P-521" ? EcCurve::kP521
                                           : EcCurve::kP256;
    if (crv != EcCurveName(curve)) {
      return absl::UnimplementedError(StrCat("JWK curve \"", crv, "\" is not supported"));
    }
    key = PublicKey::FromEcPoint(curve, x, y);
  } else if (kty == "RSA") {
    key = PublicKey::FromRsa(n, e);
  }
  if (!key.ok()) return absl::Status(key.status().code(), StrCat("JWK: ", key.status().message()));
  return key;
}

absl::StatusOr<Jws> ParseJws(std::string_view compact, const JwsLimits& limits) {
  if (compact.size() > limits.max_token_size) {
    return absl::InvalidArgumentError(StrCat("JWS of ", compact.size(),
                                             " bytes exceeds the limit of ", limits.max_token_size,
                                             " bytes"));
  }
  const size_t dot1 = compact.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos) {
    size_t dots = 0;
    for (char c : compact) dots += c == '.';
    return absl::InvalidArgumentError(
        StrCat("JWS: expected 3 dot-separated parts (header.payload.signature), found ", dots + 1));
  }
  const std::string_view header_b64 = compact.substr(0, dot1);
  const std::string_view payload_b64 = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = compact.substr(dot2 + 1);

  if (header_b64.size() / 4 * 3 > limits.max_header_size) {
    return Invalid("header", StrCat("larger than the limit of ", limits.max_header_size, " bytes"));
  }
  auto header_bytes = Base64UrlDecode(header_b64);
  if (!header_bytes.ok()) return PartError("header", header_bytes.status());
  auto header = ParseHeader(std::string(header_bytes->begin(), header_bytes->end()));
  if (!header.ok()) return header.status();
  auto alg = JwsAlgorithmFromName(header->alg);
  if (!alg.ok()) return PartError("header", alg.status());
  if (header->jwk && !header->jwk->alg.empty() && header->jwk->alg != header->alg) {
    return Invalid("header", StrCat("jwk.alg \"", header->jwk->alg, "\" does not match alg \"",
                                    header->alg, "\""));
  }

  auto payload = Base64UrlDecode(payload_b64);
  if (!payload.ok()) return PartError("payload", payload.status());
  auto signature = Base64UrlDecode(signature_b64);
  if (!signature.ok()) return PartError("signature", signature.status());
  if (signature->empty()) return Invalid("signature", "empty");

  Jws jws{.header = *std::move(header),
          .algorithm = *alg,
          .signing_input = std::string(compact.substr(0, dot2)),
          .payload = *std::move(payload),
          .signature = *std::move(signature)};
  return jws;
}

absl::Status VerifyJws(const Jws& jws, const PublicKey& key) {
  const SignatureAlgorithm sig = ToSignatureAlgorithm(jws.algorithm);
  const std::string_view name = JwsAlgorithmName(jws.algorithm);
  if (sig.scheme == SignatureScheme::kEcdsa) {
    if (key.type() != PublicKey::Type::kEc || key.curve() != CurveFor(jws.algorithm)) {
      return Invalid(
          "signature",
          StrCat(name, " needs a ", EcCurveName(CurveFor(jws.algorithm)), " key, got ",
                 key.type() == PublicKey::Type::kEc ? EcCurveName(key.curve()) : "an RSA key"));
    }
  } else if (key.type() != PublicKey::Type::kRsa) {
    return Invalid("signature", StrCat(name, " needs an RSA key, got an EC key"));
  }
  const auto* input = reinterpret_cast<const uint8_t*>(jws.signing_input.data());
  auto s = key.Verify(sig, std::span(input, jws.signing_input.size()), jws.signature,
                      EcdsaEncoding::kRaw);
  if (!s.ok()) return PartError("signature", s);
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignJws(std::string_view header_json, std::span<const uint8_t> payload,
                                    JwsAlgorithm alg, EcPrivateKey& key) {
  const SignatureAlgorithm sig = ToSignatureAlgorithm(alg);
  if (sig.scheme != SignatureScheme::kEcdsa || key.curve() != CurveFor(alg)) {
    return absl::InvalidArgumentError(StrCat("cannot sign ", JwsAlgorithmName(alg), " with a ",
                                             EcCurveName(key.curve()), " key"));
  }
  auto header = ParseHeader(std::string(header_json));
  if (!header.ok()) return header.status();
  if (header->alg != JwsAlgorithmName(alg)) {
    return Invalid("header",
                   StrCat("alg \"", header->alg, "\" does not match ", JwsAlgorithmName(alg)));
  }
  std::string out = Base64UrlEncode(
      std::span(reinterpret_cast<const uint8_t*>(header_json.data()), header_json.size()));
  out += '.';
  out += Base64UrlEncode(payload);
  auto signature =
      key.Sign(sig.hash, std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size()),
               EcdsaEncoding::kRaw);
  if (!signature.ok()) return signature.status();
  out += '.';
  out += Base64UrlEncode(*signature);
  return out;
}

}  // namespace tng::crypto
