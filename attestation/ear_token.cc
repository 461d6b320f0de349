#include "attestation/ear_token.h"

#include <cstdlib>
#include <set>
#include <utility>

#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/der.h"
#include "crypto/jwt.h"
#include "crypto/signature.h"
#include "crypto/str_cat.h"

namespace tng::attestation {
namespace {

using crypto::StrAppend;
using crypto::StrCat;

constexpr std::string_view kOidBasicConstraints = "2.5.29.19";

// `detail` may be a std::string_view or a Status::message() (absl::string_view in Debian's Abseil).
template <typename Detail>
absl::Status Unauthenticated(std::string_view check, const Detail& detail) {
  return absl::UnauthenticatedError(StrCat("AS token ", check, ": ", detail));
}
template <typename Detail>
absl::Status Denied(std::string_view check, const Detail& detail) {
  return absl::PermissionDeniedError(StrCat("AS token ", check, ": ", detail));
}
template <typename Detail>
absl::Status Malformed(const Detail& detail) {
  return absl::InvalidArgumentError(StrCat("AS token payload: ", detail));
}

// ---- certificate chain ---------------------------------------------------------------------

// BasicConstraints cA (RFC 5280 §4.2.1.9); absent means "not a CA".
absl::StatusOr<bool> IsCa(const crypto::X509Certificate& cert) {
  const crypto::X509Extension* ext = cert.FindExtension(kOidBasicConstraints);
  if (ext == nullptr) return false;
  crypto::DerReader outer(ext->value);
  auto seq = outer.Expect(crypto::der::kSequence, "BasicConstraints");
  if (!seq.ok()) return seq.status();
  crypto::DerReader inner = crypto::DerReader::Contents(*seq);
  if (!inner.PeekTag(crypto::der::kBoolean)) return false;
  auto ca = inner.Expect(crypto::der::kBoolean, "BasicConstraints.cA");
  if (!ca.ok()) return ca.status();
  return ca->value.size() == 1 && ca->value[0] != 0;
}

bool SameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

absl::Status CheckValidity(const crypto::X509Certificate& cert, size_t index,
                           const EarTokenOptions& options) {
  const int64_t now = options.now_unix;
  if (now + options.clock_skew_seconds < cert.not_before()) {
    return Unauthenticated("x5c chain", StrCat("certificate x5c[", index, "] is not valid before ",
                                               cert.not_before(), " (now ", now, ")"));
  }
  if (now - options.clock_skew_seconds > cert.not_after()) {
    return Unauthenticated("x5c chain", StrCat("certificate x5c[", index, "] expired at ",
                                               cert.not_after(), " (now ", now, ")"));
  }
  return absl::OkStatus();
}

// True if `cert` is one of the trust anchors, or is signed by one whose subject is its issuer.
bool IsAnchored(const crypto::X509Certificate& cert, const EarTokenOptions& options) {
  for (const auto& anchor : options.trusted_certs) {
    if (SameBytes(anchor.der(), cert.der())) return true;
  }
  for (const auto& anchor : options.trusted_certs) {
    if (!SameBytes(anchor.subject_der(), cert.issuer_der())) continue;
    auto key = crypto::PublicKey::FromSpkiDer(anchor.spki_der());
    if (key.ok() && cert.VerifySignature(*key).ok()) return true;
  }
  return false;
}

absl::Status VerifyChain(const std::vector<std::vector<uint8_t>>& x5c,
                         const crypto::PublicKey& jwk_key, const EarTokenOptions& options) {
  if (options.trusted_certs.empty()) {
    return Unauthenticated("x5c chain",
                           "no trusted certificates to check the signing key against (configure "
                           "trusted_certs_paths or an as_addr serving /certificate)");
  }
  if (x5c.empty()) return Unauthenticated("x5c chain", "the header's jwk carries no x5c chain");
  std::vector<crypto::X509Certificate> chain;
  for (size_t i = 0; i < x5c.size(); ++i) {
    auto cert = crypto::X509Certificate::ParseDer(x5c[i]);
    if (!cert.ok()) {
      return Unauthenticated("x5c chain", StrCat("x5c[", i, "]: ", cert.status().message()));
    }
    chain.push_back(*std::move(cert));
  }
  auto leaf_key = crypto::PublicKey::FromSpkiDer(chain[0].spki_der());
  if (!leaf_key.ok() || leaf_key->spki_der() != jwk_key.spki_der()) {
    return Unauthenticated(
        "x5c chain", "the jwk public key differs from the key of the leaf certificate x5c[0]");
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    if (auto s = CheckValidity(chain[i], i, options); !s.ok()) return s;
    if (i > 0) {
      auto ca = IsCa(chain[i]);
      if (!ca.ok() || !*ca) {
        return Unauthenticated("x5c chain", StrCat("x5c[", i, "] issues x5c[", i - 1,
                                                   "] but is not a CA certificate"));
      }
    }
    if (IsAnchored(chain[i], options)) return absl::OkStatus();
    if (i + 1 == chain.size()) break;
    if (!SameBytes(chain[i + 1].subject_der(), chain[i].issuer_der())) {
      return Unauthenticated(
          "x5c chain", StrCat("the issuer of x5c[", i, "] is not the subject of x5c[", i + 1, "]"));
    }
    auto issuer_key = crypto::PublicKey::FromSpkiDer(chain[i + 1].spki_der());
    if (!issuer_key.ok()) {
      return Unauthenticated("x5c chain",
                             StrCat("x5c[", i + 1, "] key: ", issuer_key.status().message()));
    }
    if (auto s = chain[i].VerifySignature(*issuer_key); !s.ok()) {
      return Unauthenticated(
          "x5c chain", StrCat("x5c[", i, "] is not signed by x5c[", i + 1, "]: ", s.message()));
    }
  }
  return Unauthenticated("x5c chain",
                         StrCat("the chain of ", chain.size(),
                                " certificate(s) does not end at a trusted certificate"));
}

// ---- payload -------------------------------------------------------------------------------

const json::Value* FindPath(const json::Value& root, std::initializer_list<std::string_view> path) {
  const json::Value* v = &root;
  for (std::string_view key : path) {
    if (v->kind() != json::Kind::kObject) return nullptr;
    v = v->Find(key);
    if (v == nullptr) return nullptr;
  }
  return v;
}

absl::StatusOr<std::optional<int64_t>> ReadTime(const json::Value& root, std::string_view key) {
  const json::Value* v = root.Find(key);
  if (v == nullptr) return std::nullopt;
  if (v->kind() != json::Kind::kNumber || v->number_kind() != json::Value::NumberKind::kInteger ||
      v->negative() || v->magnitude() > static_cast<uint64_t>(INT64_MAX / 2)) {
    return Malformed(
        StrCat("\"", key, "\" must be a non-negative integer, got ", json::Describe(*v)));
  }
  return static_cast<int64_t>(v->magnitude());
}

bool JsonEqual(const json::Value& a, const json::Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::Kind::kNull:
      return true;
    case json::Kind::kBool:
      return a.boolean() == b.boolean();
    case json::Kind::kString:
      return a.text() == b.text();
    case json::Kind::kNumber:
      if (a.number_kind() == json::Value::NumberKind::kInteger &&
          b.number_kind() == json::Value::NumberKind::kInteger) {
        return a.negative() == b.negative() && a.magnitude() == b.magnitude();
      }
      // serde_json keeps integers and floats apart: 1 != 1.0.
      if (a.number_kind() == json::Value::NumberKind::kInteger ||
          b.number_kind() == json::Value::NumberKind::kInteger) {
        return false;
      }
      return std::strtod(a.text().c_str(), nullptr) == std::strtod(b.text().c_str(), nullptr);
    case json::Kind::kArray:
      if (a.elements().size() != b.elements().size()) return false;
      for (size_t i = 0; i < a.elements().size(); ++i) {
        if (!JsonEqual(a.elements()[i], b.elements()[i])) return false;
      }
      return true;
    case json::Kind::kObject:
      if (a.members().size() != b.members().size()) return false;
      for (const json::Member& m : a.members()) {
        const json::Value* other = b.Find(m.key);
        if (other == nullptr || !JsonEqual(m.value, *other)) return false;
      }
      return true;
  }
  return false;
}

absl::Status CheckRuntimeData(const json::Value* in_token, std::string_view where,
                              const EarTokenOptions& options) {
  if (options.expected_runtime_data.empty()) return absl::OkStatus();
  auto expected = json::Document::Parse(options.expected_runtime_data, "expected runtime data");
  if (!expected.ok()) return expected.status();
  if (expected->root().kind() != json::Kind::kObject) {
    return absl::InvalidArgumentError("expected runtime data must be a JSON object");
  }
  if (in_token == nullptr) return Denied("runtime data", StrCat(where, " is missing"));
  if (in_token->kind() != json::Kind::kObject) {
    return Denied("runtime data",
                  StrCat(where, " is not an object but ", json::Describe(*in_token)));
  }
  for (const json::Member& m : expected->root().members()) {
    const json::Value* actual = in_token->Find(m.key);
    if (actual == nullptr) {
      return Denied("runtime data", StrCat(where, " lacks claim ", json::Quote(m.key),
                                           " (expected ", json::ToJson(m.value), ")"));
    }
    if (!JsonEqual(m.value, *actual)) {
      return Denied("runtime data", StrCat(where, ".", m.key, " is ", json::ToJson(*actual),
                                           ", expected ", json::ToJson(m.value)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPolicyIds(const std::set<std::string>& appraised,
                            const EarTokenOptions& options) {
  for (const std::string& wanted : options.policy_ids) {
    if (appraised.count(wanted) == 0) {
      std::string have;
      for (const std::string& p : appraised) StrAppend(&have, have.empty() ? "" : ", ", p);
      return Denied("policy", StrCat("policy id \"", wanted,
                                     "\" was not applied (the token was appraised against: ",
                                     have.empty() ? "none" : have, ")"));
    }
  }
  return absl::OkStatus();
}

std::string RequiredString(const json::Value& obj, std::string_view key, std::string_view where,
                           absl::Status& error) {
  const json::Value* v = obj.Find(key);
  if (v == nullptr || v->kind() != json::Kind::kString) {
    error = Malformed(StrCat(where, ".", key, v == nullptr ? " is missing" : " is not a string"));
    return {};
  }
  return v->text();
}

absl::Status ReadEar(const json::Value& root, VerifiedToken& out, const EarTokenOptions& options) {
  const json::Value* profile = root.Find("eat_profile");
  if (profile->kind() != json::Kind::kString || profile->text() != kTrusteeEarProfile) {
    return Denied("profile", StrCat("eat_profile ", json::ToJson(*profile), " is not trustee's \"",
                                    kTrusteeEarProfile, "\""));
  }
  const json::Value* submods = root.Find("submods");
  if (submods == nullptr || submods->kind() != json::Kind::kObject || submods->members().empty()) {
    return Malformed("\"submods\" must be a non-empty object");
  }
  std::set<std::string> policies;
  for (const json::Member& m : submods->members()) {
    const std::string where = StrCat("submods.", m.key);
    if (m.value.kind() != json::Kind::kObject) return Malformed(StrCat(where, " is not an object"));
    absl::Status error;
    SubmodAppraisal appraisal;
    appraisal.name = m.key;
    appraisal.status = RequiredString(m.value, "ear.status", where, error);
    appraisal.policy_id = RequiredString(m.value, "ear.appraisal-policy-id", where, error);
    if (!error.ok()) return error;
    const json::Value* vector = m.value.Find("ear.trustworthiness-vector");
    if (vector == nullptr)
      return Malformed(StrCat(where, ".ear.trustworthiness-vector is missing"));
    appraisal.trustworthiness_vector = json::ToJson(*vector);
    if (appraisal.status != "affirming") {
      return Denied("status", StrCat(where, ".ear.status is \"", appraisal.status,
                                     "\", not \"affirming\" (trustworthiness vector ",
                                     appraisal.trustworthiness_vector, ")"));
    }
    policies.insert(appraisal.policy_id);
    out.submods.push_back(std::move(appraisal));
  }
  if (policies.size() > 1) {
    return Denied("policy", "the submods were appraised against different policies");
  }
  out.policy_ids.assign(policies.begin(), policies.end());
  if (auto s = CheckPolicyIds(policies, options); !s.ok()) return s;

  const json::Value* evidence = FindPath(*submods, {"cpu0", "ear.veraison.annotated-evidence"});
  if (evidence != nullptr && evidence->kind() == json::Kind::kObject) {
    for (const json::Member& m : evidence->members()) {
      if (m.key != "init_data" && m.key != "init_data_claims" && m.key != "report_data" &&
          m.key != "runtime_data_claims") {
        out.tee_type = m.key;
        break;
      }
    }
  }
  const json::Value* runtime =
      evidence == nullptr ? nullptr : FindPath(*evidence, {"runtime_data_claims"});
  if (runtime != nullptr && runtime->kind() != json::Kind::kNull) {
    out.runtime_data = json::ToJson(*runtime);
  }
  return CheckRuntimeData(
      runtime, "submods.cpu0.ear.veraison.annotated-evidence.runtime_data_claims", options);
}

absl::Status ReadCocoSimple(const json::Value& root, VerifiedToken& out,
                            const EarTokenOptions& options) {
  out.format = TokenFormat::kCocoSimple;
  const json::Value* reports = root.Find("evaluation-reports");
  if (reports == nullptr || reports->kind() != json::Kind::kArray) {
    return Malformed(
        "neither an EAR (no \"eat_profile\") nor a CoCo token (no "
        "\"evaluation-reports\" array)");
  }
  std::set<std::string> policies;
  for (size_t i = 0; i < reports->elements().size(); ++i) {
    const json::Value& report = reports->elements()[i];
    absl::Status error;
    std::string id =
        report.kind() == json::Kind::kObject
            ? RequiredString(report, "policy-id", StrCat("evaluation-reports[", i, "]"), error)
            : (error = Malformed(StrCat("evaluation-reports[", i, "] is not an object")),
               std::string());
    if (!error.ok()) return error;
    policies.insert(std::move(id));
  }
  out.policy_ids.assign(policies.begin(), policies.end());
  if (auto s = CheckPolicyIds(policies, options); !s.ok()) return s;
  const json::Value* runtime = FindPath(root, {"customized_claims", "runtime_data"});
  if (runtime != nullptr && runtime->kind() != json::Kind::kNull) {
    out.runtime_data = json::ToJson(*runtime);
  }
  return CheckRuntimeData(runtime, "customized_claims.runtime_data", options);
}

}  // namespace

absl::StatusOr<std::vector<crypto::X509Certificate>> ParseCertificateList(
    std::span<const uint8_t> pem_or_der, std::string_view source) {
  std::vector<crypto::X509Certificate> certs;
  if (!pem_or_der.empty() && pem_or_der[0] == crypto::der::kSequence) {
    auto cert = crypto::X509Certificate::ParseDer(pem_or_der);
    if (!cert.ok())
      return absl::InvalidArgumentError(StrCat(source, ": ", cert.status().message()));
    certs.push_back(*std::move(cert));
    return certs;
  }
  auto blocks = crypto::PemDecode(
      std::string_view(reinterpret_cast<const char*>(pem_or_der.data()), pem_or_der.size()));
  if (!blocks.ok())
    return absl::InvalidArgumentError(StrCat(source, ": ", blocks.status().message()));
  for (size_t i = 0; i < blocks->size(); ++i) {
    if ((*blocks)[i].label != "CERTIFICATE") continue;
    auto cert = crypto::X509Certificate::ParseDer((*blocks)[i].der);
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          StrCat(source, ": PEM block ", i, ": ", cert.status().message()));
    }
    certs.push_back(*std::move(cert));
  }
  if (certs.empty()) return absl::InvalidArgumentError(StrCat(source, ": no CERTIFICATE found"));
  return certs;
}

absl::StatusOr<VerifiedToken> VerifyAsToken(std::string_view token,
                                            const EarTokenOptions& options) {
  auto jws = crypto::ParseJws(token);
  if (!jws.ok()) {
    return absl::InvalidArgumentError(StrCat("AS token: ", jws.status().message()));
  }
  if (!jws->header.jwk) {
    return Unauthenticated("signature",
                           "the header carries no jwk (keys looked up by kid in a JWK set are "
                           "not supported)");
  }
  auto key = jws->header.jwk->ToPublicKey();
  if (!key.ok()) return Unauthenticated("signature", key.status().message());
  if (!options.skip_cert_verify) {
    const auto& x5c = jws->header.jwk->x5c.empty() ? jws->header.x5c : jws->header.jwk->x5c;
    if (auto s = VerifyChain(x5c, *key, options); !s.ok()) return s;
  }
  if (auto s = crypto::VerifyJws(*jws, *key); !s.ok()) {
    return Unauthenticated("signature", s.message());
  }

  const std::string_view payload(reinterpret_cast<const char*>(jws->payload.data()),
                                 jws->payload.size());
  auto doc = json::Document::Parse(payload, "AS token payload");
  if (!doc.ok()) return doc.status();
  const json::Value& root = doc->root();
  if (root.kind() != json::Kind::kObject) return Malformed("not a JSON object");

  VerifiedToken out;
  auto exp = ReadTime(root, "exp");
  if (!exp.ok()) return exp.status();
  if (!*exp) return Malformed("\"exp\" is missing (a token must expire)");
  out.expires_at = **exp;
  auto nbf = ReadTime(root, "nbf");
  if (!nbf.ok()) return nbf.status();
  out.not_before = *nbf;
  auto iat = ReadTime(root, "iat");
  if (!iat.ok()) return iat.status();
  out.issued_at = iat->value_or(0);
  if (out.expires_at < options.now_unix - options.clock_skew_seconds) {
    return Unauthenticated(
        "expiry", StrCat("expired at ", out.expires_at, " (now ", options.now_unix, ", skew ",
                         options.clock_skew_seconds, " s)"));
  }
  if (out.not_before && *out.not_before > options.now_unix + options.clock_skew_seconds) {
    return Unauthenticated("not-before",
                           StrCat("not valid before ", *out.not_before, " (now ", options.now_unix,
                                  ", skew ", options.clock_skew_seconds, " s)"));
  }

  absl::Status s = root.Find("eat_profile") != nullptr ? ReadEar(root, out, options)
                                                       : ReadCocoSimple(root, out, options);
  if (!s.ok()) return s;
  return out;
}

}  // namespace tng::attestation
