#include "core/reactor.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace tng {
namespace {
thread_local Reactor* current_reactor = nullptr;
}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(int index, const ReactorOptions& options) {
  std::unique_ptr<Reactor> r(new Reactor());
  r->index_ = index;
  io_uring_params params{};
  // One reactor per thread, never shared: let the kernel skip cross-thread bookkeeping.
  // The ring is created here but enabled by Run() on the reactor's own thread, which thereby
  // becomes its single issuer.
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
  params.cq_entries = options.sq_entries * 4;
  params.flags |= IORING_SETUP_CQSIZE;
  int rc = io_uring_queue_init_params(options.sq_entries, &r->ring_, &params);
  if (rc < 0) {
    // Older kernels lack some flags; the loop works without them.
    params = {};
    params.cq_entries = options.sq_entries * 4;
    params.flags = IORING_SETUP_CQSIZE;
    rc = io_uring_queue_init_params(options.sq_entries, &r->ring_, &params);
  }
  if (rc < 0) {
    return absl::UnavailableError(
        absl::StrCat("io_uring_queue_init failed: ", strerror(-rc),
                     rc == -ENOMEM ? " (raise RLIMIT_MEMLOCK)" : "",
                     rc == -EPERM || rc == -ENOSYS ? " (io_uring disabled by the kernel?)" : ""));
  }
  r->ring_ready_ = true;
  r->needs_enable_ = (params.flags & IORING_SETUP_R_DISABLED) != 0;
  // Registered while the ring is still disabled, i.e. before it has its single issuer.
  if (auto buffers = BufferRing::Create(&r->ring_, /*group=*/0, options.recv_buffers,
                                        options.recv_buffer_size);
      buffers.ok()) {
    r->buffers_ = *std::move(buffers);
  } else {
    TNG_LOG(Warn, "reactor") << "no provided buffer ring (" << buffers.status().message()
                             << "): each connection keeps receive buffers of its own";
  }
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  r->wake_fd_.Reset(efd);
  r->wake_completion_.reactor = r.get();
  r->wake_completion_.on_complete = [](Completion* c, int32_t, uint32_t) {
    Reactor* self = static_cast<WakeCompletion*>(c)->reactor;
    self->DrainMailbox();
    self->ArmWakeup();
  };
  if (options.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(options.cpu, &set);
    // Applied when Run() starts on its own thread.
    r->Post([set] { pthread_setaffinity_np(pthread_self(), sizeof(set), &set); });
  }
  return r;
}

Reactor::~Reactor() {
  buffers_.reset();  // unregistered while the ring still exists
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

Reactor* Reactor::Current() { return current_reactor; }

io_uring_sqe* Reactor::GetSqe(unsigned n) {
  if (io_uring_sq_space_left(&ring_) < n) io_uring_submit(&ring_);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void Reactor::ArmWakeup() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, wake_fd_.get(), &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data(sqe, &wake_completion_);
}

void Reactor::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    mailbox_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  // A full counter still wakes the reader; nothing to do on failure.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void Reactor::DrainMailbox() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    batch.swap(mailbox_);
  }
  for (auto& fn : batch) fn();
}

void Reactor::BeginDrain() {
  if (draining_) return;
  draining_ = true;
  stop_when_idle_ = true;
  auto hooks = std::move(drain_hooks_);
  for (auto& h : hooks) h();
}

void Reactor::ForceCloseAll() {
  for (Tracked* t = tracked_head_; t != nullptr; t = t->next_) t->ForceClose();
}

void Reactor::Track(Tracked* t) {
  t->prev_ = nullptr;
  t->next_ = tracked_head_;
  if (tracked_head_) tracked_head_->prev_ = t;
  tracked_head_ = t;
  ++tracked_count_;
}

void Reactor::Untrack(Tracked* t) {
  if (t->prev_) t->prev_->next_ = t->next_;
  if (t->next_) t->next_->prev_ = t->prev_;
  if (tracked_head_ == t) tracked_head_ = t->next_;
  t->prev_ = t->next_ = nullptr;
  --tracked_count_;
}

void Reactor::Run() {
  current_reactor = this;
  if (needs_enable_) {
    // liburing 2.3 has no io_uring_enable_rings(); the register opcode is what it wraps.
    int rc = static_cast<int>(
        syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
    if (rc < 0) {
      TNG_LOG(Error, "reactor") << "enabling the io_uring failed: " << strerror(errno);
      return;
    }
    needs_enable_ = false;
  }
  DrainMailbox();
  ArmWakeup();
  constexpr unsigned kBatch = 256;
  io_uring_cqe* cqes[kBatch];
  struct Done {
    Completion* c;
    int32_t res;
    uint32_t flags;
  };
  Done done[kBatch];
  while (!(stop_when_idle_ && tracked_count_ == 0 && holds_ == 0)) {
    int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
      TNG_LOG(Error, "reactor") << "io_uring_submit_and_wait failed: " << strerror(-rc);
      break;
    }
    for (;;) {
      unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
      if (n == 0) break;
      // Copy out and release the CQ slots first: handlers submit more work.
      for (unsigned i = 0; i < n; ++i) {
        done[i] = {static_cast<Completion*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res,
                   cqes[i]->flags};
      }
      io_uring_cq_advance(&ring_, n);
      for (unsigned i = 0; i < n; ++i) {
        if (done[i].c != nullptr) done[i].c->on_complete(done[i].c, done[i].res, done[i].flags);
      }
      if (n < kBatch) break;
    }
  }
  current_reactor = nullptr;
}

Task<void> Sleep(Reactor& r, Duration d) {
  __kernel_timespec ts{};
  ts.tv_sec = d.count() / 1'000'000'000;
  ts.tv_nsec = d.count() % 1'000'000'000;
  co_await Submit(r, [&ts](io_uring_sqe* s) { io_uring_prep_timeout(s, &ts, 0, 0); });
}

Task<int> SendAll(Reactor& r, int fd, std::span<const uint8_t> buf, Duration timeout) {
  while (!buf.empty()) {
    int n = co_await Send(r, fd, buf, timeout);
    if (n < 0) co_return n;
    if (n == 0) co_return -EPIPE;
    buf = buf.subspan(static_cast<size_t>(n));
  }
  co_return 0;
}

}  // namespace tng
