// A one-shot timer on the reactor that runs a callback at a deadline unless destroyed first. Used
// to bound a whole exchange (connect + request + response) over a stream whose operations take no
// timeout of their own (a TLS stream): the callback shuts the stream down, which ends every pending
// operation on it.
#pragma once

#include <functional>

#include "core/reactor.h"

namespace tng::http {

class DeadlineTimer {
 public:
  // Arms the timer; `on_expiry` runs on the reactor's thread when `after` has passed.
  DeadlineTimer(Reactor& reactor, Duration after, std::function<void()> on_expiry);
  // Cancels the timer if it has not fired; on_expiry never runs after this.
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  bool expired() const;

 private:
  // Lives until the kernel reports the timeout's completion, which may come after the owner is
  // gone; the reactor is held meanwhile so that the ring outlives it.
  struct State;
  State* state_;
};

}  // namespace tng::http
