// The life of one accepted connection on a reactor: registered for drain (a drain deadline shuts
// down every socket the connection has open) and counted in its endpoint's statistics.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "core/reactor.h"

namespace tng {

class ConnectionScope final : public Tracked {
 public:
  explicit ConnectionScope(Reactor& reactor) : reactor_(reactor) { reactor_.Track(this); }
  ~ConnectionScope() { reactor_.Untrack(this); }
  ConnectionScope(const ConnectionScope&) = delete;
  ConnectionScope& operator=(const ConnectionScope&) = delete;

  // Sockets the connection currently owns; the owner removes one before closing it.
  void Watch(int fd) {
    for (int& slot : fds_) {
      if (slot < 0) {
        slot = fd;
        return;
      }
    }
  }
  void Unwatch(int fd) {
    for (int& slot : fds_) {
      if (slot == fd) slot = -1;
    }
  }
  void ForceClose() override {
    for (int fd : fds_) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
  }
  Reactor& reactor() { return reactor_; }

 private:
  Reactor& reactor_;
  std::array<int, 4> fds_{-1, -1, -1, -1};
};

}  // namespace tng
