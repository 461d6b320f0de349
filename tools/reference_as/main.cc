// tng-reference-as: a stand-in for trustee's restful Attestation Service on machines without TEE
// hardware. It verifies `sample` evidence and issues EAR tokens signed under a self-made CA.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/http/server.h"
#include "core/log.h"
#include "core/net.h"
#include "core/reactor.h"
#include "tools/reference_as/grpc_service.h"
#include "tools/reference_as/service.h"

namespace {

constexpr char kUsage[] = R"(Usage: tng-reference-as --listen HOST:PORT [options]

Serves trustee's Attestation Service REST API for the `sample` TEE, for tests and demos on
machines without TEE hardware:
  POST /challenge              {"nonce": ..., "extra-params": {"jwt": <challenge token>}}
  POST /attestation            trustee 1.6 body {"verification_requests": [...], "policy_ids":
                               [...]} (or the flat <= 1.5.2 body with --legacy-api); answers an
                               EAR JWT (ES256) whose header carries the signer's jwk and x5c
  GET  /certificate            the signing chain as PEM (signer, then CA): the trust anchors
  GET  /.well-known/jwks.json  the signing key
Sample evidence {"svn": "1", "report_data": base64} must carry, as report data, the hash
(runtime_data_hash_algorithm, default sha384) of the RFC 8785 form of the request's structured
runtime data. A "challenge_token" in the runtime data must be one this AS issued, unexpired.
The EAR is appraised against the first policy id (none: "default"); an unknown one fails with
HTTP 500 as trustee's does. Logs are key=value lines on stderr (level from TNG_LOG).

Options:
  --listen HOST:PORT    address to serve on (IPv4 or [IPv6] literal; port 0 picks a free port);
                        the bound address is printed on stdout as "listening on HOST:PORT"
  --grpc-listen HOST:PORT
                        also serve trustee's gRPC AS API (protos/attestation.proto) over
                        cleartext HTTP/2 there: attestation.AttestationService/
                        AttestationEvaluate with the 1.6 AttestationRequest, same policies and
                        tokens as the REST side; a refusal is grpc-status 10 (ABORTED) as
                        trustee's. Printed on stdout as "grpc listening on HOST:PORT"
  --policy NAME=VERDICT a policy: allow (ear.status "affirming"), warn ("warning") or deny
                        ("contraindicated"); repeatable. "default" is allow unless given.
  --token-ttl SECONDS   token lifetime (exp - iat), default 300
  --untrusted-key       sign tokens with a key whose certificate is not issued by the CA
                        served at /certificate (verifiers must reject its tokens)
  --legacy-api          behave as trustee <= 1.5.2: /attestation takes only the flat body and
                        rejects the 1.6 body with "missing field `tee`"
  --clock-offset SECS   add SECS (may be negative) to the clock that stamps tokens' iat/exp and
                        challenges: with -600 every token is already expired when issued
  --help                this text

SIGTERM or SIGINT stops the service.
)";

struct Args {
  std::string host;
  uint16_t port = 0;
  std::string grpc_host;  // empty: no gRPC listener
  uint16_t grpc_port = 0;
  bool untrusted_key = false;
  long clock_offset = 0;
  tng::reference_as::ServiceOptions service;
};

int UsageError(std::string_view message) {
  std::fprintf(stderr, "tng-reference-as: %.*s\n(see --help)\n", static_cast<int>(message.size()),
               message.data());
  return 2;
}

bool ParseNumber(const char* text, long min, long max, long& out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtol(text, &end, 10);
  return *end == '\0' && errno == 0 && out >= min && out <= max;
}

// HOST:PORT with HOST an IP literal, IPv6 in brackets.
bool ParseListen(std::string_view text, std::string& out_host, uint16_t& out_port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  }
  long port = 0;
  const std::string port_text(text.substr(colon + 1));
  if (!ParseNumber(port_text.c_str(), 0, 65535, port)) return false;
  out_host = host == "localhost" ? "127.0.0.1" : std::string(host);
  out_port = static_cast<uint16_t>(port);
  return true;
}

// 0 to go on, -1 to exit successfully (--help), otherwise the exit code.
int ParseArgs(int argc, char** argv, Args& args) {
  bool listen_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (a == "--listen") {
      const char* v = value();
      if (v == nullptr || !ParseListen(v, args.host, args.port)) {
        return UsageError("--listen needs HOST:PORT with an IP literal host");
      }
      listen_given = true;
    } else if (a == "--grpc-listen") {
      const char* v = value();
      if (v == nullptr || !ParseListen(v, args.grpc_host, args.grpc_port)) {
        return UsageError("--grpc-listen needs HOST:PORT with an IP literal host");
      }
    } else if (a == "--policy") {
      const char* v = value();
      if (v == nullptr) return UsageError("--policy needs NAME=allow|warn|deny");
      auto policy = tng::reference_as::ParsePolicyFlag(v);
      if (!policy.ok()) return UsageError(std::string(policy.status().message()));
      for (const auto& [name, verdict] : args.service.policies) {
        if (name == policy->first) return UsageError("--policy " + name + " is given twice");
      }
      args.service.policies.push_back(*std::move(policy));
    } else if (a == "--token-ttl") {
      long ttl = 0;
      if (!ParseNumber(value(), 1, 10L * 365 * 86400, ttl)) {
        return UsageError("--token-ttl needs a positive number of seconds");
      }
      args.service.token_ttl_seconds = ttl;
    } else if (a == "--untrusted-key") {
      args.untrusted_key = true;
    } else if (a == "--legacy-api") {
      args.service.legacy_api = true;
    } else if (a == "--clock-offset") {
      if (!ParseNumber(value(), -10L * 365 * 86400, 10L * 365 * 86400, args.clock_offset)) {
        return UsageError("--clock-offset needs a number of seconds (negative: the past)");
      }
    } else {
      return UsageError("unknown argument '" + std::string(a) + "'");
    }
  }
  if (!listen_given) return UsageError("--listen HOST:PORT is required");
  return 0;
}

tng::Task<tng::http::Response> HandleRequest(tng::reference_as::Service& service,
                                             const tng::http::Request& request, long clock_offset) {
  tng::reference_as::Response answer = service.Handle(
      request.method, request.parsed.path, request.body, std::time(nullptr) + clock_offset);
  TNG_LOG(Info, "reference-as")
          .Kv("method", request.method)
          .Kv("path", request.parsed.path)
          .Kv("status", answer.status)
      << "request";
  tng::http::Response response;
  response.status = answer.status;
  response.headers.Add("Content-Type", answer.content_type);
  response.body = std::move(answer.body);
  co_return response;
}

// Stops the reactor on SIGTERM/SIGINT, read from a signalfd through the ring.
tng::Task<void> WatchSignals(tng::Reactor& reactor, int sfd) {
  signalfd_siginfo info{};
  int n = co_await tng::Submit(
      reactor, [&](io_uring_sqe* s) { io_uring_prep_read(s, sfd, &info, sizeof(info), 0); });
  TNG_LOG(Info, "reference-as")
          .Kv("signal", n == static_cast<int>(sizeof(info)) ? strsignal(info.ssi_signo) : "?")
      << "stopping";
  reactor.BeginDrain();
  reactor.ForceCloseAll();
}

int Fail(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "tng-reference-as: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  tng::InitLogLevelFromEnv();
  Args args;
  if (int rc = ParseArgs(argc, argv, args); rc != 0) return rc < 0 ? 0 : rc;

  auto addr = tng::SocketAddress::FromLiteral(args.host, args.port);
  if (!addr.ok()) return UsageError(std::string(addr.status().message()));
  auto signer = tng::reference_as::TokenSigner::Create(std::time(nullptr), args.untrusted_key);
  if (!signer.ok()) return Fail("creating the signing key and certificates", signer.status());
  tng::reference_as::Service service(*std::move(signer), args.service);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  tng::UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd.valid()) return Fail("signalfd", absl::ErrnoToStatus(errno, "signalfd"));

  auto reactor = tng::Reactor::Create(0, {.sq_entries = 256, .cpu = -1});
  if (!reactor.ok()) return Fail("creating the reactor", reactor.status());
  // No SO_REUSEPORT: a second AS on the same port must fail, not share the traffic.
  auto listen_fd = tng::ListenTcp(*addr, {.backlog = 128, .reuse_port = false});
  if (!listen_fd.ok()) return Fail(addr->ToString(), listen_fd.status());
  tng::SocketAddress bound;
  if (::getsockname(listen_fd->get(), bound.mutable_sa(), bound.mutable_len()) != 0) {
    return Fail("getsockname", absl::ErrnoToStatus(errno, "getsockname"));
  }

  tng::Reactor& r = **reactor;
  std::unique_ptr<tng::Acceptor> grpc_acceptor;
  tng::SocketAddress grpc_bound;
  if (!args.grpc_host.empty()) {
    auto grpc_addr = tng::SocketAddress::FromLiteral(args.grpc_host, args.grpc_port);
    if (!grpc_addr.ok()) return UsageError(std::string(grpc_addr.status().message()));
    auto grpc_fd = tng::ListenTcp(*grpc_addr, {.backlog = 128, .reuse_port = false});
    if (!grpc_fd.ok()) return Fail(grpc_addr->ToString(), grpc_fd.status());
    if (::getsockname(grpc_fd->get(), grpc_bound.mutable_sa(), grpc_bound.mutable_len()) != 0) {
      return Fail("getsockname", absl::ErrnoToStatus(errno, "getsockname"));
    }
    grpc_acceptor = std::make_unique<tng::Acceptor>(
        r, std::move(*grpc_fd),
        [&r, &service, offset = args.clock_offset](tng::UniqueFd fd) {
          Spawn(tng::reference_as::ServeGrpcConnection(
              r, std::move(fd),
              [&service, offset](std::string_view method, std::span<const uint8_t> request) {
                auto reply = tng::reference_as::HandleGrpc(service, method, request,
                                                           std::time(nullptr) + offset);
                TNG_LOG(Info, "reference-as")
                        .Kv("grpc_method", method)
                        .Kv("grpc_status", reply.status)
                    << "request";
                return reply;
              }));
        },
        "reference-as-grpc");
  }
  tng::http::HttpServer server(
      r, std::move(*listen_fd),
      [&service, offset = args.clock_offset](const tng::http::Request& request) {
        return HandleRequest(service, request, offset);
      },
      {.name = "reference-as"});
  r.AddDrainHook([&] {
    server.Stop();
    if (grpc_acceptor) grpc_acceptor->Stop();
  });
  r.Post([&] {
    server.Start();
    if (grpc_acceptor) grpc_acceptor->Start();
    Spawn(WatchSignals(r, sfd.get()));
    std::string policies;
    for (const auto& [name, verdict] : args.service.policies) {
      policies += (policies.empty() ? "" : ",") + name;
    }
    TNG_LOG(Info, "reference-as")
            .Kv("listen", bound.ToString())
            .Kv("policies", policies.empty() ? "default" : policies)
            .Kv("token_ttl", args.service.token_ttl_seconds)
            .Kv("untrusted_key", args.untrusted_key ? "true" : "false")
            .Kv("legacy_api", args.service.legacy_api ? "true" : "false")
            .Kv("clock_offset", args.clock_offset)
            .Kv("grpc_listen", grpc_acceptor ? grpc_bound.ToString() : std::string("-"))
        << "listening";
    std::printf("listening on %s\n", bound.ToString().c_str());
    if (grpc_acceptor) std::printf("grpc listening on %s\n", grpc_bound.ToString().c_str());
    std::fflush(stdout);
  });
  r.Run();
  TNG_LOG(Info, "reference-as") << "stopped";
  return 0;
}
