#include "endpoints/gateway.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/net.h"
#include "core/reactor.h"
#include "endpoints/egress/mapping.h"
#include "endpoints/ingress/http_proxy.h"
#include "endpoints/ingress/mapping.h"
#include "endpoints/ingress/socks5.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng {

struct Gateway::PerReactor {
  std::unique_ptr<Reactor> reactor;
  std::vector<std::unique_ptr<tunnel::RaTls>> ra_tls;
  std::vector<std::unique_ptr<ingress::MappingIngress>> mapping_ingress;
  std::vector<std::unique_ptr<ingress::Socks5Ingress>> socks5_ingress;
  std::vector<std::unique_ptr<ingress::HttpProxyIngress>> http_proxy_ingress;
  std::vector<std::unique_ptr<egress::MappingEgress>> mapping_egress;
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  std::thread thread;
};

namespace {

// Every (listen address, destination) pair a mapping endpoint serves: a port range is one
// listener per port, mapped with the same offset into the destination range.
struct PortMapping {
  config::HostPort in;
  config::HostPort out;
};

std::vector<PortMapping> ExpandRules(const config::MappingOptions& mapping) {
  std::vector<PortMapping> out;
  for (const auto& rule : mapping.rules) {
    uint16_t last = rule.port_end == 0 ? rule.in.port : rule.port_end;
    for (uint32_t p = rule.in.port; p <= last; ++p) {
      uint16_t offset = static_cast<uint16_t>(p - rule.in.port);
      out.push_back({{rule.in.host, static_cast<uint16_t>(p)},
                     {rule.out.host, static_cast<uint16_t>(rule.out.port + offset)}});
    }
  }
  return out;
}

absl::StatusOr<SocketAddress> ListenAddress(const config::HostPort& in) {
  std::string host = in.host.empty() ? "0.0.0.0" : in.host;
  auto addr = SocketAddress::FromLiteral(host, in.port);
  if (!addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen host must be an IP address, got '", host, "'"));
  }
  return addr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(const config::GatewayOptions& config,
                                                         const GatewayRunOptions& run) {
  if (!config.unsupported.empty()) {
    return absl::UnimplementedError(
        absl::StrCat("not supported yet: ", config.unsupported.front().json_path, " (",
                     config.unsupported.front().feature, ")"));
  }
  std::unique_ptr<Gateway> g(new Gateway());
  g->config_ = config;
  g->run_ = run;
  int n = run.threads > 0 ? run.threads : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (n <= 0) n = 1;
  for (const auto& in : config.ingress) {
    if (in.ra.no_ra) {
      TNG_LOG(Warn, "security").Kv("endpoint", in.id).Kv("config", in.json_path)
          << "no_ra is set: this tunnel is NOT remotely attested and uses a fixed, public test "
             "certificate; use it for debugging only, never in production";
    }
  }
  for (const auto& eg : config.egress) {
    if (eg.ra.no_ra) {
      TNG_LOG(Warn, "security").Kv("endpoint", eg.id).Kv("config", eg.json_path)
          << "no_ra is set: this tunnel is NOT remotely attested and uses a fixed, public test "
             "certificate; use it for debugging only, never in production";
    }
  }
  for (int i = 0; i < n; ++i) {
    auto pr = std::make_unique<PerReactor>();
    if (auto st = g->BuildReactor(*pr, i); !st.ok()) return st;
    g->reactors_.push_back(std::move(pr));
  }
  return g;
}

absl::Status Gateway::BuildReactor(PerReactor& pr, int index) {
  ReactorOptions ro;
  if (run_.pin_threads) ro.cpu = index % static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  auto reactor = Reactor::Create(index, ro);
  if (!reactor.ok()) return reactor.status();
  pr.reactor = std::move(*reactor);
  Reactor& r = *pr.reactor;
  tunnel::TunnelTimeouts timeouts;

  auto listen = [&](const config::HostPort& in, std::string name,
                    Acceptor::Handler handler) -> absl::Status {
    auto addr = ListenAddress(in);
    if (!addr.ok()) return addr.status();
    auto fd = ListenTcp(*addr);
    if (!fd.ok())
      return absl::Status(fd.status().code(), absl::StrCat(name, ": ", fd.status().message()));
    pr.acceptors.push_back(
        std::make_unique<Acceptor>(r, std::move(*fd), std::move(handler), std::move(name)));
    return absl::OkStatus();
  };

  // One RA-TLS context per endpoint per reactor; errors name the endpoint's config path.
  auto make_ra_tls = [&](const config::RaOptions& ra_opts, crypto::TlsRole role,
                         const std::string& json_path) -> absl::StatusOr<tunnel::RaTls*> {
    auto ra = tunnel::RaTls::Create(ra_opts, role);
    if (!ra.ok()) {
      return absl::Status(ra.status().code(), absl::StrCat(json_path, ": ", ra.status().message()));
    }
    pr.ra_tls.push_back(std::move(*ra));
    return pr.ra_tls.back().get();
  };

  for (const auto& in : config_.ingress) {
    if (!in.mapping) continue;
    auto ra = make_ra_tls(in.ra, crypto::TlsRole::kClient, in.json_path);
    if (!ra.ok()) return ra.status();
    tunnel::RaTls& ra_ref = **ra;
    for (const auto& pm : ExpandRules(*in.mapping)) {
      ingress::MappingTarget t{in.id, absl::StrCat(pm.in.host, ":", pm.in.port), pm.out.host,
                               pm.out.port};
      auto ep = std::make_unique<ingress::MappingIngress>(r, std::move(t), ra_ref, timeouts);
      ingress::MappingIngress* raw = ep.get();
      pr.mapping_ingress.push_back(std::move(ep));
      auto st = listen(pm.in, absl::StrCat(in.json_path, ".mapping"),
                       [raw](UniqueFd fd) { Spawn(raw->Serve(std::move(fd))); });
      if (!st.ok()) return st;
    }
  }
  for (const auto& in : config_.ingress) {
    if (!in.socks5) continue;
    auto ra = make_ra_tls(in.ra, crypto::TlsRole::kClient, in.json_path);
    if (!ra.ok()) return ra.status();
    auto target = ingress::MakeSocks5Target(in.id, *in.socks5);
    if (!target.ok()) {
      return absl::Status(target.status().code(),
                          absl::StrCat(in.json_path, ".socks5.", target.status().message()));
    }
    auto ep = std::make_unique<ingress::Socks5Ingress>(r, std::move(*target), **ra, timeouts);
    ingress::Socks5Ingress* raw = ep.get();
    pr.socks5_ingress.push_back(std::move(ep));
    auto st = listen(in.socks5->proxy_listen, absl::StrCat(in.json_path, ".socks5"),
                     [raw](UniqueFd fd) { Spawn(raw->Serve(std::move(fd))); });
    if (!st.ok()) return st;
  }
  for (const auto& in : config_.ingress) {
    if (!in.http_proxy) continue;
    auto ra = make_ra_tls(in.ra, crypto::TlsRole::kClient, in.json_path);
    if (!ra.ok()) return ra.status();
    auto target = ingress::MakeHttpProxyTarget(in.id, *in.http_proxy);
    if (!target.ok()) {
      return absl::Status(target.status().code(),
                          absl::StrCat(in.json_path, ".http_proxy.", target.status().message()));
    }
    auto ep = std::make_unique<ingress::HttpProxyIngress>(r, std::move(*target), **ra, timeouts);
    ingress::HttpProxyIngress* raw = ep.get();
    pr.http_proxy_ingress.push_back(std::move(ep));
    auto st = listen(in.http_proxy->proxy_listen, absl::StrCat(in.json_path, ".http_proxy"),
                     [raw](UniqueFd fd) { Spawn(raw->Serve(std::move(fd))); });
    if (!st.ok()) return st;
  }
  for (const auto& eg : config_.egress) {
    if (!eg.mapping) continue;
    auto ra = make_ra_tls(eg.ra, crypto::TlsRole::kServer, eg.json_path);
    if (!ra.ok()) return ra.status();
    tunnel::RaTls& ra_ref = **ra;
    for (const auto& pm : ExpandRules(*eg.mapping)) {
      egress::MappingTarget t{eg.id, absl::StrCat(pm.in.host, ":", pm.in.port), pm.out.host,
                              pm.out.port};
      auto ep = std::make_unique<egress::MappingEgress>(r, std::move(t), ra_ref, timeouts);
      egress::MappingEgress* raw = ep.get();
      pr.mapping_egress.push_back(std::move(ep));
      auto st = listen(pm.in, absl::StrCat(eg.json_path, ".mapping"),
                       [raw](UniqueFd fd) { Spawn(raw->Serve(std::move(fd))); });
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

Gateway::~Gateway() {
  BeginDrain();
  ForceCloseAll();
  Join();
}

size_t Gateway::listener_count() const {
  return reactors_.empty() ? 0 : reactors_.front()->acceptors.size();
}

absl::Status Gateway::Start() {
  for (auto& pr : reactors_) {
    Reactor* r = pr->reactor.get();
    for (auto& a : pr->acceptors) {
      Acceptor* acc = a.get();
      r->Post([acc] { acc->Start(); });
      r->AddDrainHook([acc] { acc->Stop(); });  // before the thread starts
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++running_;
    }
    pr->thread = std::thread([this, r] {
      r->Run();
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
      cv_.notify_all();
    });
  }
  return absl::OkStatus();
}

void Gateway::BeginDrain() {
  for (auto& pr : reactors_) {
    Reactor* r = pr->reactor.get();
    r->Post([r] { r->BeginDrain(); });
  }
}

bool Gateway::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return running_ == 0; });
}

void Gateway::ForceCloseAll() {
  for (auto& pr : reactors_) {
    Reactor* r = pr->reactor.get();
    r->Post([r] { r->ForceCloseAll(); });
  }
}

void Gateway::Join() {
  for (auto& pr : reactors_) {
    if (pr->thread.joinable()) pr->thread.join();
  }
}

}  // namespace tng
