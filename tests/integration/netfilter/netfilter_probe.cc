// netfilter_probe: a stand-in gateway for the capture integration tests. It reads a TNG
// configuration with the real schema, installs the capture rules of its netfilter endpoints with
// NetfilterRules (exactly as the gateway is to), and relays each captured connection in plain
// text to its original destination from an SO_MARKed socket, after telling the client
// "ORIG <original destination>\n". SIGTERM / SIGINT remove the rules and exit 0.
//
//   netfilter_probe --config-content JSON [--remove-stale]
//
// stderr: "listening <ingress|egress> <id> <port>" per endpoint, then "probe ready" once the rules
// are in; errors as "probe error: <status>" with exit code 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/fd.h"
#include "core/net.h"
#include "endpoints/config/schema.h"
#include "endpoints/netfilter/capture_socket.h"
#include "endpoints/netfilter/netfilter_rules.h"
#include "endpoints/netfilter/original_dst.h"

namespace tng::netfilter {
namespace {

struct Endpoint {
  RuleSpec spec;
  UniqueFd listener;
};

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "probe error: %s\n", s.ToString().c_str());
  return 1;
}

absl::StatusOr<UniqueFd> Listen(const char* host, uint16_t port, bool transparent) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (transparent) {
    if (absl::Status s = SetIpTransparent(fd.get()); !s.ok()) return s;
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, host, &sin.sin_addr);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      listen(fd.get(), 128) != 0) {
    return absl::InternalError(std::string("listening on ") + host + ":" + std::to_string(port) +
                               ": " + std::strerror(errno));
  }
  return fd;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Copies both ways until both directions have ended, passing half-closes on.
void Relay(int a, int b) {
  bool open[2] = {true, true};  // a→b, b→a
  char buf[16384];
  while (open[0] || open[1]) {
    pollfd p[2] = {{a, static_cast<short>(open[0] ? POLLIN : 0), 0},
                   {b, static_cast<short>(open[1] ? POLLIN : 0), 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) return;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int from = i == 0 ? a : b, to = i == 0 ? b : a;
      ssize_t n = recv(from, buf, sizeof buf, 0);
      if (n <= 0 || !WriteAll(to, std::string_view(buf, static_cast<size_t>(n)))) {
        shutdown(to, SHUT_WR);
        open[i] = false;
      }
    }
  }
}

void Serve(UniqueFd client, RuleSpec spec) {
  const CaptureMethod method = CaptureMethodOf(spec.direction);
  absl::StatusOr<SocketAddress> orig = OriginalDestination(client.get(), method);
  if (!orig.ok()) {
    WriteAll(client.get(), "ERROR " + orig.status().ToString() + "\n");
    return;
  }
  if (absl::Status s = CheckNotLoop(client.get(), method, *orig, spec.listen_port); !s.ok()) {
    WriteAll(client.get(), "LOOP " + std::string(s.message()) + "\n");
    return;
  }
  UniqueFd upstream(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (absl::Status s = SetSoMark(upstream.get(), spec.options.so_mark); !s.ok()) {
    WriteAll(client.get(), "ERROR " + s.ToString() + "\n");
    return;
  }
  timeval tv{5, 0};
  setsockopt(upstream.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(upstream.get(), orig->sa(), orig->len()) != 0) {
    WriteAll(client.get(),
             "ERROR connecting " + orig->ToString() + ": " + std::strerror(errno) + "\n");
    return;
  }
  if (!WriteAll(client.get(), "ORIG " + orig->ToString() + "\n")) return;
  Relay(client.get(), upstream.get());
}

int Main(int argc, char** argv) {
  std::string config;
  bool remove_stale = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config-content" && i + 1 < argc) {
      config = argv[++i];
    } else if (arg == "--remove-stale") {
      remove_stale = true;
    } else {
      std::fprintf(stderr, "usage: netfilter_probe --config-content JSON [--remove-stale]\n");
      return 2;
    }
  }
  absl::StatusOr<config::GatewayOptions> options = config::ParseConfig(config, "probe.json");
  if (!options.ok()) return Fail(options.status());

  // SIGTERM / SIGINT arrive on a signalfd, so the rules are removed on the main thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd sigfd(signalfd(-1, &signals, SFD_CLOEXEC));

  if (remove_stale) {
    if (absl::Status s = NetfilterRules::RemoveStale(); !s.ok()) return Fail(s);
  }
  std::vector<Endpoint> endpoints;
  auto add = [&](Direction dir, uint32_t id, const config::NetfilterOptions& nf) -> absl::Status {
    const bool ingress = dir == Direction::kIngress;
    const char* host = ingress ? "127.0.0.1" : "0.0.0.0";
    uint16_t port = nf.listen_port.value_or(0);
    if (port == 0) {
      absl::StatusOr<uint16_t> picked = PickFreePort(host);
      if (!picked.ok()) return picked.status();
      port = *picked;
    }
    absl::StatusOr<UniqueFd> fd = Listen(host, port, ingress);
    if (!fd.ok()) return fd.status();
    endpoints.push_back({RuleSpec{dir, id, port, nf}, std::move(*fd)});
    std::fprintf(stderr, "listening %s %u %u\n", ingress ? "ingress" : "egress", id, port);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < options->ingress.size(); ++i) {
    if (!options->ingress[i].netfilter) continue;
    absl::Status s =
        add(Direction::kIngress, static_cast<uint32_t>(i), *options->ingress[i].netfilter);
    if (!s.ok()) return Fail(s);
  }
  for (size_t i = 0; i < options->egress.size(); ++i) {
    if (!options->egress[i].netfilter) continue;
    absl::Status s =
        add(Direction::kEgress, static_cast<uint32_t>(i), *options->egress[i].netfilter);
    if (!s.ok()) return Fail(s);
  }
  std::vector<RuleSpec> specs;
  for (const Endpoint& e : endpoints) specs.push_back(e.spec);
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(specs);
  if (!rules.ok()) return Fail(rules.status());
  std::fprintf(stderr, "probe ready\n");

  std::vector<pollfd> fds;
  for (const Endpoint& e : endpoints) fds.push_back({e.listener.get(), POLLIN, 0});
  fds.push_back({sigfd.get(), POLLIN, 0});
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return Fail(absl::InternalError(std::string("poll: ") + std::strerror(errno)));
    }
    if (fds.back().revents & POLLIN) break;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      UniqueFd client(accept4(endpoints[i].listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) continue;
      // Connection threads end with their connections or with the process.
      std::thread(Serve, std::move(client), endpoints[i].spec).detach();
    }
  }
  if (absl::Status s = (*rules)->Remove(); !s.ok()) return Fail(s);
  std::fprintf(stderr, "rules removed\n");
  std::fflush(stderr);
  _exit(0);  // connection threads may still be relaying
}

}  // namespace
}  // namespace tng::netfilter

int main(int argc, char** argv) { return tng::netfilter::Main(argc, argv); }
