#include "core/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace tng {

absl::StatusOr<SocketAddress> SocketAddress::FromLiteral(std::string_view host, uint16_t port) {
  SocketAddress a;
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  a.storage_ = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", std::string(host), "'"));
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  std::memcpy(&a.storage_, sa, std::min<size_t>(len, sizeof(a.storage_)));
  a.len_ = len;
  return a;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

SocketAddress SocketAddress::WithPort(uint16_t port) const {
  SocketAddress a = *this;
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
  return a;
}

std::string SocketAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
              sizeof(buf));
    return absl::StrCat(buf, ":", port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof(buf));
    return absl::StrCat("[", buf, "]:", port());
  }
  return "(unknown address)";
}

absl::StatusOr<UniqueFd> ListenTcp(const SocketAddress& addr, const ListenOptions& options) {
  UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.reuse_port) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (::bind(fd.get(), addr.sa(), addr.len()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", addr.ToString(), ": bind: ", strerror(errno)));
  }
  if (::listen(fd.get(), options.backlog) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", addr.ToString(), ": listen: ", strerror(errno)));
  }
  return fd;
}

absl::StatusOr<UniqueFd> NewTcpSocket(int family) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  SetNoDelay(fd.get());
  return fd;
}

absl::StatusOr<SocketAddress> SocketAddress::FromUnixPath(std::string_view path) {
  SocketAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  const bool abstract = !path.empty() && path.front() == '@';
  // A path needs its terminating NUL inside sun_path; an abstract name takes the leading NUL.
  const size_t room = sizeof(un->sun_path) - 1;
  const std::string shown(path);
  if (path.empty() || (abstract && path.size() == 1)) {
    return absl::InvalidArgumentError("empty unix socket path");
  }
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path '", shown, "' contains NUL"));
  }
  if (path.size() > room) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path '", shown, "' is ",
                                                   path.size(), " bytes long; at most ", room,
                                                   " fit in sockaddr_un"));
  }
  un->sun_family = AF_UNIX;
  if (abstract) {
    un->sun_path[0] = '\0';
    std::memcpy(un->sun_path + 1, path.data() + 1, path.size() - 1);
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    std::memcpy(un->sun_path, path.data(), path.size());
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  return a;
}

std::string SocketAddress::UnixPath() const {
  if (family() != AF_UNIX) return "";
  const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
  const size_t header = offsetof(sockaddr_un, sun_path);
  if (len_ <= header) return "";
  const size_t n = std::min<size_t>(len_ - header, sizeof(un->sun_path));
  if (un->sun_path[0] == '\0') {
    std::string out = "@";
    out.append(un->sun_path + 1, n - 1);
    return out;
  }
  return std::string(un->sun_path, strnlen(un->sun_path, n));
}

absl::StatusOr<UniqueFd> ListenUnix(const SocketAddress& addr, int backlog) {
  const std::string path = addr.UnixPath();
  if (addr.family() != AF_UNIX) {
    return absl::InvalidArgumentError("ListenUnix needs a unix socket address");
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket(AF_UNIX): ", strerror(errno)));
  if (::bind(fd.get(), addr.sa(), addr.len()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on unix socket ", path, ": bind: ", strerror(errno)));
  }
  if (::listen(fd.get(), backlog) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on unix socket ", path, ": listen: ", strerror(errno)));
  }
  return fd;
}

absl::StatusOr<UniqueFd> NewUnixSocket() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket(AF_UNIX): ", strerror(errno)));
  return fd;
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void SetLingerZero(int fd) {
  linger l{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

namespace {

// One helper thread for getaddrinfo, which blocks; results return to the asking reactor.
class ResolverThread {
 public:
  static ResolverThread& Get() {
    static ResolverThread* instance = new ResolverThread();  // lives until exit
    return *instance;
  }
  void Enqueue(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  ResolverThread() {
    std::thread([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [this] { return !jobs_.empty(); });
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
};

absl::StatusOr<SocketAddress> ResolveBlocking(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  SocketAddress a = SocketAddress::FromSockaddr(res->ai_addr, res->ai_addrlen).WithPort(port);
  freeaddrinfo(res);
  return a;
}

struct ResolveAwaiter {
  Reactor& reactor;
  std::string host;
  uint16_t port;
  absl::StatusOr<SocketAddress> result = absl::UnknownError("not resolved");
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    ResolverThread::Get().Enqueue([this, h] {
      result = ResolveBlocking(host, port);
      reactor.Post([h] { h.resume(); });
    });
  }
  absl::StatusOr<SocketAddress> await_resume() { return std::move(result); }
};

}  // namespace

Task<absl::StatusOr<SocketAddress>> Resolve(Reactor& reactor, std::string host, uint16_t port) {
  auto literal = SocketAddress::FromLiteral(host, port);
  if (literal.ok()) co_return literal;
  // A named awaiter, not a temporary: GCC 12 destroys a temporary awaiter with non-trivial
  // members twice across the suspension (double free of `host`).
  ResolveAwaiter awaiter{reactor, std::move(host), port};
  co_return co_await awaiter;
}

Acceptor::Acceptor(Reactor& reactor, UniqueFd listen_fd, Handler on_accept, std::string name)
    : reactor_(reactor),
      fd_(std::move(listen_fd)),
      on_accept_(std::move(on_accept)),
      name_(std::move(name)) {
  completion_.self = this;
  completion_.on_complete = [](Completion* c, int32_t res, uint32_t flags) {
    static_cast<AcceptCompletion*>(c)->self->OnComplete(res, flags);
  };
  cancel_completion_.self = this;
  cancel_completion_.on_complete = [](Completion*, int32_t, uint32_t) {};
}

Acceptor::~Acceptor() = default;

void Acceptor::Start() {
  reactor_.Hold();
  Arm();
}

void Acceptor::Arm() {
  io_uring_sqe* sqe = reactor_.GetSqe();
  io_uring_prep_multishot_accept(sqe, fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data(sqe, static_cast<Completion*>(&completion_));
  armed_ = true;
}

void Acceptor::Stop() {
  if (stopping_) return;
  stopping_ = true;
  if (!armed_) return;
  io_uring_sqe* sqe = reactor_.GetSqe();
  io_uring_prep_cancel(sqe, static_cast<Completion*>(&completion_), 0);
  io_uring_sqe_set_data(sqe, static_cast<Completion*>(&cancel_completion_));
}

void Acceptor::OnComplete(int32_t res, uint32_t flags) {
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (res >= 0) {
    if (stopping_) {
      ::close(res);  // raced with the cancel: refuse
    } else {
      SetNoDelay(res);
      on_accept_(UniqueFd(res));
    }
  } else if (res != -ECANCELED) {
    // EMFILE/ENFILE/ENOBUFS: log and keep serving the connections we have.
    TNG_LOG(Warn, "accept").Kv("listener", name_) << "accept failed: " << strerror(-res);
  }
  if (!more) {
    armed_ = false;
    if (stopping_) {
      fd_.Reset();
      reactor_.Release();
    } else {
      Arm();
    }
  }
}

}  // namespace tng
