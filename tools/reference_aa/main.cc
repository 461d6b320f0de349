// tng-reference-aa: a stand-in for the CoCo Attestation Agent on machines without TEE hardware.
// It serves the AA's real ttrpc API on a unix socket (and optionally the api-server-rest evidence
// API over HTTP) and answers with `sample` TEE evidence.
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "attestation/ttrpc.h"
#include "core/http/server.h"
#include "core/http/url.h"
#include "core/log.h"
#include "core/net.h"
#include "core/reactor.h"
#include "tools/reference_aa/aa_service.h"
#include "tools/reference_aa/rest_service.h"

namespace {

constexpr char kUsage[] =
    R"(Usage: tng-reference-aa --socket PATH [--rest-listen HOST:PORT] [options]

Serves the CoCo Attestation Agent's ttrpc API (attestation_agent.AttestationAgentService) on a
unix socket for the `sample` TEE, for tests and demos on machines without TEE hardware:
  GetEvidence            {"svn":"1","report_data":"<base64 of RuntimeData>"}
  GetAdditionalEvidence  empty (no additional attesters)
  GetTeeType             "sample"
  GetAdditionalTees      none
Other methods answer UNIMPLEMENTED. Logs are key=value lines on stderr (level from TNG_LOG).

With --rest-listen it also serves the CoCo api-server-rest ("ASR") evidence API over HTTP, as
TNG's `aa_provider: coco_asr` calls it, with the same evidence and switches:
  GET /info                                   {"tee":"sample"}
  GET /aa/evidence?runtime_data=X             sample evidence for the bytes of X (URL-decoded);
                                              with &encoding=base64, X is base64url/base64
  GET /aa/additional-evidence?runtime_data=X  200 with an empty body (no additional attesters)
Other paths answer 404, other methods 405, a missing runtime_data 400, --fail-evidence 500.

Options:
  --socket PATH               where to listen: a path, "@name" for an abstract socket, or a
                              ttrpc address (unix:///path, unix://@name). Missing parent
                              directories are created; a stale socket file is replaced.
  --rest-listen HOST:PORT     also serve the ASR REST API on this TCP address (port 0: any
                              free port; the log line "rest listening" names the one chosen)
  --fail-evidence             GetEvidence answers INTERNAL, as an AA whose attester fails
  --delay-ms N                wait N milliseconds before answering each request
  --report-data-override HEX  evidence carries these bytes as report data instead of the
                              request's RuntimeData (evidence that must be rejected)
  --help                      this text

SIGTERM or SIGINT stops the agent and removes the socket file.
)";

struct Args {
  std::string socket;
  std::optional<tng::http::HostPort> rest_listen;
  tng::reference_aa::AaServiceOptions service;
};

int UsageError(const std::string& message) {
  std::fprintf(stderr, "tng-reference-aa: %s\n(see --help)\n", message.c_str());
  return 2;
}

bool ParseHex(std::string_view hex, std::vector<uint8_t>& out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

// 0 to go on, otherwise the exit code.
int ParseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (a == "--socket") {
      const char* v = value();
      if (v == nullptr) return UsageError("--socket needs a path");
      args.socket = v;
    } else if (a == "--rest-listen") {
      const char* v = value();
      if (v == nullptr) return UsageError("--rest-listen needs HOST:PORT");
      // HOST:PORT, "[v6]:PORT"; port 0 picks a free port.
      std::string_view text = v;
      size_t colon = text.rfind(':');
      std::string host(colon == std::string_view::npos ? "" : text.substr(0, colon));
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      char* end = nullptr;
      errno = 0;
      long port = colon == std::string_view::npos ? -1 : std::strtol(v + colon + 1, &end, 10);
      if (host.empty() || port < 0 || port > 65535 || errno != 0 || end == v + colon + 1 ||
          *end != '\0') {
        return UsageError("--rest-listen needs HOST:PORT, e.g. 127.0.0.1:8006");
      }
      auto hp = tng::http::HostPort{.host = host, .port = static_cast<uint16_t>(port)};
      args.rest_listen = hp;
    } else if (a == "--fail-evidence") {
      args.service.fail_evidence = true;
    } else if (a == "--delay-ms") {
      const char* v = value();
      char* end = nullptr;
      errno = 0;
      long ms = v ? std::strtol(v, &end, 10) : -1;
      if (v == nullptr || *v == '\0' || *end != '\0' || errno != 0 || ms < 0) {
        return UsageError("--delay-ms needs a non-negative number of milliseconds");
      }
      args.service.delay = std::chrono::milliseconds(ms);
    } else if (a == "--report-data-override") {
      const char* v = value();
      std::vector<uint8_t> bytes;
      if (v == nullptr || !ParseHex(v, bytes)) {
        return UsageError("--report-data-override needs an even number of hex digits");
      }
      args.service.report_data_override = std::move(bytes);
    } else {
      return UsageError("unknown argument '" + std::string(a) + "'");
    }
  }
  if (args.socket.empty()) return UsageError("--socket PATH is required");
  return 0;
}

// mkdir -p of the socket's directory.
bool MakeParents(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      std::fprintf(stderr, "tng-reference-aa: cannot create %s: %s\n", dir.c_str(),
                   std::strerror(errno));
      return false;
    }
  }
  return true;
}

// A socket file left by a killed agent is removed; a live agent's socket or any other file is not.
bool ClearStaleSocket(const tng::SocketAddress& addr, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return true;
  if (!S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr, "tng-reference-aa: %s exists and is not a socket\n", path.c_str());
    return false;
  }
  tng::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(probe.get(), addr.sa(), addr.len()) == 0) {
    std::fprintf(stderr, "tng-reference-aa: another process is serving %s\n", path.c_str());
    return false;
  }
  ::unlink(path.c_str());
  return true;
}

// Stops the reactor on SIGTERM/SIGINT, read from a signalfd through the ring.
tng::Task<void> WatchSignals(tng::Reactor& reactor, int sfd) {
  signalfd_siginfo info{};
  int n = co_await tng::Submit(
      reactor, [&](io_uring_sqe* s) { io_uring_prep_read(s, sfd, &info, sizeof(info), 0); });
  TNG_LOG(Info, "reference-aa")
          .Kv("signal", n == static_cast<int>(sizeof(info)) ? strsignal(info.ssi_signo) : "?")
      << "stopping";
  reactor.BeginDrain();
  reactor.ForceCloseAll();
}

}  // namespace

int main(int argc, char** argv) {
  tng::InitLogLevelFromEnv();
  Args args;
  if (int rc = ParseArgs(argc, argv, args); rc != 0) return rc < 0 ? 0 : rc;

  std::string path = args.socket;
  if (path.rfind("unix://", 0) == 0) path = path.substr(7);
  auto addr = tng::SocketAddress::FromUnixPath(path);
  if (!addr.ok()) return UsageError(std::string(addr.status().message()));
  const bool abstract = path.front() == '@';
  if (!abstract && (!MakeParents(path) || !ClearStaleSocket(*addr, path))) return 1;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  tng::UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd.valid()) {
    std::fprintf(stderr, "tng-reference-aa: signalfd: %s\n", std::strerror(errno));
    return 1;
  }

  auto reactor = tng::Reactor::Create(0, {.sq_entries = 256, .cpu = -1});
  if (!reactor.ok()) {
    std::fprintf(stderr, "tng-reference-aa: %s\n", std::string(reactor.status().message()).c_str());
    return 1;
  }
  auto listen_fd = tng::ListenUnix(*addr);
  if (!listen_fd.ok()) {
    std::fprintf(stderr, "tng-reference-aa: %s\n",
                 std::string(listen_fd.status().message()).c_str());
    return 1;
  }
  tng::Reactor& r = **reactor;
  std::unique_ptr<tng::http::HttpServer> rest;
  if (args.rest_listen) {
    auto rest_addr =
        tng::SocketAddress::FromLiteral(args.rest_listen->host, args.rest_listen->port);
    if (!rest_addr.ok()) {
      return UsageError("--rest-listen: " + std::string(rest_addr.status().message()));
    }
    auto rest_fd = tng::ListenTcp(*rest_addr, {});
    if (!rest_fd.ok()) {
      std::fprintf(stderr, "tng-reference-aa: %s\n",
                   std::string(rest_fd.status().message()).c_str());
      return 1;
    }
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    ::getsockname(rest_fd->get(), reinterpret_cast<sockaddr*>(&bound), &bound_len);
    const std::string shown =
        tng::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len).ToString();
    rest = std::make_unique<tng::http::HttpServer>(
        r, std::move(*rest_fd),
        [&r, &args](const tng::http::Request& request) {
          return tng::reference_aa::ServeRest(r, args.service, request);
        },
        tng::http::HttpServerOptions{.name = "reference-aa-rest"});
    r.Post([&r, &rest, shown] {
      rest->Start();
      TNG_LOG(Info, "reference-aa").Kv("address", shown) << "rest listening";
    });
  }
  uint64_t next_id = 0;
  tng::Acceptor acceptor(
      r, std::move(*listen_fd),
      [&](tng::UniqueFd fd) {
        Spawn(tng::reference_aa::ServeConnection(r, std::move(fd), args.service, ++next_id));
      },
      "reference-aa");
  r.AddDrainHook([&] { acceptor.Stop(); });
  r.Post([&] {
    acceptor.Start();
    Spawn(WatchSignals(r, sfd.get()));
    TNG_LOG(Info, "reference-aa")
            .Kv("socket", path)
            .Kv("tee", "sample")
            .Kv("fail_evidence", args.service.fail_evidence ? "true" : "false")
            .Kv("delay_ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(args.service.delay).count())
            .Kv("report_data_override", args.service.report_data_override ? "yes" : "no")
        << "listening";
  });
  r.Run();
  if (!abstract) ::unlink(path.c_str());
  TNG_LOG(Info, "reference-aa") << "stopped";
  return 0;
}
