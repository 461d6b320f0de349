#include "crypto/signature.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>
// clang-format on

#include <algorithm>
#include <array>
#include <bit>

#include "crypto/der.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

// OID contents (RFC 5480, RFC 8017).
constexpr std::array<uint8_t, 7> kOidEcPublicKey = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr std::array<uint8_t, 8> kOidP256 = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::array<uint8_t, 5> kOidP384 = {0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr std::array<uint8_t, 5> kOidP521 = {0x2b, 0x81, 0x04, 0x00, 0x23};
constexpr std::array<uint8_t, 9> kOidRsaEncryption = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                      0x0d, 0x01, 0x01, 0x01};
constexpr size_t kMinRsaBits = 2048;

bool SameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

int WolfCurveId(EcCurve curve) {
  switch (curve) {
    case EcCurve::kP256:
      return ECC_SECP256R1;
    case EcCurve::kP384:
      return ECC_SECP384R1;
    case EcCurve::kP521:
      return ECC_SECP521R1;
  }
  return ECC_CURVE_INVALID;
}

std::span<const uint8_t> CurveOid(EcCurve curve) {
  switch (curve) {
    case EcCurve::kP256:
      return kOidP256;
    case EcCurve::kP384:
      return kOidP384;
    case EcCurve::kP521:
      return kOidP521;
  }
  return {};
}

wc_HashType WolfHash(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha256:
      return WC_HASH_TYPE_SHA256;
    case HashAlgorithm::kSha384:
      return WC_HASH_TYPE_SHA384;
    case HashAlgorithm::kSha512:
      return WC_HASH_TYPE_SHA512;
  }
  return WC_HASH_TYPE_NONE;
}

absl::Status WolfError(std::string_view what, int rc) {
  return absl::InternalError(
      StrCat(what, " failed: wolfCrypt error ", rc, " (", wc_GetErrorString(rc), ")"));
}

std::vector<uint8_t> EcSpki(EcCurve curve, std::span<const uint8_t> point) {
  const auto algorithm = DerSequence({DerOid(kOidEcPublicKey), DerOid(CurveOid(curve))});
  return DerSequence({algorithm, DerBitString(point)});
}

std::vector<uint8_t> RsaSpki(std::span<const uint8_t> n, std::span<const uint8_t> e) {
  const auto algorithm = DerSequence({DerOid(kOidRsaEncryption), DerNull()});
  const auto rsa_public_key = DerSequence({DerUnsignedIntegerTlv(n), DerUnsignedIntegerTlv(e)});
  return DerSequence({algorithm, DerBitString(rsa_public_key)});
}

}  // namespace

std::string_view EcCurveName(EcCurve curve) {
  switch (curve) {
    case EcCurve::kP256:
      return "P-256";
    case EcCurve::kP384:
      return "P-384";
    case EcCurve::kP521:
      return "P-521";
  }
  return "unknown";
}

size_t EcCoordinateSize(EcCurve curve) {
  switch (curve) {
    case EcCurve::kP256:
      return 32;
    case EcCurve::kP384:
      return 48;
    case EcCurve::kP521:
      return 66;
  }
  return 0;
}

// ---- PublicKey ------------------------------------------------------------------------------

struct PublicKey::Impl {
  Type type = Type::kEc;
  EcCurve curve = EcCurve::kP256;
  size_t rsa_bits = 0;
  ecc_key ecc;
  bool ecc_ready = false;
  RsaKey rsa;
  bool rsa_ready = false;
  std::vector<uint8_t> spki;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (ecc_ready) wc_ecc_free(&ecc);
    if (rsa_ready) wc_FreeRsaKey(&rsa);
  }
};

PublicKey::PublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

PublicKey::Type PublicKey::type() const { return impl_->type; }
EcCurve PublicKey::curve() const { return impl_->curve; }
size_t PublicKey::rsa_bits() const { return impl_->rsa_bits; }
const std::vector<uint8_t>& PublicKey::spki_der() const { return impl_->spki; }

absl::StatusOr<PublicKey> PublicKey::FromEcPoint(EcCurve curve, std::span<const uint8_t> x,
                                                 std::span<const uint8_t> y) {
  const size_t size = EcCoordinateSize(curve);
  if (x.size() > size || y.size() > size || x.empty() || y.empty()) {
    return absl::InvalidArgumentError(
        StrCat("EC point for ", EcCurveName(curve), " needs coordinates of at most ", size,
               " bytes, got x of ", x.size(), " and y of ", y.size()));
  }
  std::vector<uint8_t> point(1 + 2 * size, 0);
  point[0] = 0x04;
  std::copy(x.begin(), x.end(), point.begin() + 1 + (size - x.size()));
  std::copy(y.begin(), y.end(), point.begin() + 1 + size + (size - y.size()));
  return FromSpkiDer(EcSpki(curve, point));
}

absl::StatusOr<PublicKey> PublicKey::FromRsa(std::span<const uint8_t> modulus,
                                             std::span<const uint8_t> exponent) {
  return FromSpkiDer(RsaSpki(modulus, exponent));
}

absl::StatusOr<PublicKey> PublicKey::FromSpkiDer(std::span<const uint8_t> spki) {
  DerReader top(spki);
  auto spki_seq = top.Expect(der::kSequence, "SubjectPublicKeyInfo");
  if (!spki_seq.ok()) return spki_seq.status();
  if (auto s = top.ExpectEnd("SubjectPublicKeyInfo"); !s.ok()) return s;
  DerReader fields = DerReader::Contents(*spki_seq);
  auto algorithm = fields.Expect(der::kSequence, "SubjectPublicKeyInfo algorithm");
  if (!algorithm.ok()) return algorithm.status();
  auto key_bits = fields.Expect(der::kBitString, "subjectPublicKey");
  if (!key_bits.ok()) return key_bits.status();
  if (auto s = fields.ExpectEnd("subjectPublicKey"); !s.ok()) return s;
  auto key_bytes = DerBitStringBytes(*key_bits, "subjectPublicKey");
  if (!key_bytes.ok()) return key_bytes.status();
  DerReader alg = DerReader::Contents(*algorithm);
  auto oid = alg.Expect(der::kOid, "public key algorithm");
  if (!oid.ok()) return oid.status();

  auto impl = std::make_unique<Impl>();
  impl->spki.assign(spki.begin(), spki.end());
  if (SameBytes(oid->value, kOidEcPublicKey)) {
    auto curve_oid = alg.Expect(der::kOid, "EC named curve");
    if (!curve_oid.ok()) return curve_oid.status();
    if (SameBytes(curve_oid->value, kOidP256)) {
      impl->curve = EcCurve::kP256;
    } else if (SameBytes(curve_oid->value, kOidP384)) {
      impl->curve = EcCurve::kP384;
    } else if (SameBytes(curve_oid->value, kOidP521)) {
      impl->curve = EcCurve::kP521;
    } else {
      return absl::UnimplementedError(StrCat("unsupported EC curve ",
                                             OidToString(curve_oid->value).value_or("?"),
                                             " at offset ", curve_oid->offset));
    }
    const size_t size = EcCoordinateSize(impl->curve);
    if (key_bytes->size() != 1 + 2 * size || (*key_bytes)[0] != 0x04) {
      return absl::InvalidArgumentError(StrCat("EC public key at offset ", key_bits->offset,
                                               " must be an uncompressed ",
                                               EcCurveName(impl->curve), " point of ", 1 + 2 * size,
                                               " bytes, got ", key_bytes->size(), " bytes"));
    }
    if (int rc = wc_ecc_init(&impl->ecc); rc != 0) return WolfError("wc_ecc_init", rc);
    impl->ecc_ready = true;
    if (int rc = wc_ecc_import_x963_ex(key_bytes->data(), static_cast<word32>(key_bytes->size()),
                                       &impl->ecc, WolfCurveId(impl->curve));
        rc != 0) {
      return absl::InvalidArgumentError(StrCat("invalid EC public key: wolfCrypt error ", rc));
    }
    if (int rc = wc_ecc_check_key(&impl->ecc); rc != 0) {
      return absl::InvalidArgumentError(StrCat("EC public key is not a valid ",
                                               EcCurveName(impl->curve), " point (wolfCrypt ", rc,
                                               ")"));
    }
    impl->type = Type::kEc;
    return PublicKey(std::move(impl));
  }
  if (SameBytes(oid->value, kOidRsaEncryption)) {
    if (!alg.empty()) {
      auto params = alg.Expect(der::kNull, "rsaEncryption parameters");
      if (!params.ok()) return params.status();
    }
    DerReader key_reader(*key_bytes, key_bits->offset + 3);
    auto rsa_seq = key_reader.Expect(der::kSequence, "RSAPublicKey");
    if (!rsa_seq.ok()) return rsa_seq.status();
    DerReader rsa_fields = DerReader::Contents(*rsa_seq);
    auto n_el = rsa_fields.Expect(der::kInteger, "RSA modulus");
    if (!n_el.ok()) return n_el.status();
    auto e_el = rsa_fields.Expect(der::kInteger, "RSA public exponent");
    if (!e_el.ok()) return e_el.status();
    auto n = DerUnsignedInteger(*n_el, "RSA modulus");
    if (!n.ok()) return n.status();
    auto e = DerUnsignedInteger(*e_el, "RSA public exponent");
    if (!e.ok()) return e.status();
    const size_t bits = (n->size() - 1) * 8 + static_cast<size_t>(std::bit_width((*n)[0]));
    if (bits < kMinRsaBits) {
      return absl::InvalidArgumentError(
          StrCat("RSA key of ", bits, " bits is too small (minimum ", kMinRsaBits, ")"));
    }
    if (int rc = wc_InitRsaKey(&impl->rsa, nullptr); rc != 0) {
      return WolfError("wc_InitRsaKey", rc);
    }
    impl->rsa_ready = true;
    if (int rc = wc_RsaPublicKeyDecodeRaw(n->data(), static_cast<word32>(n->size()), e->data(),
                                          static_cast<word32>(e->size()), &impl->rsa);
        rc != 0) {
      return absl::InvalidArgumentError(StrCat("invalid RSA public key: wolfCrypt error ", rc));
    }
    impl->type = Type::kRsa;
    impl->rsa_bits = bits;
    return PublicKey(std::move(impl));
  }
  return absl::UnimplementedError(StrCat("unsupported public key algorithm ",
                                         OidToString(oid->value).value_or("?"), " at offset ",
                                         oid->offset));
}

absl::Status PublicKey::Verify(SignatureAlgorithm algorithm, std::span<const uint8_t> message,
                               std::span<const uint8_t> signature, EcdsaEncoding encoding) const {
  if (algorithm.scheme == SignatureScheme::kEcdsa) {
    if (impl_->type != Type::kEc) {
      return absl::InvalidArgumentError("an ECDSA signature needs an EC key, not an RSA key");
    }
    std::vector<uint8_t> der_sig;
    if (encoding == EcdsaEncoding::kRaw) {
      const size_t size = EcCoordinateSize(impl_->curve);
      if (signature.size() != 2 * size) {
        return absl::UnauthenticatedError(StrCat("ECDSA ", EcCurveName(impl_->curve),
                                                 " signature must be ", 2 * size,
                                                 " bytes (r || s), got ", signature.size()));
      }
      der_sig.resize(2 * size + 16);
      word32 len = static_cast<word32>(der_sig.size());
      if (int rc = wc_ecc_rs_raw_to_sig(signature.data(), static_cast<word32>(size),
                                        signature.data() + size, static_cast<word32>(size),
                                        der_sig.data(), &len);
          rc != 0) {
        return absl::UnauthenticatedError(
            StrCat("malformed ECDSA signature (r || s): ", "wolfCrypt error ", rc));
      }
      der_sig.resize(len);
      signature = der_sig;
    }
    const auto digest = Digest(algorithm.hash, message);
    int result = 0;
    const int rc =
        wc_ecc_verify_hash(signature.data(), static_cast<word32>(signature.size()), digest.data(),
                           static_cast<word32>(digest.size()), &result, &impl_->ecc);
    if (rc != 0) {
      return absl::UnauthenticatedError(StrCat("malformed ECDSA signature: wolfCrypt error ", rc));
    }
    if (result != 1) return absl::UnauthenticatedError("ECDSA signature does not verify");
    return absl::OkStatus();
  }
  if (impl_->type != Type::kRsa) {
    return absl::InvalidArgumentError("an RSA signature needs an RSA key, not an EC key");
  }
  if (signature.size() != (impl_->rsa_bits + 7) / 8) {
    return absl::UnauthenticatedError(StrCat("RSA signature must be ", (impl_->rsa_bits + 7) / 8,
                                             " bytes, got ", signature.size()));
  }
  const int rc =
      wc_SignatureVerify(WolfHash(algorithm.hash), WC_SIGNATURE_TYPE_RSA_W_ENC, message.data(),
                         static_cast<word32>(message.size()), signature.data(),
                         static_cast<word32>(signature.size()), &impl_->rsa, sizeof(impl_->rsa));
  if (rc != 0) {
    return absl::UnauthenticatedError(
        StrCat("RSA PKCS#1 v1.5 signature does not verify (wolfCrypt ", rc, ")"));
  }
  return absl::OkStatus();
}

// ---- EcPrivateKey ---------------------------------------------------------------------------

struct EcPrivateKey::Impl {
  EcCurve curve = EcCurve::kP256;
  ecc_key key;
  bool key_ready = false;
  WC_RNG rng;
  bool rng_ready = false;
  std::vector<uint8_t> spki;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (key_ready) wc_ecc_free(&key);
    if (rng_ready) wc_FreeRng(&rng);
  }

  absl::Status Init() {
    if (int rc = wc_InitRng(&rng); rc != 0) return WolfError("wc_InitRng", rc);
    rng_ready = true;
    if (int rc = wc_ecc_init(&key); rc != 0) return WolfError("wc_ecc_init", rc);
    key_ready = true;
    return absl::OkStatus();
  }

  // Timing-resistant builds need the generator on the key; the SPKI is cached for binding hashes.
  absl::Status Finish() {
    if (int rc = wc_ecc_set_rng(&key, &rng); rc != 0) return WolfError("wc_ecc_set_rng", rc);
    const size_t size = EcCoordinateSize(curve);
    std::vector<uint8_t> point(1 + 2 * size, 0);
    point[0] = 0x04;
    word32 xlen = static_cast<word32>(size), ylen = static_cast<word32>(size);
    if (int rc =
            wc_ecc_export_public_raw(&key, point.data() + 1, &xlen, point.data() + 1 + size, &ylen);
        rc != 0) {
      return WolfError("wc_ecc_export_public_raw", rc);
    }
    spki = EcSpki(curve, point);
    return absl::OkStatus();
  }
};

EcPrivateKey::EcPrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EcPrivateKey::EcPrivateKey(EcPrivateKey&&) noexcept = default;
EcPrivateKey& EcPrivateKey::operator=(EcPrivateKey&&) noexcept = default;
EcPrivateKey::~EcPrivateKey() = default;

EcCurve EcPrivateKey::curve() const { return impl_->curve; }
const std::vector<uint8_t>& EcPrivateKey::public_spki_der() const { return impl_->spki; }
absl::StatusOr<PublicKey> EcPrivateKey::public_key() const {
  return PublicKey::FromSpkiDer(impl_->spki);
}

absl::StatusOr<EcPrivateKey> EcPrivateKey::Generate(EcCurve curve) {
  auto impl = std::make_unique<Impl>();
  impl->curve = curve;
  if (auto s = impl->Init(); !s.ok()) return s;
  if (int rc = wc_ecc_make_key_ex(&impl->rng, static_cast<int>(EcCoordinateSize(curve)), &impl->key,
                                  WolfCurveId(curve));
      rc != 0) {
    return WolfError("EC key generation", rc);
  }
  if (auto s = impl->Finish(); !s.ok()) return s;
  return EcPrivateKey(std::move(impl));
}

absl::StatusOr<EcPrivateKey> EcPrivateKey::FromDer(std::span<const uint8_t> der) {
  auto impl = std::make_unique<Impl>();
  if (auto s = impl->Init(); !s.ok()) return s;
  std::vector<uint8_t> buf(der.begin(), der.end());
  word32 idx = 0;
  int rc = wc_EccPrivateKeyDecode(buf.data(), &idx, &impl->key, static_cast<word32>(buf.size()));
  if (rc != 0) {
    // Not SEC1: unwrap PKCS#8 PrivateKeyInfo and try the inner key.
    idx = 0;
    if (wc_GetPkcs8TraditionalOffset(buf.data(), &idx, static_cast<word32>(buf.size())) < 0) {
      return absl::InvalidArgumentError(
          StrCat("not an EC private key (SEC1 or PKCS#8 DER): wolfCrypt error ", rc));
    }
    wc_ecc_free(&impl->key);
    if (int init = wc_ecc_init(&impl->key); init != 0) return WolfError("wc_ecc_init", init);
    rc = wc_EccPrivateKeyDecode(buf.data(), &idx, &impl->key, static_cast<word32>(buf.size()));
    if (rc != 0) {
      return absl::InvalidArgumentError(
          StrCat("PKCS#8 key is not an EC private key: wolfCrypt error ", rc));
    }
  }
  switch (wc_ecc_get_curve_id(impl->key.idx)) {
    case ECC_SECP256R1:
      impl->curve = EcCurve::kP256;
      break;
    case ECC_SECP384R1:
      impl->curve = EcCurve::kP384;
      break;
    case ECC_SECP521R1:
      impl->curve = EcCurve::kP521;
      break;
    default:
      return absl::UnimplementedError("EC private key is on an unsupported curve");
  }
  if (impl->key.type == ECC_PRIVATEKEY_ONLY) {
    if (int mk = wc_ecc_make_pub(&impl->key, nullptr); mk != 0) {
      return WolfError("deriving the EC public key", mk);
    }
  }
  if (auto s = impl->Finish(); !s.ok()) return s;
  return EcPrivateKey(std::move(impl));
}

absl::StatusOr<std::vector<uint8_t>> EcPrivateKey::ToDer() const {
  std::vector<uint8_t> out(512);
  const int len = wc_EccKeyToDer(&impl_->key, out.data(), static_cast<word32>(out.size()));
  if (len <= 0) return WolfError("wc_EccKeyToDer", len);
  out.resize(static_cast<size_t>(len));
  return out;
}

absl::StatusOr<std::vector<uint8_t>> EcPrivateKey::Sign(HashAlgorithm hash,
                                                        std::span<const uint8_t> message,
                                                        EcdsaEncoding encoding) {
  const auto digest = Digest(hash, message);
  std::vector<uint8_t> sig(2 * EcCoordinateSize(impl_->curve) + 16);
  word32 len = static_cast<word32>(sig.size());
  if (int rc = wc_ecc_sign_hash(digest.data(), static_cast<word32>(digest.size()), sig.data(), &len,
                                &impl_->rng, &impl_->key);
      rc != 0) {
    return WolfError("ECDSA signing", rc);
  }
  sig.resize(len);
  if (encoding == EcdsaEncoding::kDer) return sig;
  const size_t size = EcCoordinateSize(impl_->curve);
  std::vector<uint8_t> r(size), s(size);
  word32 rlen = static_cast<word32>(size), slen = static_cast<word32>(size);
  if (int rc = wc_ecc_sig_to_rs(sig.data(), len, r.data(), &rlen, s.data(), &slen); rc != 0) {
    return WolfError("wc_ecc_sig_to_rs", rc);
  }
  std::vector<uint8_t> raw(2 * size, 0);
  std::copy(r.begin(), r.begin() + rlen, raw.begin() + (size - rlen));
  std::copy(s.begin(), s.begin() + slen, raw.begin() + size + (size - slen));
  return raw;
}

}  // namespace tng::crypto
