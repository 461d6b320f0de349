// Coroutines parked until someone on the same reactor calls NotifyAll(). Single-threaded.
#pragma once

#include <coroutine>
#include <vector>

namespace tng {

class WaitList {
 public:
  auto Wait() {
    struct Awaiter {
      WaitList& list;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) { list.waiters_.push_back(h); }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this};
  }
  void NotifyAll() {
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto h : waiters) h.resume();
  }
  bool empty() const { return waiters_.empty(); }

 private:
  std::vector<std::coroutine_handle<>> waiters_;
};

}  // namespace tng
