// Runs one coroutine as the only work of a fresh reactor on the test's thread, for tests of
// clients that need Reactor::Current().
#pragma once

#include <memory>
#include <utility>

#include "core/connection_scope.h"
#include "core/reactor.h"
#include "core/task.h"
#include "gtest/gtest.h"

namespace tng::testing {

// `body(Reactor&)` returns a Task<void>; Run() returns once it has finished.
template <typename F>
void RunOnReactor(F body) {
  auto created = Reactor::Create(0, {.sq_entries = 64, .cpu = -1});
  ASSERT_TRUE(created.ok()) << created.status();
  Reactor& r = **created;
  auto task = [](Reactor& r, F body) -> Task<void> {
    ConnectionScope scope(r);  // keeps Run() going until the body is done
    co_await body(r);
    r.BeginDrain();
  };
  r.Post([&r, body, task] { Spawn(task(r, body)); });
  r.Run();
}

}  // namespace tng::testing
