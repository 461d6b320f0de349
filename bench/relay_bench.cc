// Throughput of core/'s TCP relays on one reactor: the spliced relay (Relay on two TcpStreams)
// and the copying relay the TLS legs use (buffer-ring receive + send, RelayCopying), against the
// same application traffic over a direct connection (no relay) so the relay's own cost shows.
//
// app_a -> [relay_a | relay_b] -> app_b over loopback TCP. The application ends are coroutines
// on the relay's reactor (the project's SendAll/Recv), so everything runs on one thread, loopback
// TCP included (its softirq work runs in the sender's context). Bytes/s are per CPU second of
// that thread: on a shared machine, wall time also counts the time others had the core.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/connection_scope.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "core/relay.h"
#include "core/task.h"
#include "core/tcp_stream.h"

namespace tng {
namespace {

// Bytes the application moves per benchmark iteration, whatever its write size.
constexpr size_t kBytesPerIteration = 8 << 20;

absl::Status Errno(const char* what) { return absl::ErrnoToStatus(errno, what); }

// A connected loopback TCP pair, set up with blocking calls before the reactor runs.
absl::StatusOr<std::pair<UniqueFd, UniqueFd>> TcpPair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (::bind(listener.get(), sa, len) != 0) return Errno("bind");
  if (::listen(listener.get(), 1) != 0) return Errno("listen");
  if (::getsockname(listener.get(), sa, &len) != 0) return Errno("getsockname");
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!client.valid() || ::connect(client.get(), sa, len) != 0) return Errno("connect");
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server.valid()) return Errno("accept");
  return std::make_pair(std::move(client), std::move(server));
}

enum class Path { kDirect, kSplice, kCopying };

// Resumes its waiter once `pending` parties are done (the writer and the reader).
struct Join {
  explicit Join(int n) : pending(n) {}
  int pending;
  std::coroutine_handle<> waiter;
  void Done() {
    if (--pending == 0 && waiter) std::exchange(waiter, nullptr).resume();
  }
  auto Wait() {
    struct Awaiter {
      Join& j;
      bool await_ready() const noexcept { return j.pending == 0; }
      void await_suspend(std::coroutine_handle<> h) { j.waiter = h; }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this};
  }
};

Task<void> WriteChunks(Reactor& r, int fd, std::span<const uint8_t> chunk, size_t total, int& error,
                       Join& join) {
  for (size_t sent = 0; sent < total && error == 0; sent += chunk.size()) {
    error = co_await SendAll(r, fd, chunk.first(std::min(chunk.size(), total - sent)));
  }
  join.Done();
}

Task<void> ReadExactly(Reactor& r, int fd, std::span<uint8_t> buf, size_t total, int& error,
                       Join& join) {
  for (size_t got = 0; got < total;) {
    int n = co_await Recv(r, fd, buf.first(std::min(buf.size(), total - got)));
    if (n <= 0) {
      error = n < 0 ? n : -EPIPE;
      break;
    }
    got += static_cast<size_t>(n);
  }
  join.Done();
}

Task<void> RunRelay(Reactor& r, UniqueFd a_fd, UniqueFd b_fd, bool splice, RelayStats& stats) {
  ConnectionScope scope(r);  // keeps Run() going until the relay has ended
  TcpStream a(r, std::move(a_fd), &scope);
  TcpStream b(r, std::move(b_fd), &scope);
  // Not a conditional expression: GCC 12 mis-compiles co_await inside one.
  if (splice) {
    stats = co_await Relay(a, b);
  } else {
    stats = co_await RelayCopying(a, b);
  }
}

// The benchmark loop itself, as a coroutine on the reactor: each iteration writes and reads
// kBytesPerIteration concurrently, then both application ends half-close so the relay ends.
Task<void> Drive(Reactor& r, benchmark::State& state, int app_a, int app_b, std::string& error) {
  ConnectionScope scope(r);
  std::vector<uint8_t> chunk(static_cast<size_t>(state.range(0)), 0x5a);
  std::vector<uint8_t> sink(256 << 10);
  for (auto _ : state) {
    int write_error = 0, read_error = 0;
    Join join(2);
    Spawn(WriteChunks(r, app_a, chunk, kBytesPerIteration, write_error, join));
    Spawn(ReadExactly(r, app_b, sink, kBytesPerIteration, read_error, join));
    co_await join.Wait();
    if (write_error != 0 || read_error != 0) {
      error = std::string("transfer failed: ") +
              std::strerror(-(write_error ? write_error : read_error));
      break;
    }
  }
  ::shutdown(app_a, SHUT_WR);
  ::shutdown(app_b, SHUT_WR);
}

void BM_Relay(benchmark::State& state, Path path) {
  auto reactor = Reactor::Create(0, {});
  if (!reactor.ok()) {
    state.SkipWithError(reactor.status().ToString().c_str());
    return;
  }
  Reactor& r = **reactor;
  auto first = TcpPair();
  auto second = TcpPair();
  if (!first.ok() || !second.ok()) {
    state.SkipWithError((first.ok() ? second : first).status().ToString().c_str());
    return;
  }
  // Direct: app_a is connected to app_b itself; the second pair stays idle.
  UniqueFd app_a = std::move(first->first);
  UniqueFd app_b = path == Path::kDirect ? std::move(first->second) : std::move(second->second);
  RelayStats stats;
  std::string error;
  r.Post([&] {
    if (path != Path::kDirect) {
      Spawn(RunRelay(r, std::move(first->second), std::move(second->first), path == Path::kSplice,
                     stats));
    }
    Spawn(Drive(r, state, app_a.get(), app_b.get(), error));
    r.BeginDrain();  // Run() returns once the driver and the relay have finished
  });
  r.Run();
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  const uint64_t bytes = static_cast<uint64_t>(state.iterations()) * kBytesPerIteration;
  if (path != Path::kDirect && (stats.a_to_b != bytes || stats.a_error || stats.b_error)) {
    const std::string what = "the relay forwarded " + std::to_string(stats.a_to_b) + " of " +
                             std::to_string(bytes) + " bytes, errors " +
                             std::to_string(stats.a_error) + "/" + std::to_string(stats.b_error);
    state.SkipWithError(what.c_str());
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// Application write sizes: what a bulk sender hands over per send, small and large.
void Chunks(benchmark::internal::Benchmark* b) {
  b->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
}

BENCHMARK_CAPTURE(BM_Relay, direct, Path::kDirect)->Apply(Chunks);
BENCHMARK_CAPTURE(BM_Relay, splice, Path::kSplice)->Apply(Chunks);
BENCHMARK_CAPTURE(BM_Relay, copying, Path::kCopying)->Apply(Chunks);

}  // namespace
}  // namespace tng

BENCHMARK_MAIN();
