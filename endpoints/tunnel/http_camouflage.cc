#include "endpoints/tunnel/http_camouflage.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/http/message.h"
#include "core/http/parser.h"
#include "core/http/serializer.h"
#include "core/http/text.h"
#include "core/log.h"
#include "core/reactor.h"
#include "re2/re2.h"

namespace tng::tunnel {
namespace {

using http::Cat;

constexpr size_t kBufferSize = 16 * 1024;
// Once one direction has ended, the other must end within this (a peer that never finishes its
// message must not keep a flow's sockets forever).
constexpr Duration kTailTimeout = std::chrono::seconds(30);

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The two pumps of one camouflaged flow and what they share. Lives as long as either pump.
// It is a connection of its own to the reactor: a drain waits for it (the flow's last bytes
// still pass) and the drain deadline shuts both sockets down.
struct Pumps {
  Pumps(TcpStream o, TcpStream l, http::MessageKind kind)
      : scope(o.reactor()), outer(std::move(o)), leg(std::move(l)), parser(kind) {
    outer.EnterScope(&scope);
    leg.EnterScope(&scope);
  }
  ConnectionScope scope;  // first: the streams unwatch it when they go
  TcpStream outer;        // the TCP socket carrying HTTP
  TcpStream leg;          // the pumps' end of the socketpair; the TLS layer has the other
  http::Parser parser;
  std::array<uint8_t, kBufferSize> in{};  // outer bytes not fed to the parser yet
  size_t in_begin = 0;
  size_t in_end = 0;
  std::array<uint8_t, kBufferSize> out{};
  bool chunked_out = true;      // else the body runs until close (an HTTP/1.0 request)
  bool check_response = false;  // ingress: the outer response must be a 200
  bool one_done = false;
  std::shared_ptr<CamouflageReport> report = std::make_shared<CamouflageReport>();

  void Fail(absl::Status st) {
    if (report->status.ok()) report->status = std::move(st);
    // Both ends at once: the TLS layer reads EOF without close_notify (truncation, an error)
    // and the HTTP peer sees the flow reset.
    leg.ForceClose();
    outer.Abort();
  }
};

std::string ChunkHeader(size_t n) {
  char buf[24];
  const int len = std::snprintf(buf, sizeof(buf), "%zx\r\n", n);
  return std::string(buf, static_cast<size_t>(len));
}

// TLS bytes from the leg → chunks (or a close-delimited body) on the outer socket.
Task<void> FrameOut(std::shared_ptr<Pumps> p) {
  static constexpr std::string_view kCrlf = "\r\n";
  static constexpr std::string_view kLastChunk = "0\r\n\r\n";
  Reactor& r = p->outer.reactor();
  for (;;) {
    const int n = co_await p->leg.Read(std::span(p->out));
    if (n < 0) {
      p->Fail(absl::UnavailableError(Cat("reading the TLS side: ", strerror(-n))));
      break;
    }
    if (n == 0) {
      // The request (or response) body ends; the outer connection stays open until the other
      // direction has ended too: a gateway takes a FIN from its client as an aborted request.
      if (p->chunked_out) {
        if (int rc = co_await SendAll(r, p->outer.fd(), Bytes(kLastChunk)); rc < 0) {
          p->Fail(absl::UnavailableError(Cat("sending the last chunk: ", strerror(-rc))));
        }
      } else {
        co_await p->outer.ShutdownWrite();
      }
      break;
    }
    int rc;
    if (p->chunked_out) {
      std::string header = ChunkHeader(static_cast<size_t>(n));
      std::array<iovec, 3> iov = {iovec{header.data(), header.size()},
                                  iovec{p->out.data(), static_cast<size_t>(n)},
                                  iovec{const_cast<char*>(kCrlf.data()), kCrlf.size()}};
      rc = co_await SendAllV(r, p->outer.fd(), std::span(iov));
    } else {
      rc = co_await SendAll(r, p->outer.fd(), std::span(p->out.data(), static_cast<size_t>(n)));
    }
    if (rc < 0) {
      p->Fail(absl::UnavailableError(Cat("sending to the HTTP peer: ", strerror(-rc))));
      break;
    }
  }
  if (p->one_done) co_return;
  p->one_done = true;
}

// The outer message's body (de-chunked) → the leg; on the ingress, the response head first.
Task<void> UnframeIn(std::shared_ptr<Pumps> p) {
  Reactor& r = p->outer.reactor();
  for (;;) {
    auto res = p->parser.Feed(std::span(p->in.data() + p->in_begin, p->in_end - p->in_begin));
    p->in_begin += res.consumed;
    if (res.event == http::Parser::Event::kHeadersDone) {
      if (p->check_response) {
        const http::Response& resp = p->parser.response();
        if (resp.status != 200) {
          p->Fail(absl::UnavailableError(
              Cat("the egress (or a gateway before it) answered the camouflage POST with ",
                  resp.status, " ",
                  resp.reason.empty() ? http::ReasonPhrase(resp.status)
                                      : std::string_view(resp.reason))));
          co_return;
        }
      }
      continue;
    }
    if (res.event == http::Parser::Event::kBody) {
      if (int rc = co_await SendAll(r, p->leg.fd(), res.body); rc < 0) {
        p->Fail(absl::UnavailableError(Cat("writing to the TLS side: ", strerror(-rc))));
        co_return;
      }
      continue;
    }
    if (res.event == http::Parser::Event::kMessageDone) break;
    if (res.event == http::Parser::Event::kError) {
      p->Fail(absl::InvalidArgumentError(
          Cat("camouflage framing from the HTTP peer: ", p->parser.error().message())));
      co_return;
    }
    // kNeedMore: everything was fed.
    p->in_begin = p->in_end = 0;
    const int n = co_await Recv(r, p->outer.fd(), std::span(p->in),
                                p->one_done ? kTailTimeout : Duration::zero());
    if (n > 0) {
      p->in_end = static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      if (p->parser.FinishAtEof().event == http::Parser::Event::kMessageDone) break;
      p->Fail(absl::UnavailableError(Cat("the HTTP peer closed inside the camouflage message: ",
                                         p->parser.error().message())));
      co_return;
    }
    p->Fail(absl::UnavailableError(Cat("reading from the HTTP peer: ", strerror(-n))));
    co_return;
  }
  // The peer's message is complete: the TLS side reads EOF (after the peer's close_notify).
  co_await p->leg.ShutdownWrite();
  if (p->one_done) co_return;
  p->one_done = true;
}

// A connected AF_UNIX pair: [0] for the TLS layer, [1] for the pumps.
absl::StatusOr<std::array<UniqueFd, 2>> MakeLegs() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::ResourceExhaustedError(Cat("socketpair: ", strerror(errno)));
  }
  return std::array<UniqueFd, 2>{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void StartPumps(std::shared_ptr<Pumps> p) {
  Spawn(FrameOut(p));
  Spawn(UnframeIn(std::move(p)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Configuration

HttpEncap::~HttpEncap() = default;
HttpDecap::~HttpDecap() = default;

absl::StatusOr<std::shared_ptr<const HttpEncap>> HttpEncap::Create(
    const std::vector<config::PathRewrite>& rewrites) {
  auto encap = std::shared_ptr<HttpEncap>(new HttpEncap());
  for (size_t i = 0; i < rewrites.size(); ++i) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(rewrites[i].match_regex, options);
    if (!re->ok()) {
      return absl::InvalidArgumentError(Cat("path_rewrites[", i,
                                            "].match_regex: not a valid RE2 regular expression (",
                                            re->error(), ")"));
    }
    std::string why;
    if (!re->CheckRewriteString(rewrites[i].substitution, &why)) {
      return absl::InvalidArgumentError(Cat("path_rewrites[", i, "].substitution: ", why,
                                            " (\\1 … \\9 name the groups of match_regex)"));
    }
    encap->rules_.push_back(Rule{std::move(re), rewrites[i].substitution});
  }
  return std::shared_ptr<const HttpEncap>(std::move(encap));
}

std::string HttpEncap::OuterPath(std::string_view inner_path) const {
  std::string path(inner_path.substr(0, inner_path.find('?')));
  for (const Rule& rule : rules_) {
    if (!RE2::FullMatch(path, *rule.re)) continue;
    RE2::GlobalReplace(&path, *rule.re, rule.substitution);
    if (path.empty() || path[0] != '/') path.insert(path.begin(), '/');
    return path;
  }
  return "/";
}

absl::StatusOr<std::shared_ptr<const HttpDecap>> HttpDecap::Create(
    const std::vector<std::string>& allow_non_tng_traffic_regexes) {
  auto decap = std::shared_ptr<HttpDecap>(new HttpDecap());
  for (size_t i = 0; i < allow_non_tng_traffic_regexes.size(); ++i) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(allow_non_tng_traffic_regexes[i], options);
    if (!re->ok()) {
      return absl::InvalidArgumentError(Cat("allow_non_tng_traffic_regexes[", i,
                                            "]: not a valid RE2 regular expression (", re->error(),
                                            ")"));
    }
    decap->allow_.push_back(std::move(re));
  }
  return std::shared_ptr<const HttpDecap>(std::move(decap));
}

bool HttpDecap::AllowsPlain(std::string_view path) const {
  for (const auto& re : allow_) {
    if (RE2::FullMatch(path, *re)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Ingress

Task<void> AnswerAndClose(TcpStream& client, int code, absl::string_view why, Duration timeout) {
  http::Response resp;
  resp.status = code;
  resp.headers.Add("Server", "tng");
  resp.headers.Add("Content-Type", "text/plain; charset=utf-8");
  resp.headers.Add("Connection", "close");
  resp.body = Cat(http::ReasonPhrase(code), ": ", why, "\n");
  auto wire = http::SerializeResponse(resp);
  if (!wire.ok() || co_await client.Write(Bytes(*wire), timeout) != 0) co_return;
  co_await client.ShutdownWrite();
  // Read until the client closes, so that its unread bytes do not turn our FIN into a reset
  // that could destroy the answer in flight.
  std::array<uint8_t, 1024> sink;
  while (co_await client.Read(std::span(sink), timeout) > 0) {
  }
}

Task<absl::StatusOr<InnerRequest>> ReadInnerRequest(TcpStream& client, std::string_view already,
                                                    Duration timeout, int* answer) {
  InnerRequest inner;
  http::Parser parser(http::MessageKind::kRequest);
  std::array<uint8_t, 4096> buf;
  for (;;) {
    int n;
    if (!already.empty()) {
      n = static_cast<int>(std::min(already.size(), buf.size()));
      std::memcpy(buf.data(), already.data(), static_cast<size_t>(n));
      already.remove_prefix(static_cast<size_t>(n));
    } else {
      n = co_await client.Read(std::span(buf), timeout);
    }
    if (n == 0) {
      co_return absl::UnavailableError(inner.raw.empty()
                                           ? "the client closed before sending a request"
                                           : "the client closed inside its request head");
    }
    if (n < 0) {
      co_return absl::UnavailableError(
          n == -ETIMEDOUT
              ? Cat("no request head from the client within ", http::FormatDuration(timeout))
              : Cat("reading the client's request: ", strerror(-n)));
    }
    const size_t before = inner.raw.size();
    inner.raw.append(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n));
    auto res = parser.Feed(std::string_view(inner.raw).substr(before));
    if (res.event == http::Parser::Event::kError) {
      *answer = parser.error_http_status();
      co_return absl::InvalidArgumentError(
          Cat("encap_in_http carries HTTP only, and the client's bytes are not an HTTP/1 "
              "request: ",
              parser.error().message()));
    }
    if (res.event == http::Parser::Event::kNeedMore) continue;
    // The head is complete (later events are the body's, which the tunnel carries as bytes).
    const http::Request& req = parser.request();
    inner.path = req.parsed.form == http::TargetForm::kAuthority ? "/" : req.parsed.path;
    if (auto host = req.headers.Get("Host")) {
      inner.host = std::string(*host);
    } else {
      inner.host = req.parsed.host;
    }
    co_return inner;
  }
}

Task<absl::StatusOr<TcpStream>> Encapsulate(TcpStream outer, std::string_view host,
                                            std::string_view path, ConnectionScope* scope,
                                            std::shared_ptr<const CamouflageReport>* report) {
  // Only what routing needs; the metadata is an empty JSON object, as TNG sends it.
  const std::string head = Cat("POST ", path, " HTTP/1.1\r\nHost: ", host, "\r\n", kMetadataHeader,
                               ": {}\r\nTransfer-Encoding: chunked\r\n\r\n");
  if (int rc = co_await outer.Write(Bytes(head)); rc < 0) {
    co_return absl::UnavailableError(Cat("sending the camouflage POST: ", strerror(-rc)));
  }
  auto legs = MakeLegs();
  if (!legs.ok()) co_return legs.status();
  Reactor& reactor = outer.reactor();
  auto p = std::make_shared<Pumps>(std::move(outer), TcpStream(reactor, std::move((*legs)[1])),
                                   http::MessageKind::kResponse);
  p->parser.SetRequestMethod("POST");
  p->check_response = true;
  if (report) *report = p->report;
  StartPumps(std::move(p));
  co_return TcpStream(reactor, std::move((*legs)[0]), scope);
}

// ---------------------------------------------------------------------------------------------
// Egress

Task<Decapsulated> Decapsulate(TcpStream outer, const HttpDecap& decap, Duration timeout,
                               ConnectionScope* scope) {
  Decapsulated d;
  Reactor& reactor = outer.reactor();
  auto legs = MakeLegs();
  if (!legs.ok()) {
    d.status = legs.status();
    co_return d;
  }
  auto p = std::make_shared<Pumps>(std::move(outer), TcpStream(reactor, std::move((*legs)[1])),
                                   http::MessageKind::kRequest);
  // Refuses with an HTTP answer naming why, then closes.
  auto refuse = [&](int code, absl::Status why) -> Task<void> {
    co_await AnswerAndClose(p->outer, code, why.message(), timeout);
    d.kind = Decapsulated::Kind::kRefused;
    d.status = std::move(why);
  };

  // The outer request head, all of it.
  std::string raw;
  for (;;) {
    auto res = p->parser.Feed(std::span(p->in.data() + p->in_begin, p->in_end - p->in_begin));
    p->in_begin += res.consumed;
    if (res.event == http::Parser::Event::kHeadersDone) break;
    if (res.event == http::Parser::Event::kError) {
      const int code = p->parser.error_http_status();
      co_await refuse(code, absl::InvalidArgumentError(
                                Cat("not an HTTP request: ", p->parser.error().message())));
      co_return d;
    }
    if (p->in_end == p->in.size()) {
      // The parser consumed everything it was given (kNeedMore): start over in the buffer.
      p->in_begin = p->in_end = 0;
    }
    const int n =
        co_await Recv(reactor, p->outer.fd(),
                      std::span(p->in.data() + p->in_end, p->in.size() - p->in_end), timeout);
    if (n <= 0) {
      d.status = absl::UnavailableError(
          n == 0            ? (raw.empty() ? std::string("the peer closed before sending a request")
                                           : std::string("the peer closed inside its request head"))
          : n == -ETIMEDOUT ? Cat("no request head within ", http::FormatDuration(timeout))
                            : Cat("reading the request: ", strerror(-n)));
      co_return d;
    }
    raw.append(reinterpret_cast<const char*>(p->in.data() + p->in_end), static_cast<size_t>(n));
    p->in_end += static_cast<size_t>(n);
  }
  const http::Request& req = p->parser.request();
  const bool camouflaged = req.method == "POST" && req.headers.Has(kMetadataHeader);
  if (!camouflaged) {
    const std::string_view path = req.parsed.path;
    if (decap.AllowsPlain(path.substr(0, path.find('?')))) {
      d.kind = Decapsulated::Kind::kPlain;
      d.early = std::move(raw);
      p->outer.EnterScope(scope);  // back to the connection: the pumps' scope ends here
      d.stream = std::make_unique<TcpStream>(std::move(p->outer));
      co_return d;
    }
    co_await refuse(400, absl::InvalidArgumentError(
                             Cat(req.method, " ", req.target.substr(0, 256),
                                 ": this port takes TNG-camouflaged requests only (POST with a ",
                                 kMetadataHeader, " header)")));
    co_return d;
  }
  if (p->parser.body_kind() == http::BodyKind::kNone) {
    co_await refuse(400,
                    absl::InvalidArgumentError(
                        "a camouflage POST needs a streamed body (Transfer-Encoding: chunked)"));
    co_return d;
  }
  // HTTP/1.0 (a gateway speaking 1.0 upstream) cannot take a chunked answer: the response body
  // then runs until close.
  p->chunked_out = req.minor_version >= 1;
  const std::string_view ok =
      p->chunked_out ? "HTTP/1.1 200 OK\r\nServer: tng\r\nTransfer-Encoding: chunked\r\n\r\n"
                     : "HTTP/1.0 200 OK\r\nServer: tng\r\nConnection: close\r\n\r\n";
  if (int rc = co_await p->outer.Write(Bytes(ok), timeout); rc < 0) {
    d.status = absl::UnavailableError(Cat("answering the camouflage POST: ", strerror(-rc)));
    co_return d;
  }
  d.kind = Decapsulated::Kind::kTunnel;
  d.stream = std::make_unique<TcpStream>(reactor, std::move((*legs)[0]), scope);
  StartPumps(std::move(p));
  co_return d;
}

}  // namespace tng::tunnel
