#include "endpoints/ingress/http_proxy.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "core/connection_scope.h"
#include "core/http/message_reader.h"
#include "core/http/serializer.h"
#include "core/json.h"
#include "core/log.h"
#include "core/net.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "endpoints/access_log.h"
#include "endpoints/ingress/http_proxy_request.h"

namespace tng::ingress {

using json::Cat;
using tunnel::TlsStream;

namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// 504 when the destination (or the tunnel handshake) did not answer in time, else 502.
int GatewayStatus(const absl::Status& status) {
  return absl::IsDeadlineExceeded(status) ? 504 : 502;
}

// After answering a client the proxy will not serve further: stop sending, then take what it
// still sends until it closes (bounded), because closing with unread input resets the connection
// and may destroy the answer in flight.
Task<void> CloseAfterAnswer(TcpStream& client, Duration timeout) {
  ::shutdown(client.fd(), SHUT_WR);
  std::array<uint8_t, 4096> sink;
  for (int i = 0; i < 256; ++i) {
    if (co_await client.Read(sink, timeout) <= 0) break;
  }
}

// Resolves (names are resolved here, in the gateway) and connects. Timeouts are
// DeadlineExceeded, everything else Unavailable; errors name the destination.
Task<absl::StatusOr<TcpStream>> Dial(Reactor& reactor, const ProxyRequest& dst, Duration timeout,
                                     ConnectionScope* scope) {
  auto addr = co_await Resolve(reactor, dst.host, dst.port);
  if (!addr.ok()) {
    co_return absl::UnavailableError(
        Cat("cannot resolve ", dst.host, ": ", std::string(addr.status().message())));
  }
  auto fd = NewTcpSocket(addr->family());
  if (!fd.ok()) co_return fd.status();
  TcpStream stream(reactor, std::move(*fd), scope);
  const int rc = co_await Connect(reactor, stream.fd(), addr->sa(), addr->len(), timeout);
  if (rc == -ETIMEDOUT) {
    co_return absl::DeadlineExceededError(Cat("connect to ", dst.authority(), " timed out"));
  }
  if (rc < 0) {
    co_return absl::UnavailableError(
        Cat("connect to ", dst.authority(), " failed: ", std::string_view(strerror(-rc))));
  }
  co_return std::move(stream);
}

// One upstream connection with its response reader; kept across a client's keep-alive requests
// while they go to the same destination by the same route.
template <typename S>
struct UpstreamConn {
  explicit UpstreamConn(std::unique_ptr<S> s)
      : stream(std::move(s)), reader(*stream, http::MessageKind::kResponse) {}
  std::unique_ptr<S> stream;
  http::MessageReader<S> reader;
  bool used = false;      // carried an exchange already (the peer may have closed it since)
  bool reusable = false;  // the last exchange left it able to carry another
};

struct Upstream {
  std::string key;  // route and authority
  std::unique_ptr<UpstreamConn<TcpStream>> direct;
  std::unique_ptr<UpstreamConn<TlsStream>> tunnel;

  bool open() const { return direct || tunnel; }
  bool used() const { return direct ? direct->used : tunnel && tunnel->used; }
  bool reusable() const { return direct ? direct->reusable : tunnel && tunnel->reusable; }
  void Close() {
    direct.reset();
    tunnel.reset();
    key.clear();
  }
};

// Ends an upstream whose exchanges completed: the tunnel gets its TLS close_notify (the egress
// otherwise sees a truncated stream and logs the connection as reset), a direct one its FIN.
Task<void> CloseGracefully(Upstream& up) {
  if (up.tunnel) {
    co_await up.tunnel->stream->ShutdownWrite();
  } else if (up.direct) {
    co_await up.direct->stream->ShutdownWrite();
  }
  up.Close();
}

// How one forwarded exchange ended.
struct Exchange {
  absl::Status error;            // OK: the response went to the client in full
  const char* stage = "";        // where it failed, for the access log
  int answer = 0;                // when failed before any response byte: the status to answer
  bool upstream_silent = false;  // the upstream closed or failed before the request got through
  bool client_keep_alive = false;
  uint64_t to_upstream = 0;
  uint64_t to_client = 0;
};

Exchange Failed(const char* stage, absl::Status error, int answer) {
  Exchange e;
  e.stage = stage;
  e.error = std::move(error);
  e.answer = answer;
  return e;
}

// Forwards the request whose head is `head` (already prepared for the upstream) and whose body
// the client reader delivers, then streams the response back. The body is re-framed each way
// (Content-Length, or chunked; until-close responses end the client connection).
template <typename S>
Task<Exchange> ForwardOnce(UpstreamConn<S>& up, http::MessageReader<TcpStream>& in,
                           TcpStream& client, const http::Request& head, bool client_keep_alive,
                           Duration client_timeout) {
  http::Parser& req_parser = in.parser();
  const http::BodyKind req_body = req_parser.body_kind();
  http::Framing framing = http::Framing::None();
  if (req_body == http::BodyKind::kContentLength) {
    framing = http::Framing::ContentLength(*req_parser.content_length());
  } else if (req_body == http::BodyKind::kChunked) {
    framing = http::Framing::Chunked();
  }
  std::string wire;
  if (auto st = http::AppendRequestHead(head, framing, &wire); !st.ok()) {
    co_return Failed("request", st, 400);
  }
  up.used = true;
  up.reusable = false;
  Exchange ex;
  if (int rc = co_await up.stream->Write(Bytes(wire)); rc < 0) {
    Exchange e = Failed("forward",
                        absl::UnavailableError(
                            Cat("sending the request upstream: ", std::string_view(strerror(-rc)))),
                        502);
    e.upstream_silent = true;
    co_return e;
  }
  ex.to_upstream += wire.size();

  // The request body, as it arrives (a client waiting for 100 Continue was answered by Serve).
  for (;;) {
    auto part = co_await in.ReadBodyPart();
    if (!part.ok()) {
      co_return Failed("request body", part.status(),
                       in.parse_failed() ? req_parser.error_http_status() : 0);
    }
    std::string chunk;
    std::span<const uint8_t> out = *part;
    if (req_body == http::BodyKind::kChunked) {
      if (part->empty()) {
        if (auto st = http::AppendLastChunk(req_parser.request().trailers, &chunk); !st.ok()) {
          co_return Failed("request body", st, 400);
        }
      } else {
        http::AppendChunk(*part, &chunk);
      }
      out = Bytes(chunk);
    }
    if (!out.empty()) {
      if (int rc = co_await up.stream->Write(out); rc < 0) {
        co_return Failed("forward",
                         absl::UnavailableError(Cat("sending the request body upstream: ",
                                                    std::string_view(strerror(-rc)))),
                         502);
      }
      ex.to_upstream += out.size();
    }
    if (part->empty()) break;
  }

  // The response head; interim responses are not passed on (the proxy answered Expect itself).
  http::Parser& resp_parser = up.reader.parser();
  for (;;) {
    resp_parser.SetRequestMethod(head.method);
    absl::Status st = co_await up.reader.ReadHead();
    if (!st.ok()) {
      if (up.reader.closed_idle()) {
        Exchange e = Failed("response",
                            absl::UnavailableError("the upstream closed the connection without "
                                                   "answering"),
                            502);
        e.upstream_silent = req_body == http::BodyKind::kNone;
        co_return e;
      }
      co_return Failed(
          "response",
          absl::Status(st.code(), Cat("bad response from upstream: ", std::string(st.message()))),
          GatewayStatus(st));
    }
    const int code = resp_parser.response().status;
    if (code == 101) {
      co_return Failed("response",
                       absl::UnavailableError("the upstream switched protocols (101) although "
                                              "Upgrade was not forwarded"),
                       502);
    }
    if (code >= 200) break;
    up.reader.NextMessage();
  }
  http::Response response = std::move(resp_parser.response());
  const bool upstream_keep_alive = http::WantsKeepAlive(response);
  PrepareClientResponse(response);
  const http::BodyKind resp_body = resp_parser.body_kind();
  bool keep_alive = client_keep_alive;
  bool chunked_to_client = false;
  switch (resp_body) {
    case http::BodyKind::kContentLength:
      framing = http::Framing::ContentLength(*resp_parser.content_length());
      break;
    case http::BodyKind::kChunked:
      // HTTP/1.0 clients cannot read chunks: the end of the connection ends the body.
      chunked_to_client = head.minor_version == 1 && client_keep_alive;
      framing = chunked_to_client ? http::Framing::Chunked() : http::Framing::None();
      if (!chunked_to_client) keep_alive = false;
      break;
    case http::BodyKind::kUntilClose:
      framing = http::Framing::None();
      keep_alive = false;
      break;
    case http::BodyKind::kNone:
      framing = http::Framing::AsGiven();  // HEAD, 204, 304: Content-Length describes no body
      break;
  }
  if (!keep_alive) response.headers.Set("Connection", "close");
  response.minor_version = 1;
  wire.clear();
  if (auto st = http::AppendResponseHead(response, framing, &wire); !st.ok()) {
    co_return Failed("response", st, 502);
  }
  if (int rc = co_await client.Write(Bytes(wire), client_timeout); rc < 0) {
    ex.stage = "reply";
    ex.error = absl::UnavailableError(
        Cat("sending the response to the client: ", std::string_view(strerror(-rc))));
    co_return ex;
  }
  ex.to_client += wire.size();

  // The response body, as it arrives.
  for (;;) {
    auto part = co_await up.reader.ReadBodyPart();
    if (!part.ok()) {
      ex.stage = "response body";
      ex.error = part.status();
      co_return ex;
    }
    std::string chunk;
    std::span<const uint8_t> out = *part;
    if (chunked_to_client) {
      if (part->empty()) {
        if (auto st = http::AppendLastChunk(resp_parser.response().trailers, &chunk); !st.ok()) {
          chunk = "0\r\n\r\n";  // trailers that cannot be written are dropped
        }
      } else {
        http::AppendChunk(*part, &chunk);
      }
      out = Bytes(chunk);
    }
    if (!out.empty()) {
      if (int rc = co_await client.Write(out, client_timeout); rc < 0) {
        ex.stage = "reply";
        ex.error = absl::UnavailableError(
            Cat("sending the response to the client: ", std::string_view(strerror(-rc))));
        co_return ex;
      }
      ex.to_client += out.size();
    }
    if (part->empty()) break;
  }
  // An upstream that will not carry another request is closed by the caller.
  up.reader.NextMessage();
  up.reusable = resp_body != http::BodyKind::kUntilClose && upstream_keep_alive;
  ex.client_keep_alive = keep_alive;
  co_return ex;
}

}  // namespace

absl::StatusOr<HttpProxyTarget> MakeHttpProxyTarget(std::string id,
                                                    const config::HttpProxyOptions& http_proxy) {
  HttpProxyTarget t;
  t.id = std::move(id);
  t.listen = Cat(http_proxy.proxy_listen.host, ":", http_proxy.proxy_listen.port);
  auto filter = DstFilter::Create(http_proxy.dst_filters);
  if (!filter.ok()) return filter.status();
  t.dst_filter = std::move(*filter);
  return t;
}

Task<void> HttpProxyIngress::Serve(UniqueFd client_fd) {
  ConnectionScope scope(reactor_);
  AccessLog log(target_.id, "ingress", stats_);
  TcpStream client(reactor_, std::move(client_fd), &scope);
  log.SetPeer(client.fd());
  const Duration timeout = target_.client_timeout;
  http::MessageReader<TcpStream> in(client, http::MessageKind::kRequest, target_.limits);
  Upstream up;
  uint64_t to_upstream = 0;
  uint64_t to_client = 0;
  int served = 0;

  // Answers the client itself and ends the connection.
  auto answer = [&](const char* stage, const absl::Status& status, int code,
                    std::string_view reason) -> Task<void> {
    log.Fail(stage, absl::Status(status.code(),
                                 Cat(std::string(status.message()), " (answered ", code, ")")));
    const std::string wire = ProxyResponse(code, reason);
    if (co_await client.Write(Bytes(wire), timeout) == 0)
      co_await CloseAfterAnswer(client, timeout);
  };

  for (;; ++served) {
    // The request head: the first within client_timeout, later ones within keep_alive_idle.
    in.set_read_timeout(served == 0 ? timeout : target_.keep_alive_idle);
    if (absl::Status st = co_await in.ReadHead(); !st.ok()) {
      if (in.parse_failed()) {
        const int code = in.parser().error_http_status();
        co_await answer("request", st, code,
                        Cat(http::ReasonPhrase(code), ": ", std::string(st.message())));
      } else if (in.closed_idle() && served > 0) {
        co_await CloseGracefully(up);
        log.Done(to_upstream, to_client, 0, 0);
      } else {
        log.Fail("request",
                 served > 0 || in.parser().started()
                     ? st
                     : absl::Status(st.code(), Cat("no request: ", std::string(st.message()))));
      }
      co_return;
    }
    http::Request& head = in.parser().request();
    ProxyDecision decision = DecideProxyRequest(head);
    if (decision.refusal) {
      co_await answer("request",
                      absl::InvalidArgumentError(Cat(head.method, " ", head.target.substr(0, 256),
                                                     ": ", decision.refusal->reason)),
                      decision.refusal->status, decision.refusal->reason);
      co_return;
    }
    const ProxyRequest& dst = decision.request;
    const bool via_tunnel = target_.dst_filter.Matches(dst.destination());
    const char* route = via_tunnel ? "tunnel" : "direct";
    TNG_LOG(Debug, "http_proxy")
            .Kv("endpoint", target_.id)
            .Kv("method", head.method)
            .Kv("dst", dst.authority())
            .Kv("route", route)
        << "request";

    // Opens the connection to the destination: dial, then for the tunnel the attested handshake
    // (no application byte leaves before the peer is checked).
    std::optional<TcpStream> direct;
    std::unique_ptr<TlsStream> tunnel;
    const char* failed_stage = "";
    // With encap_in_http: the request that names the outer request's Host and path.
    const tunnel::InnerRequest* inner = nullptr;
    auto open = [&]() -> Task<absl::Status> {
      auto tcp = co_await Dial(reactor_, dst, timeouts_.connect, &scope);
      if (!tcp.ok()) {
        failed_stage = "dial";
        co_return tcp.status();
      }
      if (!via_tunnel) {
        direct.emplace(std::move(*tcp));
        co_return absl::OkStatus();
      }
      auto tls = co_await ra_tls_.ConnectFlow(std::move(*tcp), inner, timeouts_.handshake, &scope);
      if (!tls.ok()) {
        failed_stage = "handshake";
        co_return tls.status();
      }
      tunnel = std::move(*tls);
      log.SetAttestation(tunnel->attestation());
      co_return absl::OkStatus();
    };
    auto refuse_open = [&](const absl::Status& st) -> Task<void> {
      const int code = GatewayStatus(st);
      co_await answer(failed_stage,
                      absl::Status(st.code(), Cat(route, " to ", dst.authority(), ": ",
                                                  std::string(st.message()))),
                      code, Cat(route, " to ", dst.authority(), ": ", std::string(st.message())));
    };

    if (decision.request.connect && via_tunnel && ra_tls_.encap()) {
      // Camouflaged CONNECT: the request the client sends inside it names the outer request, so
      // the client is told to go ahead first; a tunnel that cannot be opened then answers that
      // inner request.
      co_await CloseGracefully(up);
      const std::string ok = ConnectEstablished();
      if (int rc = co_await client.Write(Bytes(ok), timeout); rc < 0) {
        log.Fail("reply", absl::UnavailableError(Cat("sending the CONNECT answer: ",
                                                     std::string_view(strerror(-rc)))));
        co_return;
      }
      const std::span<const uint8_t> ahead = in.buffered();
      int answer = 0;
      auto read = co_await tunnel::ReadInnerRequest(
          client, std::string_view(reinterpret_cast<const char*>(ahead.data()), ahead.size()),
          timeout, &answer);
      in.ConsumeBuffered(ahead.size());
      if (!read.ok()) {
        log.Fail("request", read.status());
        if (answer != 0) co_await tunnel::AnswerAndClose(client, answer, read.status().message());
        co_return;
      }
      inner = &*read;
      if (absl::Status st = co_await open(); !st.ok()) {
        const std::string why = Cat("tunnel to ", dst.authority(), ": ", std::string(st.message()));
        log.Fail(failed_stage, absl::Status(st.code(), why));
        co_await tunnel::AnswerAndClose(client, GatewayStatus(st), why);
        co_return;
      }
      RelayStats relay = co_await Relay(client, *tunnel);
      log.Done(to_upstream + relay.a_to_b + read->raw.size(), to_client + relay.b_to_a,
               relay.a_error, relay.b_error);
      co_return;
    }
    if (decision.request.connect) {
      co_await CloseGracefully(up);  // a CONNECT after forwarded requests ends their upstream
      if (absl::Status st = co_await open(); !st.ok()) {
        co_await refuse_open(st);
        co_return;
      }
      const std::string ok = ConnectEstablished();
      if (int rc = co_await client.Write(Bytes(ok), timeout); rc < 0) {
        log.Fail("reply", absl::UnavailableError(Cat("sending the CONNECT answer: ",
                                                     std::string_view(strerror(-rc)))));
        co_return;
      }
      // Bytes the client sent right behind the CONNECT head are the tunnel's first bytes.
      const std::span<const uint8_t> ahead = in.buffered();
      int rc = 0;
      if (!ahead.empty()) {
        if (tunnel) {
          rc = co_await tunnel->Write(ahead);
        } else {
          rc = co_await direct->Write(ahead);
        }
      }
      if (rc < 0) {
        log.Fail("relay", absl::UnavailableError(Cat("forwarding early client data: ",
                                                     std::string_view(strerror(-rc)))));
        co_return;
      }
      RelayStats relay;
      if (tunnel) {
        relay = co_await Relay(client, *tunnel);
      } else {
        relay = co_await Relay(client, *direct);
      }
      log.Done(to_upstream + relay.a_to_b + ahead.size(), to_client + relay.b_to_a, relay.a_error,
               relay.b_error);
      co_return;
    }

    // A forwarded request. Its client-side facts are read before the head is rewritten.
    const bool client_keep_alive = http::WantsKeepAlive(head);
    const bool expects_continue = head.minor_version == 1 &&
                                  in.parser().body_kind() != http::BodyKind::kNone &&
                                  head.headers.HasToken("Expect", "100-continue");
    PrepareUpstreamRequest(dst, head);
    // encap_in_http: the outer request is named after this one (a reused tunnel keeps the name
    // of the request that opened it).
    tunnel::InnerRequest forwarded;
    if (via_tunnel && ra_tls_.encap()) {
      auto host = head.headers.Get("Host");
      forwarded.host = host ? std::string(*host) : dst.authority();
      forwarded.path = head.target;
      inner = &forwarded;
    }

    // Keep-alive requests to another destination (or route) close the current upstream and open
    // one to theirs; requests to the same one reuse it. A reused upstream that closed while idle
    // is reopened once for a request without a body (nothing of it was consumed).
    const std::string key = Cat(route, " ", dst.authority());
    if (up.key != key) co_await CloseGracefully(up);
    Exchange ex;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = up.open() && up.used();
      if (!up.open()) {
        if (absl::Status st = co_await open(); !st.ok()) {
          co_await refuse_open(st);
          co_return;
        }
        up.key = key;
        if (tunnel) {
          up.tunnel = std::make_unique<UpstreamConn<TlsStream>>(std::move(tunnel));
        } else {
          up.direct = std::make_unique<UpstreamConn<TcpStream>>(
              std::make_unique<TcpStream>(std::move(*direct)));
          direct.reset();
        }
      }
      if (expects_continue && attempt == 0) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (co_await client.Write(Bytes(kContinue), timeout) < 0) {
          log.Fail("reply", absl::UnavailableError("client went away before 100 Continue"));
          co_return;
        }
      }
      in.set_read_timeout(timeout);
      // (if/else, not ?: around co_await: GCC 12 miscompiles co_await in a conditional operator)
      if (up.tunnel) {
        ex = co_await ForwardOnce(*up.tunnel, in, client, head, client_keep_alive, timeout);
      } else {
        ex = co_await ForwardOnce(*up.direct, in, client, head, client_keep_alive, timeout);
      }
      to_upstream += ex.to_upstream;
      to_client += ex.to_client;
      if (ex.error.ok() || !(reused && ex.upstream_silent)) break;
      up.Close();
    }
    if (!ex.error.ok()) {
      const absl::Status st(ex.error.code(), Cat(route, " to ", dst.authority(), ": ",
                                                 std::string(ex.error.message())));
      if (ex.to_client == 0 && ex.answer != 0) {
        co_await answer(ex.stage, st, ex.answer,
                        ex.answer >= 500 ? std::string(st.message())
                                         : Cat(http::ReasonPhrase(ex.answer), ": ",
                                               std::string(ex.error.message())));
      } else {
        log.Fail(ex.stage, st);
      }
      co_return;
    }
    if (!up.reusable()) co_await CloseGracefully(up);
    if (!ex.client_keep_alive) {
      co_await CloseGracefully(up);
      log.Done(to_upstream, to_client, 0, 0);
      co_return;
    }
    in.NextMessage();
  }
}

}  // namespace tng::ingress
