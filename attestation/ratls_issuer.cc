#include "attestation/ratls_issuer.h"

#include <algorithm>
#include <ctime>
#include <utility>

#include "core/connection_scope.h"
#include "core/log.h"
#include "crypto/digest.h"
#include "crypto/signature.h"
#include "crypto/str_cat.h"

namespace tng::attestation {

using crypto::StrCat;

RatlsIssuer::RatlsIssuer(std::unique_ptr<Attester> attester, RatlsIssuerOptions options)
    : attester_(std::move(attester)), options_(std::move(options)) {
  source_ = attester_->Describe();
  if (options_.passport) source_ += StrCat(" via AS ", options_.passport->as.as_addr);
}

RatlsIssuer::~RatlsIssuer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t RatlsIssuer::Now() const {
  return options_.now ? options_.now() : static_cast<int64_t>(std::time(nullptr));
}

void RatlsIssuer::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { RefreshLoop(); });
}

std::shared_ptr<const RatlsMaterial> RatlsIssuer::Current() const {
  std::shared_ptr<const RatlsMaterial> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m = current_;
  }
  if (m != nullptr && m->not_after_unix <= Now()) return nullptr;  // expired: fail closed
  return m;
}

Task<absl::StatusOr<std::shared_ptr<const RatlsMaterial>>> RatlsIssuer::Issue() {
  auto key = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
  if (!key.ok()) co_return key.status();
  // The claims bind the key; their SHA-384 is the runtime data the TEE evidence carries.
  const std::string claims = TngClaimsJson(key->public_spki_der());
  const std::vector<uint8_t> runtime_data = crypto::Digest(crypto::HashAlgorithm::kSha384, claims);
  auto evidence = co_await attester_->GetEvidence(runtime_data);
  if (!evidence.ok()) {
    co_return absl::Status(evidence.status().code(), StrCat("evidence from ", attester_->Describe(),
                                                            ": ", evidence.status().message()));
  }

  TaggedEvidence tagged;
  if (options_.passport) {
    // Passport: the AS appraises the evidence now and the certificate carries its token.
    AsAttestationInput input;
    input.tee = evidence->tee_type;
    input.evidence = evidence->evidence;
    input.runtime_data = claims;
    input.runtime_data_hash = crypto::HashAlgorithm::kSha384;
    if (evidence->additional_evidence) {
      input.additional_evidence =
          std::string(evidence->additional_evidence->begin(), evidence->additional_evidence->end());
    }
    input.policy_ids = options_.passport->policy_ids;
    Reactor* reactor = Reactor::Current();
    if (reactor == nullptr) co_return absl::InternalError("RatlsIssuer::Issue off a reactor");
    AsClient as(*reactor, options_.passport->as);
    auto token = co_await as.Attest(std::move(input));
    if (!token.ok()) {
      co_return absl::Status(
          token.status().code(),
          StrCat("AS token from ", options_.passport->as.as_addr, ": ", token.status().message()));
    }
    tagged.tag = kTagTngToken;
    tagged.evidence.assign(token->begin(), token->end());
  } else {
    TngEvidence tng;
    tng.tee_type = evidence->tee_type;
    tng.aa_evidence = std::move(evidence->evidence);
    tng.aa_additional_evidence = std::move(evidence->additional_evidence);
    tng.aa_runtime_data = claims;
    tng.aa_runtime_data_hash_algo = crypto::HashAlgorithm::kSha384;
    tagged.tag = kTagTngEvidence;
    tagged.evidence = EncodeTngEvidence(tng);
  }

  RatlsCertOptions cert_options;
  const int64_t now = Now();
  cert_options.not_before_unix = now;
  cert_options.validity_seconds = options_.validity_seconds;
  auto cert = BuildRatlsCert(*key, tagged, cert_options);
  if (!cert.ok()) co_return cert.status();
  auto key_der = key->ToDer();
  if (!key_der.ok()) co_return key_der.status();
  auto material = std::make_shared<RatlsMaterial>();
  material->cert_der = std::move(*cert);
  material->key_der = std::move(*key_der);
  material->tee_type = evidence->tee_type;
  material->not_after_unix = now + options_.validity_seconds;
  co_return std::shared_ptr<const RatlsMaterial>(std::move(material));
}

absl::StatusOr<std::shared_ptr<const RatlsMaterial>> RatlsIssuer::IssueOnOwnReactor() {
  // A reactor of its own for each attempt: the AA and AS calls never run on a serving reactor.
  auto created = Reactor::Create(0, {.sq_entries = 64, .cpu = -1});
  if (!created.ok()) return created.status();
  Reactor& r = **created;
  absl::StatusOr<std::shared_ptr<const RatlsMaterial>> result =
      absl::InternalError("issuing did not run");
  auto task = [](Reactor& r, RatlsIssuer* self,
                 absl::StatusOr<std::shared_ptr<const RatlsMaterial>>* out) -> Task<void> {
    ConnectionScope scope(r);  // keeps Run() going until the attempt is done
    *out = co_await self->Issue();
    r.BeginDrain();
  };
  r.Post([&r, this, &result, task] { Spawn(task(r, this, &result)); });
  r.Run();
  return result;
}

void RatlsIssuer::Publish(std::shared_ptr<RatlsMaterial> material) {
  std::lock_guard<std::mutex> lock(mu_);
  material->generation = next_generation_++;
  const uint64_t generation = material->generation;
  current_ = std::move(material);
  generation_.store(generation, std::memory_order_release);
}

void RatlsIssuer::SetStatus(bool ready, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reported_ready_ == ready && ready) return;
    reported_ready_ = ready;
  }
  if (options_.on_status) options_.on_status(ready, reason);
}

void RatlsIssuer::ReportPerHandshake(const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reported_ready_ == status.ok()) return;
  }
  SetStatus(status.ok(), std::string(status.message()));
}

void RatlsIssuer::RefreshLoop() {
  auto backoff = options_.initial_backoff;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    const auto started = std::chrono::steady_clock::now();
    auto issued = IssueOnOwnReactor();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    // Refresh well before the certificate expires, whatever the interval says.
    std::chrono::milliseconds wait = std::min<std::chrono::milliseconds>(
        options_.refresh_interval, std::chrono::seconds(options_.validity_seconds / 2));
    if (issued.ok()) {
      if (!per_handshake()) {
        Publish(std::const_pointer_cast<RatlsMaterial>(*issued));
      }
      TNG_LOG(Info, "attestation")
              .Kv("endpoint", options_.name)
              .Kv("source", source_)
              .Kv("tee", (*issued)->tee_type)
              .Kv("generation", generation())
              .Kv("duration_ms", ms)
          << (per_handshake() ? "attestation works; evidence is fetched per handshake "
                                "(refresh_interval 0)"
                              : "RA-TLS certificate refreshed");
      SetStatus(true, "");
      backoff = options_.initial_backoff;
      if (per_handshake()) return;  // each handshake fetches its own evidence from now on
    } else {
      auto current = Current();
      std::string reason =
          StrCat("attestation evidence unavailable: ", issued.status().message(),
                 current != nullptr ? StrCat(" (still presenting the previous certificate, valid "
                                             "until unix time ",
                                             current->not_after_unix, ")")
                                    : std::string(" (handshakes fail until it is available)"));
      TNG_LOG(Error, "attestation")
              .Kv("endpoint", options_.name)
              .Kv("source", source_)
              .Kv("retry_in_ms", backoff.count())
              .Kv("error", issued.status().message())
          << (current != nullptr
                  ? "RA-TLS certificate refresh failed; keeping the previous one until it expires"
                  : "no RA-TLS certificate: attestation evidence is not available; handshakes of "
                    "this endpoint fail until it is");
      SetStatus(false, reason);
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

}  // namespace tng::attestation
