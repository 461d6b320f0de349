#include "endpoints/control/readiness.h"

#include <utility>

namespace tng {

int Readiness::Register(std::string name, std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  conditions_.push_back({std::move(name), false, std::move(reason)});
  return static_cast<int>(conditions_.size()) - 1;
}

void Readiness::Set(int id, bool ready, std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Condition& c = conditions_.at(static_cast<size_t>(id));
  c.ready = ready;
  c.reason = ready ? std::string() : std::move(reason);
}

bool Readiness::AllReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& c : conditions_) {
    if (!c.ready) return false;
  }
  return true;
}

std::string Readiness::NotReadyReasons() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& c : conditions_) {
    if (c.ready) continue;
    out += c.name;
    out += ": ";
    out += c.reason;
    out += '\n';
  }
  return out;
}

}  // namespace tng
