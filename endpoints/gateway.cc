#include "endpoints/gateway.h"

#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/net.h"
#include "core/reactor.h"
#include "endpoints/control/restful.h"
#include "endpoints/egress/mapping.h"
#include "endpoints/egress/netfilter.h"
#include "endpoints/ingress/http_proxy.h"
#include "endpoints/ingress/mapping.h"
#include "endpoints/ingress/netfilter.h"
#include "endpoints/ingress/socks5.h"
#include "endpoints/netfilter/capture_socket.h"
#include "endpoints/netfilter/privileges.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng {

struct Gateway::PerReactor {
  std::unique_ptr<Reactor> reactor;
  std::vector<std::unique_ptr<tunnel::RaTls>> ra_tls;
  std::vector<std::unique_ptr<ingress::MappingIngress>> mapping_ingress;
  std::vector<std::unique_ptr<ingress::Socks5Ingress>> socks5_ingress;
  std::vector<std::unique_ptr<ingress::HttpProxyIngress>> http_proxy_ingress;
  std::vector<std::unique_ptr<egress::MappingEgress>> mapping_egress;
  std::vector<std::unique_ptr<ingress::NetfilterIngress>> netfilter_ingress;
  std::vector<std::unique_ptr<egress::NetfilterEgress>> netfilter_egress;
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  std::unique_ptr<control::RestfulControl> control;  // reactor 0 only
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

// Where netfilter hands captured connections over: TPROXY to 127.0.0.1 (a transparent listener),
// REDIRECT to the port on the address the connection arrived at.
const char* CaptureListenHost(netfilter::Direction d) {
  return d == netfilter::Direction::kIngress ? "127.0.0.1" : "0.0.0.0";
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
  if (run.bench_plain_tunnel) {
    TNG_LOG(Warn, "security")
        << "--bench-plain-tunnel is set: tunnels between ingress and egress carry PLAINTEXT, with "
           "no TLS and no attestation; this mode exists for benchmarks only";
  }
  if (auto st = g->ResolveCapturePorts(); !st.ok()) return st;
  // One issuer and verifier per endpoint, shared by every reactor; attesting endpoints report
  // whether their certificate is available through readiness (and the logs).
  tunnel::TunnelTimeouts timeouts;
  auto make_shared = [&](const config::RaOptions& ra, const std::string& id,
                         const std::string& json_path) -> absl::StatusOr<tunnel::RaShared> {
    std::function<void(bool, const std::string&)> on_status;
    if (ra.attest) {
      Readiness* readiness = &g->readiness_;
      int cond = readiness->Register(absl::StrCat(json_path, ": attestation evidence"),
                                     "RA-TLS certificate not issued yet");
      on_status = [readiness, cond](bool ready, const std::string& reason) {
        readiness->Set(cond, ready, reason);
      };
    }
    auto shared = tunnel::MakeRaShared(ra, id, timeouts, std::move(on_status));
    if (!shared.ok()) {
      return absl::Status(shared.status().code(),
                          absl::StrCat(json_path, ": ", shared.status().message()));
    }
    return shared;
  };
  for (const auto& in : config.ingress) {
    auto shared = make_shared(in.ra, in.id, in.json_path);
    if (!shared.ok()) return shared.status();
    if (in.ohttp && in.ohttp->spelling == config::OhttpSpelling::kEncapInHttp) {
      auto encap = tunnel::HttpEncap::Create(in.ohttp->path_rewrites);
      if (!encap.ok()) {
        return absl::Status(encap.status().code(), absl::StrCat(in.json_path, ".encap_in_http.",
                                                                encap.status().message()));
      }
      shared->encap = std::move(*encap);
    }
    g->ingress_ra_.push_back(std::move(*shared));
  }
  for (const auto& eg : config.egress) {
    auto shared = make_shared(eg.ra, eg.id, eg.json_path);
    if (!shared.ok()) return shared.status();
    if (eg.ohttp && eg.ohttp->spelling == config::OhttpSpelling::kDecapFromHttp) {
      auto decap = tunnel::HttpDecap::Create(eg.ohttp->allow_non_tng_traffic_regexes);
      if (!decap.ok()) {
        return absl::Status(decap.status().code(), absl::StrCat(eg.json_path, ".decap_from_http.",
                                                                decap.status().message()));
      }
      shared->decap = std::move(*decap);
    }
    g->egress_ra_.push_back(std::move(*shared));
  }
  for (int i = 0; i < n; ++i) {
    auto pr = std::make_unique<PerReactor>();
    if (auto st = g->BuildReactor(*pr, i); !st.ok()) return st;
    g->reactors_.push_back(std::move(pr));
  }
  return g;
}

// Every netfilter endpoint gets its listen_port, or the first free one from 40000 upward (as TNG),
// skipping ports other endpoints configured or were given: listeners use SO_REUSEPORT, so two
// endpoints on one port would silently share it.
absl::Status Gateway::ResolveCapturePorts() {
  std::set<uint16_t> taken;
  for (const auto& in : config_.ingress) {
    if (in.netfilter && in.netfilter->listen_port) taken.insert(*in.netfilter->listen_port);
  }
  for (const auto& eg : config_.egress) {
    if (eg.netfilter && eg.netfilter->listen_port) taken.insert(*eg.netfilter->listen_port);
  }
  auto add = [&](netfilter::Direction dir, size_t index, const config::NetfilterOptions& nf,
                 const std::string& json_path) -> absl::Status {
    uint16_t port = nf.listen_port.value_or(0);
    for (uint32_t first = 40000; port == 0;) {
      auto picked = netfilter::PickFreePort(CaptureListenHost(dir), static_cast<uint16_t>(first));
      if (!picked.ok()) {
        return absl::Status(picked.status().code(),
                            absl::StrCat(json_path, ".netfilter: ", picked.status().message()));
      }
      if (taken.insert(*picked).second) {
        port = *picked;
      } else if (*picked == 65535) {
        return absl::ResourceExhaustedError(
            absl::StrCat(json_path, ".netfilter: no free listen port from 40000 to 65535"));
      } else {
        first = *picked + 1u;
      }
    }
    capture_specs_.push_back(netfilter::RuleSpec{dir, static_cast<uint32_t>(index), port, nf});
    return absl::OkStatus();
  };
  for (size_t i = 0; i < config_.ingress.size(); ++i) {
    const auto& in = config_.ingress[i];
    if (!in.netfilter) continue;
    if (auto st = add(netfilter::Direction::kIngress, i, *in.netfilter, in.json_path); !st.ok()) {
      return st;
    }
  }
  for (size_t i = 0; i < config_.egress.size(); ++i) {
    const auto& eg = config_.egress[i];
    if (!eg.netfilter) continue;
    if (auto st = add(netfilter::Direction::kEgress, i, *eg.netfilter, eg.json_path); !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
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
                         const std::string& json_path,
                         const tunnel::RaShared& shared) -> absl::StatusOr<tunnel::RaTls*> {
    auto ra = tunnel::RaTls::Create(ra_opts, role, shared);
    if (!ra.ok()) {
      return absl::Status(ra.status().code(), absl::StrCat(json_path, ": ", ra.status().message()));
    }
    (*ra)->set_bench_plaintext(run_.bench_plain_tunnel);
    (*ra)->set_encap(shared.encap);
    (*ra)->set_decap(shared.decap);
    (*ra)->set_ktls_mode(run_.ktls);
    pr.ra_tls.push_back(std::move(*ra));
    return pr.ra_tls.back().get();
  };

  for (size_t i = 0; i < config_.ingress.size(); ++i) {
    const auto& in = config_.ingress[i];
    if (!in.mapping) continue;
    auto ra = make_ra_tls(in.ra, crypto::TlsRole::kClient, in.json_path, ingress_ra_[i]);
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
  for (size_t i = 0; i < config_.ingress.size(); ++i) {
    const auto& in = config_.ingress[i];
    if (!in.socks5) continue;
    auto ra = make_ra_tls(in.ra, crypto::TlsRole::kClient, in.json_path, ingress_ra_[i]);
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
  for (size_t i = 0; i < config_.ingress.size(); ++i) {
    const auto& in = config_.ingress[i];
    if (!in.http_proxy) continue;
    auto ra = make_ra_tls(in.ra, crypto::TlsRole::kClient, in.json_path, ingress_ra_[i]);
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
  for (size_t i = 0; i < config_.egress.size(); ++i) {
    const auto& eg = config_.egress[i];
    if (!eg.mapping) continue;
    auto ra = make_ra_tls(eg.ra, crypto::TlsRole::kServer, eg.json_path, egress_ra_[i]);
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
  // Netfilter endpoints: their rules (installed once, in Start) send captured connections here.
  for (const netfilter::RuleSpec& spec : capture_specs_) {
    const bool is_ingress = spec.direction == netfilter::Direction::kIngress;
    const config::RaOptions& ra_opts =
        is_ingress ? config_.ingress[spec.id].ra : config_.egress[spec.id].ra;
    const std::string& json_path =
        is_ingress ? config_.ingress[spec.id].json_path : config_.egress[spec.id].json_path;
    const std::string& id = is_ingress ? config_.ingress[spec.id].id : config_.egress[spec.id].id;
    const std::string name = absl::StrCat(json_path, ".netfilter");
    auto ra = make_ra_tls(ra_opts, is_ingress ? crypto::TlsRole::kClient : crypto::TlsRole::kServer,
                          json_path, is_ingress ? ingress_ra_[spec.id] : egress_ra_[spec.id]);
    if (!ra.ok()) return ra.status();
    auto fd =
        ListenTcp(*SocketAddress::FromLiteral(CaptureListenHost(spec.direction), spec.listen_port));
    if (!fd.ok()) {
      return absl::Status(fd.status().code(), absl::StrCat(name, ": ", fd.status().message()));
    }
    Acceptor::Handler handler;
    if (is_ingress) {
      // TPROXY hands connections only to transparent listeners.
      if (auto st = netfilter::SetIpTransparent(fd->get()); !st.ok()) {
        return absl::Status(st.code(), absl::StrCat(name, ": ", st.message()));
      }
      ingress::NetfilterTarget t{id, spec.listen_port, spec.options.so_mark};
      auto ep = std::make_unique<ingress::NetfilterIngress>(r, std::move(t), **ra, timeouts);
      ingress::NetfilterIngress* raw = ep.get();
      pr.netfilter_ingress.push_back(std::move(ep));
      handler = [raw](UniqueFd c) { Spawn(raw->Serve(std::move(c))); };
    } else {
      egress::NetfilterTarget t{id, spec.listen_port, spec.options.so_mark};
      auto ep = std::make_unique<egress::NetfilterEgress>(r, std::move(t), **ra, timeouts);
      egress::NetfilterEgress* raw = ep.get();
      pr.netfilter_egress.push_back(std::move(ep));
      handler = [raw](UniqueFd c) { Spawn(raw->Serve(std::move(c))); };
    }
    pr.acceptors.push_back(
        std::make_unique<Acceptor>(r, std::move(*fd), std::move(handler), std::move(name)));
  }
  // The control interface is one listener for the process, on the first reactor.
  if (index == 0 && config_.control.restful) {
    auto addr = ListenAddress(*config_.control.restful);
    if (!addr.ok()) return addr.status();
    auto fd = ListenTcp(*addr);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(),
                          absl::StrCat("control_interface.restful: ", fd.status().message()));
    }
    pr.control = std::make_unique<control::RestfulControl>(r, std::move(*fd), readiness_);
    TNG_LOG(Info, "control").Kv("address", addr->ToString())
        << "control interface listening (GET /livez, /readyz)";
  }
  return absl::OkStatus();
}

// Before any listener accepts: rules a killed gateway left are removed, ours go in (all or
// nothing), and the capabilities only installing needed are given up.
absl::Status Gateway::InstallCaptureRules() {
  if (capture_specs_.empty()) return absl::OkStatus();
  if (auto st = netfilter::NetfilterRules::RemoveStale(); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("removing stale capture rules: ", st.message()));
  }
  auto rules = netfilter::NetfilterRules::Install(capture_specs_);
  if (!rules.ok()) {
    return absl::Status(rules.status().code(),
                        absl::StrCat("installing capture rules: ", rules.status().message()));
  }
  capture_rules_ = std::move(*rules);
  for (const auto& spec : capture_specs_) {
    TNG_LOG(Info, "netfilter")
            .Kv("direction",
                spec.direction == netfilter::Direction::kIngress ? "ingress" : "egress")
            .Kv("id", spec.id)
            .Kv("listen_port", spec.listen_port)
            .Kv("so_mark", spec.options.so_mark)
        << "capture rules installed";
  }
  if (auto st = netfilter::DropToCaptureCapabilities(); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("dropping capabilities: ", st.message()));
  }
  TNG_LOG(Info, "security") << "capabilities dropped: only CAP_NET_ADMIN and CAP_NET_RAW kept "
                               "(to remove the capture rules at exit)";
  return absl::OkStatus();
}

Gateway::~Gateway() {
  BeginDrain();
  ForceCloseAll();
  Join();
  RemoveCaptureRules();
}

void Gateway::RemoveCaptureRules() {
  if (!capture_rules_) return;
  if (auto st = capture_rules_->Remove(); !st.ok()) {
    TNG_LOG(Error, "netfilter").Kv("error", st.ToString()) << "removing the capture rules failed";
    return;  // the destructor of NetfilterRules tries once more
  }
  capture_rules_.reset();
  TNG_LOG(Info, "netfilter") << "capture rules removed";
}

size_t Gateway::listener_count() const {
  return reactors_.empty() ? 0 : reactors_.front()->acceptors.size();
}

absl::Status Gateway::Start() {
  if (auto st = InstallCaptureRules(); !st.ok()) return st;
  // Attestation material is made off the reactors, from now on.
  for (auto* list : {&ingress_ra_, &egress_ra_}) {
    for (auto& shared : *list) {
      if (shared.issuer) shared.issuer->Start();
    }
  }
  for (auto& pr : reactors_) {
    Reactor* r = pr->reactor.get();
    for (auto& a : pr->acceptors) {
      Acceptor* acc = a.get();
      r->Post([acc] { acc->Start(); });
      r->AddDrainHook([acc] { acc->Stop(); });  // before the thread starts
    }
    if (control::RestfulControl* control = pr->control.get()) {
      r->Post([control] { control->Start(); });  // stops by itself when the reactor drains
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
