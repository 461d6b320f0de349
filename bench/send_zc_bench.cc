// Does IORING_OP_SEND_ZC pay here? The same TCP stream sent with io_uring SEND and SEND_ZC, one
// send in flight, at 16 KiB to 1 MiB per send, over loopback. The data path uses SEND_ZC only
// where this shows a win: over loopback and veth the receiving side copies the pages anyway
// (skb_orphan_frags_rx), so zero copy adds a notification per send and saves nothing.
//
// Reports bytes/s of wall time (the receiver is another thread) and, as "cpu_per_GB", the
// process's CPU seconds per GB (both threads, user + system, from getrusage).
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

namespace {

[[noreturn]] void Die(const char* what, int err) {
  std::fprintf(stderr, "send_zc_bench: %s: %s\n", what, std::strerror(err));
  std::exit(1);
}

// A connected loopback TCP pair: [0] sends, [1] receives.
std::pair<int, int> TcpPair() {
  int lst = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (lst < 0 || ::bind(lst, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(lst, 1) != 0 || ::getsockname(lst, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Die("listening on loopback", errno);
  }
  int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (out < 0 || ::connect(out, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    Die("connecting on loopback", errno);
  }
  int in = ::accept4(lst, nullptr, nullptr, SOCK_CLOEXEC);
  if (in < 0) Die("accepting on loopback", errno);
  ::close(lst);
  return {out, in};
}

double CpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Sends all of `buf` with one request in flight; SEND_ZC also waits for the notification that
// the kernel is done with the pages (the buffer may be reused only then).
void SendAll(io_uring* ring, int fd, const std::vector<uint8_t>& buf, bool zero_copy) {
  size_t off = 0;
  while (off < buf.size()) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (zero_copy) {
      io_uring_prep_send_zc(sqe, fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL, 0);
    } else {
      io_uring_prep_send(sqe, fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
    }
    io_uring_submit(ring);
    bool more = false;
    int sent = 0;
    do {
      io_uring_cqe* cqe = nullptr;
      if (int rc = io_uring_wait_cqe(ring, &cqe); rc < 0) Die("io_uring_wait_cqe", -rc);
      if (cqe->flags & IORING_CQE_F_NOTIF) {
        more = false;
      } else {
        sent = cqe->res;
        more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      }
      io_uring_cqe_seen(ring, cqe);
    } while (more);
    if (sent < 0) Die(zero_copy ? "SEND_ZC" : "SEND", -sent);
    off += static_cast<size_t>(sent);
  }
}

void BM_Send(benchmark::State& state, bool zero_copy) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  auto [out, in] = TcpPair();
  io_uring ring;
  if (int rc = io_uring_queue_init(8, &ring, 0); rc < 0) Die("io_uring_queue_init", -rc);
  std::atomic<bool> stop{false};
  std::thread reader([fd = in, &stop] {
    std::vector<uint8_t> sink(1 << 20);
    while (!stop.load(std::memory_order_relaxed)) {
      if (::recv(fd, sink.data(), sink.size(), 0) <= 0) break;
    }
  });
  std::vector<uint8_t> buf(chunk, 0x5a);
  const double cpu0 = CpuSeconds();
  for (auto _ : state) SendAll(&ring, out, buf, zero_copy);
  const double cpu = CpuSeconds() - cpu0;
  stop = true;
  ::shutdown(out, SHUT_WR);
  reader.join();
  ::close(out);
  ::close(in);
  io_uring_queue_exit(&ring);
  const double bytes = static_cast<double>(state.iterations()) * static_cast<double>(chunk);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["cpu_per_GB"] = bytes > 0 ? cpu / (bytes / 1e9) : 0;
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {16 << 10, 64 << 10, 256 << 10, 1 << 20}) b->Arg(n);
  b->UseRealTime();
}

BENCHMARK_CAPTURE(BM_Send, copy, false)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Send, zero_copy, true)->Apply(Sizes);

}  // namespace

BENCHMARK_MAIN();
