// The effective configuration for `tng check`: GatewayOptions written back as TNG's newest JSON
// schema, with every default spelled out.
#include <string>
#include <vector>

#include "core/json.h"
#include "endpoints/config/schema.h"

namespace tng::config {
namespace {

using json::Cat;

constexpr std::string_view kRedacted = "(redacted)";

// A pretty printer with two-space indents: Key() names the next value inside an object.
class Writer {
 public:
  Writer& Begin(char open) {
    BeforeValue();
    out_ += open;
    stack_.push_back({open == '{' ? '}' : ']', 0});
    return *this;
  }
  Writer& End() {
    Level level = stack_.back();
    stack_.pop_back();
    if (level.count > 0) NewLine();
    out_ += level.close;
    return *this;
  }
  Writer& Key(std::string_view key) {
    BeforeValue();
    out_ += Cat(json::Quote(key), ": ");
    after_key_ = true;
    return *this;
  }
  Writer& String(std::string_view s) { return Raw(json::Quote(s)); }
  Writer& Number(uint64_t n) { return Raw(std::to_string(n)); }
  Writer& Bool(bool b) { return Raw(b ? "true" : "false"); }
  Writer& Raw(std::string_view json) {
    BeforeValue();
    out_ += json;
    return *this;
  }
  Writer& Strings(const std::vector<std::string>& items) {
    Begin('[');
    for (const std::string& s : items) String(s);
    return End();
  }
  Writer& Pairs(const StringPairs& pairs) {
    Begin('{');
    for (const auto& [k, v] : pairs) Key(k).String(v);
    return End();
  }
  std::string Take() { return std::move(out_); }

 private:
  struct Level {
    char close;
    size_t count;
  };
  void NewLine() {
    out_ += '\n';
    out_.append(2 * stack_.size(), ' ');
  }
  void BeforeValue() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (stack_.empty()) return;
    if (stack_.back().count++ > 0) out_ += ",";
    NewLine();
  }

  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

void WriteHostPort(Writer& w, const HostPort& hp) {
  w.Begin('{').Key("host").String(hp.host).Key("port").Number(hp.port).End();
}

void WriteBuiltin(Writer& w, const BuiltinAsOptions& b) {
  w.Key("attestation_policy").Begin('{').Key("type").String(b.policy_type);
  if (b.policy_type == "inline") w.Key("content").String(b.policy_content);
  if (b.policy_type == "path") w.Key("path").String(b.policy_path);
  w.End();
  w.Key("reference_values").Begin('[');
  for (const BuiltinAsOptions::ReferenceValue& rv : b.reference_values) {
    w.Begin('{').Key("type").String(rv.type);
    w.Key("payload").Begin('{').Key("type").String(rv.payload_type);
    if (rv.payload_type == "inline") {
      w.Key("content").Raw(rv.payload_json);
    } else {
      w.Key("path").String(rv.payload_path);
    }
    w.End().End();
  }
  w.End();
}

void WriteAttest(Writer& w, const AttestOptions& a) {
  w.Begin('{').Key("model").String(a.model).Key("aa_provider").String(a.aa_provider);
  if (!a.aa_type.empty()) w.Key("aa_type").String(a.aa_type);
  if (!a.aa_addr.empty()) w.Key("aa_addr").String(a.aa_addr);
  if (!a.asr_addr.empty()) w.Key("asr_addr").String(a.asr_addr);
  w.Key("refresh_interval").Number(a.refresh_interval_s);
  if (a.model == "passport") {
    w.Key("as_provider").String(a.as_provider);
    if (a.as_provider == "ita") {
      w.Key("as_addr").String(a.as_addr.value_or(""));
      if (a.api_key) w.Key("api_key").String(kRedacted);
    } else {
      w.Key("as_type").String(a.as_type);
      if (a.as_type == "builtin") {
        WriteBuiltin(w, a.builtin);
      } else {
        w.Key("as_addr").String(a.as_addr.value_or(""));
        if (!a.as_headers.empty()) w.Key("as_headers").Pairs(a.as_headers);
      }
    }
    w.Key("policy_ids").Strings(a.policy_ids);
  }
  w.End();
}

void WriteVerify(Writer& w, const VerifyOptions& v) {
  w.Begin('{').Key("model").String(v.model).Key("as_provider").String(v.as_provider);
  if (v.as_provider == "ita") {
    if (v.model == "background_check") {
      w.Key("as_addr").String(v.as_addr);
      if (v.api_key) w.Key("api_key").String(kRedacted);
    }
    w.Key("ita_jwks_addr").String(v.ita_jwks_addr).Key("policy_ids").Strings(v.policy_ids);
    w.End();
    return;
  }
  w.Key("as_type").String(v.as_type);
  if (v.as_type == "builtin") {
    if (!v.policy_ids.empty()) w.Key("policy_ids").Strings(v.policy_ids);
    WriteBuiltin(w, v.builtin);
    w.End();
    return;
  }
  if (!v.as_addr.empty()) w.Key("as_addr").String(v.as_addr);
  if (!v.as_headers.empty()) w.Key("as_headers").Pairs(v.as_headers);
  w.Key("policy_ids").Strings(v.policy_ids);
  if (!v.trusted_certs_paths.empty()) w.Key("trusted_certs_paths").Strings(v.trusted_certs_paths);
  w.Key("verify_signer_transparency").Bool(v.verify_signer_transparency);
  w.Key("skip_as_token_cert_verify").Bool(v.skip_as_token_cert_verify);
  w.End();
}

// The no_ra / attest / verify members of an enclosing object.
void WriteRa(Writer& w, const RaOptions& ra) {
  if (ra.no_ra) w.Key("no_ra").Bool(true);
  if (ra.attest) WriteAttest(w.Key("attest"), *ra.attest);
  if (ra.verify) WriteVerify(w.Key("verify"), *ra.verify);
}

void WriteMapping(Writer& w, const MappingOptions& m) {
  w.Begin('{').Key("rules").Begin('[');
  for (const MappingRule& rule : m.rules) {
    w.Begin('{');
    w.Key("in").Begin('{').Key("host").String(rule.in.host).Key("port").Number(rule.in.port);
    if (rule.port_end != 0) w.Key("port_end").Number(rule.port_end);
    w.End();
    w.Key("out").Begin('{').Key("host").String(rule.out.host).Key("port").Number(rule.out.port);
    if (rule.port_end != 0)
      w.Key("port_end").Number(rule.out.port + (rule.port_end - rule.in.port));
    w.End();
    w.End();
  }
  w.End().End();
}

void WriteMappingUdp(Writer& w, const MappingUdpOptions& m) {
  w.Begin('{').Key("in");
  WriteHostPort(w, m.in);
  w.Key("out");
  WriteHostPort(w, m.out);
  w.Key("idle_timeout_secs").Number(m.idle_timeout_s).End();
}

void WriteFilters(Writer& w, const std::vector<EndpointFilter>& filters) {
  w.Key("dst_filters").Begin('[');
  for (const EndpointFilter& f : filters) {
    w.Begin('{');
    switch (f.match) {
      case EndpointFilter::Match::kAll:
        break;
      case EndpointFilter::Match::kDomain:
        w.Key("domain").String(f.pattern);
        break;
      case EndpointFilter::Match::kDomainRegex:
        w.Key("domain_regex").String(f.pattern);
        break;
      case EndpointFilter::Match::kIp:
        w.Key("ip").String(f.pattern);
        break;
      case EndpointFilter::Match::kIpCidr:
        w.Key("ip_cidr").String(f.pattern);
        break;
    }
    if (f.port) w.Key("port").Number(*f.port);
    if (f.port_end) w.Key("port_end").Number(*f.port_end);
    w.End();
  }
  w.End();
}

void WriteNetfilter(Writer& w, const NetfilterOptions& nf, bool egress) {
  w.Begin('{').Key("capture_dst").Begin('[');
  for (const CaptureDst& d : nf.capture_dst) {
    w.Begin('{');
    if (!d.host.empty()) w.Key("host").String(d.host);
    if (!d.ipset.empty()) w.Key("ipset").String(d.ipset);
    if (d.port) w.Key("port").Number(*d.port);
    if (d.port_end) w.Key("port_end").Number(*d.port_end);
    w.End();
  }
  w.End();
  if (egress) w.Key("capture_local_traffic").Bool(nf.capture_local_traffic);
  w.Key("capture_cgroup").Strings(nf.capture_cgroup);
  w.Key("nocapture_cgroup").Strings(nf.nocapture_cgroup);
  if (nf.listen_port) w.Key("listen_port").Number(*nf.listen_port);
  w.Key("so_mark").Number(nf.so_mark).End();
}

void WriteHeaderPassthrough(Writer& w, const std::optional<HeaderPassthrough>& hp) {
  if (!hp) return;
  w.Key("header_passthrough").Begin('{');
  for (auto [name, list] : {std::pair{"request_headers", &hp->request_headers},
                            std::pair{"response_headers", &hp->response_headers}}) {
    w.Key(name);
    if (list->all) {
      w.String("all");
    } else {
      w.Strings(list->names);
    }
  }
  w.End();
}

void WriteIngressOhttp(Writer& w, const IngressOhttpOptions& o) {
  w.Begin('{').Key("path_rewrites").Begin('[');
  for (const PathRewrite& rw : o.path_rewrites) {
    w.Begin('{').Key("match_regex").String(rw.match_regex);
    w.Key("substitution").String(rw.substitution).End();
  }
  w.End();
  // The HTTP camouflage has path_rewrites only; OHTTP settings given with it are printed (and
  // refused as not built yet) only when set.
  if (o.spelling == OhttpSpelling::kEncapInHttp) {
    if (o.path_default != "root") w.Key("path_default").String(o.path_default);
    WriteHeaderPassthrough(w, o.header_passthrough);
    if (o.tls) w.Key("tls").Bool(true);
    if (!o.tls_ca_certs.empty()) w.Key("tls_ca_certs").Strings(o.tls_ca_certs);
    w.End();
    return;
  }
  w.Key("path_default").String(o.path_default);
  WriteHeaderPassthrough(w, o.header_passthrough);
  w.Key("tls").Bool(o.tls).Key("tls_ca_certs").Strings(o.tls_ca_certs).End();
}

void WriteEgressOhttp(Writer& w, const EgressOhttpOptions& o) {
  if (o.spelling == OhttpSpelling::kDecapFromHttp && o.allow_non_tng_traffic_regexes.empty() &&
      !o.cors && !o.header_passthrough) {
    w.Bool(true);  // the HTTP camouflage with nothing else set, as the seed manual writes it
    return;
  }
  w.Begin('{');
  if (!o.allow_non_tng_traffic_regexes.empty()) {
    w.Key("allow_non_tng_traffic_regexes").Strings(o.allow_non_tng_traffic_regexes);
  }
  if (o.cors) {
    w.Key("cors").Begin('{');
    w.Key("allow_origins").Strings(o.cors->allow_origins);
    w.Key("allow_methods").Strings(o.cors->allow_methods);
    w.Key("allow_headers").Strings(o.cors->allow_headers);
    w.Key("expose_headers").Strings(o.cors->expose_headers);
    w.Key("allow_credentials").Bool(o.cors->allow_credentials).End();
  }
  if (o.spelling == OhttpSpelling::kDecapFromHttp) {
    // The HTTP camouflage: no OHTTP key.
    WriteHeaderPassthrough(w, o.header_passthrough);
    w.End();
    return;
  }
  const OhttpKeyOptions& k = o.key;
  w.Key("key").Begin('{').Key("source").String(k.source);
  if (k.source == "file") {
    w.Key("path").String(k.path);
  } else {
    w.Key("rotation_interval").Number(k.rotation_interval_s);
  }
  if (k.source == "peer_shared") {
    w.Key("host").String(k.host).Key("port").Number(k.port).Key("peers").Strings(k.peers);
    if (k.peers_file) w.Key("peers_file").String(*k.peers_file);
    WriteRa(w, k.ra);
  }
  w.End();
  WriteHeaderPassthrough(w, o.header_passthrough);
  w.End();
}

// rats_tls is the default transport; ohttp replaces it.
template <typename Ohttp>
void WriteTransport(Writer& w, const std::optional<Ohttp>& ohttp, bool multiplex,
                    void (*write_ohttp)(Writer&, const Ohttp&)) {
  if (ohttp) {
    const char* key = ohttp->spelling == OhttpSpelling::kEncapInHttp     ? "encap_in_http"
                      : ohttp->spelling == OhttpSpelling::kDecapFromHttp ? "decap_from_http"
                                                                         : "ohttp";
    write_ohttp(w.Key(key), *ohttp);
  } else {
    w.Key("rats_tls").Begin('{').Key("multiplex").Bool(multiplex).End();
  }
}

void WriteQuic(Writer& w, const std::optional<QuicOptions>& quic) {
  if (!quic) return;
  w.Key("quic").Begin('{');
  if (quic->max_datagram_size) w.Key("max_datagram_size").Number(*quic->max_datagram_size);
  w.End();
}

void WriteIngress(Writer& w, const IngressOptions& in) {
  w.Begin('{').Key(KindName(in));
  if (in.mapping) WriteMapping(w, *in.mapping);
  if (in.http_proxy) {
    w.Begin('{').Key("proxy_listen");
    WriteHostPort(w, in.http_proxy->proxy_listen);
    WriteFilters(w, in.http_proxy->dst_filters);
    w.End();
  }
  if (in.socks5) {
    w.Begin('{').Key("proxy_listen");
    WriteHostPort(w, in.socks5->proxy_listen);
    WriteFilters(w, in.socks5->dst_filters);
    if (in.socks5->auth) {
      w.Key("auth").Begin('{').Key("username").String(in.socks5->auth->first);
      w.Key("password").String(kRedacted).End();
    }
    w.End();
  }
  if (in.netfilter) WriteNetfilter(w, *in.netfilter, /*egress=*/false);
  if (in.hook) {
    w.Begin('{').Key("capture_dst").Begin('[');
    for (const IngressHookOptions::Dst& d : in.hook->capture_dst) {
      w.Begin('{');
      if (!d.host.empty()) w.Key("host").String(d.host);
      w.Key("port").Number(d.port);
      if (d.port_end) w.Key("port_end").Number(*d.port_end);
      w.End();
    }
    w.End();
    if (in.hook->proxy_port) w.Key("proxy_port").Number(*in.hook->proxy_port);
    w.Key("proxy_listen").String(in.hook->proxy_listen);
    w.Key("capture_local_traffic").Bool(in.hook->capture_local_traffic).End();
  }
  if (in.mapping_udp) WriteMappingUdp(w, *in.mapping_udp);
  WriteTransport(w, in.ohttp, in.multiplex, &WriteIngressOhttp);
  WriteQuic(w, in.quic);
  WriteRa(w, in.ra);
  w.End();
}

void WriteEgress(Writer& w, const EgressOptions& eg) {
  w.Begin('{').Key(KindName(eg));
  if (eg.mapping) WriteMapping(w, *eg.mapping);
  if (eg.netfilter) WriteNetfilter(w, *eg.netfilter, /*egress=*/true);
  if (eg.hook) {
    w.Begin('{').Key("capture_listen").Begin('[');
    for (const EgressHookOptions::Listen& l : eg.hook->capture_listen) {
      w.Begin('{');
      if (!l.host.empty()) w.Key("host").String(l.host);
      if (!l.ifname.empty()) w.Key("ifname").String(l.ifname);
      w.Key("port").Number(l.port);
      if (l.port_end) w.Key("port_end").Number(*l.port_end);
      if (l.redirect_to_port) w.Key("redirect_to_port").Number(*l.redirect_to_port);
      if (l.redirect_to_port_end) w.Key("redirect_to_port_end").Number(*l.redirect_to_port_end);
      w.End();
    }
    w.End().Key("capture_local_traffic").Bool(eg.hook->capture_local_traffic).End();
  }
  if (eg.mapping_udp) WriteMappingUdp(w, *eg.mapping_udp);
  WriteTransport(w, eg.ohttp, eg.multiplex, &WriteEgressOhttp);
  if (eg.direct_forward) {
    w.Key("direct_forward").Begin('[');
    for (const DirectForwardRule& rule : *eg.direct_forward) {
      w.Begin('{').Key("http_path").String(rule.http_path).End();
    }
    w.End();
  }
  WriteQuic(w, eg.quic);
  WriteRa(w, eg.ra);
  w.End();
}

void WriteExporters(Writer& w, std::string_view key,
                    const std::optional<std::vector<ExporterOptions>>& exporters, bool metric) {
  if (!exporters) return;
  w.Key(key).Begin('{').Key("exporters").Begin('[');
  for (const ExporterOptions& e : *exporters) {
    w.Begin('{').Key("type").String(e.type);
    if (e.type == "falcon") {
      w.Key("server_url").String(e.server_url).Key("endpoint").String(e.endpoint);
      w.Key("tags").Pairs(e.tags);
    }
    if (e.type == "oltp") {
      w.Key("protocol").String(e.protocol).Key("endpoint").String(e.endpoint);
      if (e.headers) w.Key("headers").Pairs(*e.headers);
    }
    if (metric) w.Key("step").Number(e.step_s);
    w.End();
  }
  w.End().End();
}

}  // namespace

std::string DescribeEffectiveConfig(const GatewayOptions& options) {
  Writer w;
  w.Begin('{');
  if (options.control.restful || options.control.ttrpc_path) {
    w.Key("control_interface").Begin('{');
    if (options.control.restful) WriteHostPort(w.Key("restful"), *options.control.restful);
    if (options.control.ttrpc_path) {
      w.Key("ttrpc").Begin('{').Key("path").String(*options.control.ttrpc_path).End();
    }
    w.End();
  }
  WriteExporters(w, "metric", options.metric_exporters, /*metric=*/true);
  WriteExporters(w, "trace", options.trace_exporters, /*metric=*/false);
  w.Key("add_ingress").Begin('[');
  for (const IngressOptions& in : options.ingress) WriteIngress(w, in);
  w.End();
  w.Key("add_egress").Begin('[');
  for (const EgressOptions& eg : options.egress) WriteEgress(w, eg);
  w.End();
  w.End();
  return w.Take();
}

}  // namespace tng::config
