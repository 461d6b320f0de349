// What the gateway still lacks before it can serve everything it is configured for (attestation
// material above all): fed by the endpoints, read by /readyz and the logs. Thread-safe; written
// rarely (on refresh), never on the data path.
#pragma once

#include <mutex>
#include <string>
#include <vector>

namespace tng {

class Readiness {
 public:
  // A named condition, e.g. "add_ingress[0]: attestation evidence"; it starts not ready with
  // `reason`. The returned id is valid for the lifetime of this object.
  int Register(std::string name, std::string reason = "not yet available");
  // Marks a condition ready (reason ignored) or not ready with a short reason.
  void Set(int id, bool ready, std::string reason = {});
  bool AllReady() const;
  // One "name: reason" line per condition that is not ready; empty when all are.
  std::string NotReadyReasons() const;

 private:
  struct Condition {
    std::string name;
    bool ready = false;
    std::string reason;
  };
  mutable std::mutex mu_;
  std::vector<Condition> conditions_;
};

}  // namespace tng
