// The RA-TLS certificate of an attesting endpoint: a fresh P-256 key whose claims hash the
// Attester binds into evidence (background check) or the AS turns into a token (passport), in a
// self-signed certificate. One issuer per endpoint, shared by every reactor: a background thread
// refreshes the material every refresh_interval and publishes it under a generation number, so
// that reactors rebuild their TLS context only when it changes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "attestation/as_client.h"
#include "attestation/attester.h"
#include "attestation/ratls_cert.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation {

// What a handshake presents: immutable once published.
struct RatlsMaterial {
  std::vector<uint8_t> cert_der;
  std::vector<uint8_t> key_der;  // PKCS#8
  std::string tee_type;
  int64_t not_after_unix = 0;  // the certificate's; the material is useless after it
  uint64_t generation = 0;
};

struct RatlsIssuerOptions {
  std::string name;  // the endpoint, for logs
  // 0: fresh evidence for every handshake (Issue() on the handshake's reactor), no refresher.
  std::chrono::seconds refresh_interval{600};
  // Passport model: the AS that turns the evidence into the token the certificate carries.
  struct Passport {
    AsClientOptions as;
    std::vector<std::string> policy_ids;
  };
  std::optional<Passport> passport;
  int64_t validity_seconds = 6 * 3600;
  // Retry after a failed refresh; doubled after each further failure.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  // Told of every change of availability (ready, or not with a reason). Any thread.
  std::function<void(bool ready, const std::string& reason)> on_status;
  // Unix seconds; tests move the clock. Default: the system clock.
  std::function<int64_t()> now;
};

class RatlsIssuer {
 public:
  RatlsIssuer(std::unique_ptr<Attester> attester, RatlsIssuerOptions options);
  ~RatlsIssuer();  // stops the refresher (waits for an attempt in flight)
  RatlsIssuer(const RatlsIssuer&) = delete;
  RatlsIssuer& operator=(const RatlsIssuer&) = delete;

  // Starts the refresher thread: the first material at once, then every refresh_interval (with
  // refresh_interval 0, one attempt that only tells whether attestation works).
  void Start();

  bool per_handshake() const { return options_.refresh_interval.count() == 0; }
  // Generation of the current material, 0 if none: the fast-path check of a reactor.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The current material if it has not expired, else nullptr.
  std::shared_ptr<const RatlsMaterial> Current() const;

  // Makes new material on the calling reactor (not published): per handshake, and each refresh.
  Task<absl::StatusOr<std::shared_ptr<const RatlsMaterial>>> Issue();

  // Records a per-handshake attempt's outcome for readiness (only changes are reported).
  void ReportPerHandshake(const absl::Status& status);

  const std::string& describe_source() const { return source_; }

 private:
  void RefreshLoop();
  absl::StatusOr<std::shared_ptr<const RatlsMaterial>> IssueOnOwnReactor();
  void Publish(std::shared_ptr<RatlsMaterial> material);
  void SetStatus(bool ready, const std::string& reason);
  int64_t Now() const;

  std::unique_ptr<Attester> attester_;
  RatlsIssuerOptions options_;
  std::string source_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<const RatlsMaterial> current_;
  std::atomic<uint64_t> generation_{0};
  uint64_t next_generation_ = 1;
  std::optional<bool> reported_ready_;
  std::thread thread_;
};

}  // namespace tng::attestation
