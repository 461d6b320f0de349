#include "core/http/client.h"

#include <cerrno>
#include <cstring>

#include "core/http/text.h"
#include "core/http/url.h"
#include "core/net.h"
#include "core/tcp_stream.h"

namespace tng::http {

Task<absl::StatusOr<Response>> Fetch(Reactor& reactor, HttpRequestOptions options) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + options.timeout;
  const std::string what = Cat(options.method, " ", options.url, ": ");
  auto url = ParseUrl(options.url);
  if (!url.ok()) co_return absl::InvalidArgumentError(Cat(what, url.status().message()));
  if (url->scheme == "https") {
    co_return absl::UnimplementedError(
        Cat(what,
            "https:// is not supported by Fetch; TLS is added by a higher layer, which drives "
            "an HttpClientConnection over its TLS stream"));
  }
  if (url->scheme != "http") {
    co_return absl::InvalidArgumentError(Cat(what, "unsupported scheme '", url->scheme, "'"));
  }
  auto timed_out = [&](std::string_view phase) {
    return absl::DeadlineExceededError(
        Cat(what, "timed out after ", FormatDuration(options.timeout), " ", phase));
  };

  auto addr = co_await Resolve(reactor, url->host, url->port);
  if (!addr.ok()) co_return absl::Status(addr.status().code(), Cat(what, addr.status().message()));
  const std::string peer = addr->ToString();
  const std::string dest = FormatHostPort(url->host, url->port) == peer
                               ? peer
                               : Cat(FormatHostPort(url->host, url->port), " (", peer, ")");
  auto remaining = [&] { return std::chrono::duration_cast<Duration>(deadline - Clock::now()); };
  if (remaining() <= Duration::zero()) co_return timed_out(Cat("resolving ", url->host));

  auto fd = NewTcpSocket(addr->family());
  if (!fd.ok()) co_return absl::Status(fd.status().code(), Cat(what, fd.status().message()));
  TcpStream stream(reactor, std::move(*fd), options.scope);
  int rc = co_await Connect(reactor, stream.fd(), addr->sa(), addr->len(), remaining());
  if (rc == -ETIMEDOUT) co_return timed_out(Cat("connecting to ", dest));
  if (rc < 0) {
    co_return absl::UnavailableError(
        Cat(what, "connect to ", dest, " failed: ", std::strerror(-rc)));
  }

  Request request;
  request.method = options.method;
  request.target = url->path;
  request.headers = std::move(options.headers);
  if (!request.headers.Has("Host")) request.headers.Add("Host", url->HostHeader());
  if (!request.headers.Has("Connection")) request.headers.Add("Connection", "close");
  request.body = std::move(options.body);

  RoundTripOptions rt;
  rt.timeout = remaining();
  if (rt.timeout <= Duration::zero()) co_return timed_out(Cat("connecting to ", dest));
  rt.limits = options.limits;
  rt.max_body = options.max_body;
  rt.on_body = std::move(options.on_body);
  HttpClientConnection<TcpStream> connection(reactor, stream, dest);
  auto response = co_await connection.RoundTrip(request, std::move(rt));
  if (!response.ok()) {
    co_return absl::Status(response.status().code(), Cat(what, response.status().message()));
  }
  co_return response;
}

}  // namespace tng::http
