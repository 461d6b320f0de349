// Remote attestation settings of an endpoint: no_ra, attest and verify, in TNG's flat form where
// `model`, `aa_provider`/`as_provider` and `aa_type`/`as_type` select which other keys apply.
#include <cstdint>

#include "endpoints/config/schema_parts.h"

namespace tng::config::internal {
namespace {

using json::Cat;

constexpr std::string_view kItaApiUrl = "https://api.trustauthority.intel.com";
constexpr std::string_view kItaPortalUrl = "https://portal.trustauthority.intel.com";

absl::StatusOr<std::string> ReadUnixAddr(const json::Cursor& c) {
  if (c.kind() == json::Kind::kString && c.value().text().starts_with("unix:///")) {
    return c.value().text();
  }
  return c.TypeError("a unix socket address like \"unix:///run/attestation-agent.sock\"");
}

// as_type, or its legacy form as_is_grpc (a bool).
absl::StatusOr<std::string> ReadAsType(json::ObjectReader& r) {
  std::optional<json::Cursor> type = r.Optional("as_type");
  std::optional<json::Cursor> legacy = r.Optional("as_is_grpc");
  if (type && legacy) {
    return r.KeyError("as_is_grpc",
                      "\"as_is_grpc\" is the old form of \"as_type\"; keep only "
                      "\"as_type\"");
  }
  if (legacy) {
    CONFIG_ASSIGN_OR_RETURN(bool grpc, legacy->GetBool());
    return std::string(grpc ? "grpc" : "restful");
  }
  if (!type) return std::string("restful");
  return ReadChoice(*type, {"restful", "grpc", "builtin"});
}

absl::StatusOr<BuiltinAsOptions> ReadBuiltin(json::ObjectReader& r) {
  BuiltinAsOptions b;
  if (auto policy = r.Optional("attestation_policy")) {
    CONFIG_ASSIGN_OR_RETURN(json::ObjectReader pr, json::ObjectReader::Open(*policy));
    CONFIG_RETURN_IF_ERROR(ExpectKeys(pr, {"type", "content", "path"}));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor type, pr.Required("type"));
    CONFIG_ASSIGN_OR_RETURN(b.policy_type, ReadChoice(type, {"hardware_only", "default",
                                                             "hardware_with_reference_values",
                                                             "trust_all", "inline", "path"}));
    if (b.policy_type == "default") b.policy_type = "hardware_only";
    if (b.policy_type == "inline") {
      CONFIG_ASSIGN_OR_RETURN(json::Cursor content, pr.Required("content"));
      CONFIG_ASSIGN_OR_RETURN(b.policy_content, content.GetNonEmptyString());
    } else {
      CONFIG_RETURN_IF_ERROR(RejectInapplicable(pr, {"content"}, "is only used with type inline"));
    }
    if (b.policy_type == "path") {
      CONFIG_ASSIGN_OR_RETURN(json::Cursor path, pr.Required("path"));
      CONFIG_ASSIGN_OR_RETURN(b.policy_path, path.GetNonEmptyString());
    } else {
      CONFIG_RETURN_IF_ERROR(RejectInapplicable(pr, {"path"}, "is only used with type path"));
    }
  }
  if (auto values = r.Optional("reference_values")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, values->GetArray());
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(json::ObjectReader ir, json::ObjectReader::Open(item));
      CONFIG_RETURN_IF_ERROR(ExpectKeys(ir, {"type", "payload"}));
      BuiltinAsOptions::ReferenceValue rv;
      CONFIG_ASSIGN_OR_RETURN(json::Cursor type, ir.Required("type"));
      CONFIG_ASSIGN_OR_RETURN(rv.type, ReadChoice(type, {"sample", "slsa", "release_manifest"}));
      CONFIG_ASSIGN_OR_RETURN(json::Cursor payload, ir.Required("payload"));
      CONFIG_ASSIGN_OR_RETURN(json::ObjectReader pr, json::ObjectReader::Open(payload));
      CONFIG_RETURN_IF_ERROR(ExpectKeys(pr, {"type", "content", "path"}));
      CONFIG_ASSIGN_OR_RETURN(json::Cursor ptype, pr.Required("type"));
      CONFIG_ASSIGN_OR_RETURN(rv.payload_type, ReadChoice(ptype, {"inline", "path"}));
      if (rv.payload_type == "inline") {
        CONFIG_RETURN_IF_ERROR(RejectInapplicable(pr, {"path"}, "is only used with type path"));
        CONFIG_ASSIGN_OR_RETURN(json::Cursor content, pr.Required("content"));
        if (content.kind() != json::Kind::kObject) return content.TypeError("an object");
        rv.payload_json = json::ToJson(content.value());
      } else {
        CONFIG_RETURN_IF_ERROR(
            RejectInapplicable(pr, {"content"}, "is only used with type inline"));
        CONFIG_ASSIGN_OR_RETURN(json::Cursor path, pr.Required("path"));
        CONFIG_ASSIGN_OR_RETURN(rv.payload_path, path.GetNonEmptyString());
      }
      b.reference_values.push_back(std::move(rv));
    }
  }
  return b;
}

absl::StatusOr<AttestOptions> ReadAttest(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(
      r, {"model", "aa_provider", "aa_type", "aa_addr", "asr_addr", "refresh_interval",
          "as_provider", "as_type", "as_addr", "as_headers", "policy_ids", "api_key", "as_is_grpc",
          "trusted_certs_paths", "attestation_policy", "reference_values"}));
  AttestOptions a;
  a.json_path = c.path();
  if (auto model = r.Optional("model")) {
    CONFIG_ASSIGN_OR_RETURN(a.model, ReadChoice(*model, {"background_check", "passport"}));
  }
  if (auto provider = r.Optional("aa_provider")) {
    CONFIG_ASSIGN_OR_RETURN(a.aa_provider,
                            ReadChoice(*provider, {"coco", "ita", "coco_asr", "ita_asr"}));
  }
  if (a.aa_provider == "coco") {
    if (auto type = r.Optional("aa_type")) {
      CONFIG_ASSIGN_OR_RETURN(a.aa_type, ReadChoice(*type, {"uds", "builtin"}));
    }
  } else {
    CONFIG_RETURN_IF_ERROR(
        RejectInapplicable(r, {"aa_type"}, "is only used with \"aa_provider\": \"coco\""));
    a.aa_type.clear();
  }
  const std::string settings =
      Cat("(aa_provider \"", a.aa_provider, "\"",
          a.aa_type.empty() ? "" : Cat(", aa_type \"", a.aa_type, "\""), ")");
  if (a.aa_type == "uds" || a.aa_provider == "ita") {
    CONFIG_ASSIGN_OR_RETURN(json::Cursor addr, r.Required("aa_addr"));
    CONFIG_ASSIGN_OR_RETURN(a.aa_addr, ReadUnixAddr(addr));
  } else if (a.aa_provider == "coco_asr" || a.aa_provider == "ita_asr") {
    CONFIG_ASSIGN_OR_RETURN(json::Cursor addr, r.Required("asr_addr"));
    CONFIG_ASSIGN_OR_RETURN(a.asr_addr, addr.GetNonEmptyString());
  }
  if (a.aa_addr.empty()) {
    CONFIG_RETURN_IF_ERROR(RejectInapplicable(r, {"aa_addr"}, Cat("is not used ", settings)));
  }
  if (a.asr_addr.empty()) {
    CONFIG_RETURN_IF_ERROR(RejectInapplicable(r, {"asr_addr"}, Cat("is not used ", settings)));
  }
  if (auto interval = r.Optional("refresh_interval")) {
    CONFIG_ASSIGN_OR_RETURN(a.refresh_interval_s, interval->GetUnsigned(0, UINT64_MAX));
  }

  if (a.model == "background_check") {
    CONFIG_RETURN_IF_ERROR(RejectInapplicable(
        r,
        {"as_provider", "as_type", "as_addr", "as_headers", "policy_ids", "api_key", "as_is_grpc",
         "trusted_certs_paths", "attestation_policy", "reference_values"},
        "is only used with \"model\": \"passport\" (the AS turns the evidence into a token)"));
    return a;
  }
  if (auto provider = r.Optional("as_provider")) {
    CONFIG_ASSIGN_OR_RETURN(a.as_provider, ReadChoice(*provider, {"coco", "ita"}));
  }
  if (a.as_provider == "ita") {
    CONFIG_RETURN_IF_ERROR(
        RejectInapplicable(r,
                           {"as_type", "as_headers", "as_is_grpc", "trusted_certs_paths",
                            "attestation_policy", "reference_values"},
                           "is only used with \"as_provider\": \"coco\""));
    a.as_type.clear();
    a.as_addr = std::string(kItaApiUrl);
    if (auto addr = r.Optional("as_addr")) {
      CONFIG_ASSIGN_OR_RETURN(a.as_addr, addr->GetNonEmptyString());
    }
    if (auto key = r.Optional("api_key")) {
      CONFIG_ASSIGN_OR_RETURN(a.api_key, key->GetString());
    }
    CONFIG_ASSIGN_OR_RETURN(a.policy_ids, ReadOptionalStrings(r, "policy_ids"));
    return a;
  }
  CONFIG_RETURN_IF_ERROR(
      RejectInapplicable(r, {"api_key"}, "is only used with \"as_provider\": \"ita\""));
  CONFIG_ASSIGN_OR_RETURN(a.as_type, ReadAsType(r));
  // Older TNG read trusted_certs_paths here too; it has no effect on the attesting side.
  CONFIG_RETURN_IF_ERROR(ReadOptionalStrings(r, "trusted_certs_paths").status());
  CONFIG_ASSIGN_OR_RETURN(a.policy_ids, ReadOptionalStrings(r, "policy_ids"));
  if (a.as_type == "builtin") {
    CONFIG_RETURN_IF_ERROR(RejectInapplicable(r, {"as_addr", "as_headers"},
                                              "is not used with \"as_type\": \"builtin\""));
    CONFIG_ASSIGN_OR_RETURN(a.builtin, ReadBuiltin(r));
    return a;
  }
  CONFIG_RETURN_IF_ERROR(RejectInapplicable(r, {"attestation_policy", "reference_values"},
                                            "is only used with \"as_type\": \"builtin\""));
  CONFIG_ASSIGN_OR_RETURN(json::Cursor addr, r.Required("as_addr"));
  CONFIG_ASSIGN_OR_RETURN(a.as_addr, addr.GetNonEmptyString());
  if (auto headers = r.Optional("as_headers")) {
    CONFIG_ASSIGN_OR_RETURN(a.as_headers, headers->GetStringMap());
  }
  return a;
}

absl::StatusOr<VerifyOptions> ReadVerify(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(
      r, {"model", "as_provider", "as_type", "as_addr", "as_headers", "policy_ids",
          "trusted_certs_paths", "verify_signer_transparency", "skip_as_token_cert_verify",
          "attestation_policy", "reference_values", "api_key", "ita_jwks_addr", "as_is_grpc"}));
  VerifyOptions v;
  v.json_path = c.path();
  if (auto model = r.Optional("model")) {
    CONFIG_ASSIGN_OR_RETURN(v.model, ReadChoice(*model, {"background_check", "passport"}));
  }
  const bool passport = v.model == "passport";
  if (auto provider = r.Optional("as_provider")) {
    CONFIG_ASSIGN_OR_RETURN(v.as_provider, ReadChoice(*provider, {"coco", "ita"}));
  }

  if (v.as_provider == "ita") {
    CONFIG_RETURN_IF_ERROR(RejectInapplicable(
        r,
        {"as_type", "as_headers", "trusted_certs_paths", "verify_signer_transparency",
         "skip_as_token_cert_verify", "attestation_policy", "reference_values", "as_is_grpc"},
        "is only used with \"as_provider\": \"coco\""));
    v.as_type.clear();
    v.ita_jwks_addr = std::string(kItaPortalUrl);
    if (auto jwks = r.Optional("ita_jwks_addr")) {
      CONFIG_ASSIGN_OR_RETURN(v.ita_jwks_addr, jwks->GetNonEmptyString());
    }
    CONFIG_ASSIGN_OR_RETURN(v.policy_ids, ReadOptionalStrings(r, "policy_ids"));
    if (passport) {
      CONFIG_RETURN_IF_ERROR(RejectInapplicable(
          r, {"as_addr", "api_key"}, "is only used with \"model\": \"background_check\""));
      return v;
    }
    v.as_addr = std::string(kItaApiUrl);
    if (auto addr = r.Optional("as_addr")) {
      CONFIG_ASSIGN_OR_RETURN(v.as_addr, addr->GetNonEmptyString());
    }
    if (auto key = r.Optional("api_key")) {
      CONFIG_ASSIGN_OR_RETURN(v.api_key, key->GetString());
    }
    return v;
  }

  CONFIG_RETURN_IF_ERROR(RejectInapplicable(r, {"api_key", "ita_jwks_addr"},
                                            "is only used with \"as_provider\": \"ita\""));
  CONFIG_ASSIGN_OR_RETURN(v.as_type, ReadAsType(r));
  if (v.as_type == "builtin") {
    CONFIG_RETURN_IF_ERROR(RejectInapplicable(
        r,
        {"as_addr", "as_headers", "trusted_certs_paths", "verify_signer_transparency",
         "skip_as_token_cert_verify"},
        "is not used with \"as_type\": \"builtin\" (evidence is checked in-process)"));
    // TNG documents policy_ids as ignored for the builtin AS; keep them for the record.
    CONFIG_ASSIGN_OR_RETURN(v.policy_ids, ReadOptionalStrings(r, "policy_ids"));
    CONFIG_ASSIGN_OR_RETURN(v.builtin, ReadBuiltin(r));
    return v;
  }
  CONFIG_RETURN_IF_ERROR(RejectInapplicable(r, {"attestation_policy", "reference_values"},
                                            "is only used with \"as_type\": \"builtin\""));
  if (passport) {
    if (auto addr = r.Optional("as_addr")) {
      CONFIG_ASSIGN_OR_RETURN(v.as_addr, addr->GetNonEmptyString());
    }
  } else {
    CONFIG_ASSIGN_OR_RETURN(json::Cursor addr, r.Required("as_addr"));
    CONFIG_ASSIGN_OR_RETURN(v.as_addr, addr.GetNonEmptyString());
  }
  if (auto headers = r.Optional("as_headers")) {
    CONFIG_ASSIGN_OR_RETURN(v.as_headers, headers->GetStringMap());
  }
  CONFIG_ASSIGN_OR_RETURN(json::Cursor policies, r.Required("policy_ids"));
  CONFIG_ASSIGN_OR_RETURN(v.policy_ids, policies.GetStringArray());
  const bool has_certs = r.Has("trusted_certs_paths");
  CONFIG_ASSIGN_OR_RETURN(v.trusted_certs_paths, ReadOptionalStrings(r, "trusted_certs_paths"));
  CONFIG_ASSIGN_OR_RETURN(v.verify_signer_transparency,
                          ReadOptionalBool(r, "verify_signer_transparency", false));
  CONFIG_ASSIGN_OR_RETURN(v.skip_as_token_cert_verify,
                          ReadOptionalBool(r, "skip_as_token_cert_verify", false));

  if (!v.as_headers.empty() && v.as_addr.empty()) {
    return r.KeyError("as_headers", "\"as_headers\" needs \"as_addr\" (they are sent to the AS)");
  }
  if (v.skip_as_token_cert_verify && has_certs) {
    return r.KeyError("trusted_certs_paths",
                      "cannot be set when \"skip_as_token_cert_verify\" is true");
  }
  if (passport && v.skip_as_token_cert_verify && !v.as_addr.empty()) {
    return r.KeyError("as_addr",
                      "cannot be set with \"model\": \"passport\" when "
                      "\"skip_as_token_cert_verify\" is true");
  }
  if (passport && !v.skip_as_token_cert_verify && v.as_addr.empty() && !has_certs) {
    return c.Error(
        "passport verification needs \"as_addr\" or \"trusted_certs_paths\" to check the "
        "attestation token's signer");
  }
  return v;
}

// Implemented: evidence from the AA over ttrpc (aa_provider coco, aa_type uds), from configfs-tsm
// (aa_type builtin) or from the CoCo ASR REST API (aa_provider coco_asr), passport tokens and
// verification through a trustee AS over REST or gRPC. The rest (the builtin AS, ITA) is recorded
// (once per block) for `launch` to refuse.
void NoteUnimplemented(const AttestOptions& a, const std::string& path, Context& ctx) {
  if (a.aa_provider != "coco" && a.aa_provider != "coco_asr") {
    ctx.NotYet(path, Cat("remote attestation (attest) with aa_provider ", a.aa_provider));
  } else if (a.aa_provider == "coco" && a.aa_type != "uds" && a.aa_type != "builtin") {
    ctx.NotYet(path, Cat("remote attestation (attest) with aa_type ", a.aa_type));
  } else if (a.model == "passport" && a.as_provider != "coco") {
    ctx.NotYet(path, Cat("passport attestation with as_provider ", a.as_provider));
  } else if (a.model == "passport" && a.as_type != "restful" && a.as_type != "grpc") {
    ctx.NotYet(path, Cat("passport attestation with as_type ", a.as_type));
  }
}

void NoteUnimplemented(const VerifyOptions& v, const std::string& path, Context& ctx) {
  if (v.as_provider != "coco") {
    ctx.NotYet(path, Cat("remote attestation (verify) with as_provider ", v.as_provider));
  } else if (v.as_type != "restful" && v.as_type != "grpc") {
    ctx.NotYet(path, Cat("remote attestation (verify) with as_type ", v.as_type));
  } else if (v.verify_signer_transparency) {
    ctx.NotYet(path, "remote attestation (verify) with verify_signer_transparency");
  }
}

}  // namespace

absl::StatusOr<RaOptions> ReadRa(json::ObjectReader& r, Context& ctx) {
  RaOptions ra;
  CONFIG_ASSIGN_OR_RETURN(ra.no_ra, ReadOptionalBool(r, "no_ra", false));
  if (auto attest = r.Optional("attest")) {
    CONFIG_ASSIGN_OR_RETURN(ra.attest, ReadAttest(*attest));
    NoteUnimplemented(*ra.attest, attest->path(), ctx);
  }
  if (auto verify = r.Optional("verify")) {
    CONFIG_ASSIGN_OR_RETURN(ra.verify, ReadVerify(*verify));
    NoteUnimplemented(*ra.verify, verify->path(), ctx);
  }
  if (ra.no_ra && ra.attest) {
    return r.KeyError("attest", "cannot be combined with \"no_ra\": true");
  }
  if (ra.no_ra && ra.verify) {
    return r.KeyError("verify", "cannot be combined with \"no_ra\": true");
  }
  if (!ra.no_ra && !ra.attest && !ra.verify) {
    return r.cursor().Error(
        "remote attestation is not configured: set \"attest\", \"verify\" or both (or "
        "\"no_ra\": true, for testing without attestation)");
  }
  return ra;
}

}  // namespace tng::config::internal
