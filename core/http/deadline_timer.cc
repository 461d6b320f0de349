#include "core/http/deadline_timer.h"

#include <algorithm>
#include <cerrno>

namespace tng::http {

struct DeadlineTimer::State : Completion {
  Reactor* reactor = nullptr;
  __kernel_timespec ts{};
  std::function<void()> on_expiry;
  bool owner_gone = false;
  bool completed = false;
  bool expired = false;
};

DeadlineTimer::DeadlineTimer(Reactor& reactor, Duration after, std::function<void()> on_expiry)
    : state_(new State()) {
  state_->reactor = &reactor;
  state_->on_expiry = std::move(on_expiry);
  auto ns = std::max<Duration::rep>(after.count(), 1);
  state_->ts.tv_sec = ns / 1'000'000'000;
  state_->ts.tv_nsec = ns % 1'000'000'000;
  state_->on_complete = [](Completion* c, int32_t res, uint32_t) {
    auto* s = static_cast<State*>(c);
    s->completed = true;
    s->reactor->Release();
    if (s->owner_gone) {
      delete s;
      return;
    }
    if (res == -ETIME) {
      s->expired = true;
      if (s->on_expiry) s->on_expiry();
    }
  };
  reactor.Hold();
  io_uring_sqe* sqe = reactor.GetSqe();
  io_uring_prep_timeout(sqe, &state_->ts, 0, 0);
  io_uring_sqe_set_data(sqe, static_cast<Completion*>(state_));
}

DeadlineTimer::~DeadlineTimer() {
  if (state_->completed) {
    delete state_;
    return;
  }
  state_->owner_gone = true;
  state_->on_expiry = nullptr;
  io_uring_sqe* sqe = state_->reactor->GetSqe();
  io_uring_prep_timeout_remove(sqe, reinterpret_cast<__u64>(static_cast<Completion*>(state_)), 0);
  io_uring_sqe_set_data(sqe, nullptr);
}

bool DeadlineTimer::expired() const { return state_->expired; }

}  // namespace tng::http
