// Typed gateway options: what TNG's JSON configuration means, after parsing and defaulting.
// Only endpoints/config/schema*.cc knows the JSON; everything else reads these structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tng::config {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

struct HostPort {
  std::string host;  // literal IP or DNS name
  uint16_t port = 0;
};

// attestation_policy / reference_values of the builtin AS (verify with "as_type": "builtin").
struct BuiltinAsOptions {
  // "hardware_only" (alias "default"), "hardware_with_reference_values", "trust_all", "inline",
  // "path".
  std::string policy_type = "hardware_only";
  std::string policy_content;  // "inline": base64 rego
  std::string policy_path;     // "path"
  struct ReferenceValue {
    std::string type;          // "sample", "slsa", "release_manifest"
    std::string payload_type;  // "inline" or "path"
    std::string payload_json;  // "inline": the content, as compact JSON
    std::string payload_path;  // "path"
  };
  std::vector<ReferenceValue> reference_values;
};

// attest / verify / no_ra of one endpoint.
struct AttestOptions {
  // How evidence is obtained. aa_provider "coco" (default) uses aa_type "uds" (AA over ttrpc at
  // aa_addr) or "builtin"; "ita" uses aa_addr too; "coco_asr" / "ita_asr" use the REST API at
  // asr_addr (aa_type is empty for them).
  std::string aa_type = "uds";
  std::string aa_addr;                     // e.g. unix:///run/.../attestation-agent.sock
  std::string aa_provider = "coco";        // "coco", "ita", "coco_asr", "ita_asr"
  uint64_t refresh_interval_s = 600;       // 0 = fresh evidence per handshake
  std::string model = "background_check";  // or "passport"
  std::optional<std::string> as_addr;      // passport model: AS that turns evidence into a token
  std::vector<std::string> policy_ids;     // passport model
  std::string configfs_tsm_root = "/sys/kernel/config/tsm/report";  // aa_type builtin
  std::string json_path;  // where it came from, for messages

  std::string asr_addr;                // aa_provider coco_asr / ita_asr
  std::string as_provider = "coco";    // passport: "coco" or "ita"
  std::string as_type = "restful";     // passport, as_provider coco: "restful", "grpc", "builtin"
  StringPairs as_headers;              // passport, as_provider coco
  std::optional<std::string> api_key;  // passport, as_provider ita (else $ITA_API_KEY at run time)
  BuiltinAsOptions builtin;            // passport, as_type builtin
};

struct VerifyOptions {
  std::string model = "background_check";  // or "passport"
  std::string as_addr;  // empty: not configured (passport may verify with trusted_certs_paths)
  std::string as_type = "restful";  // "restful", "grpc" (legacy as_is_grpc: true), "builtin"
  std::vector<std::pair<std::string, std::string>> as_headers;
  std::vector<std::string> policy_ids;
  std::vector<std::string> trusted_certs_paths;
  std::string json_path;

  std::string as_provider = "coco";  // or "ita"
  bool verify_signer_transparency = false;
  bool skip_as_token_cert_verify = false;
  std::optional<std::string> api_key;  // as_provider ita, background check
  std::string ita_jwks_addr;           // as_provider ita
  BuiltinAsOptions builtin;            // as_type builtin
};

struct RaOptions {
  bool no_ra = false;
  std::optional<AttestOptions> attest;
  std::optional<VerifyOptions> verify;
};

// One port (or port range) of a mapping endpoint: in.port..in.port+n maps to out.port..out.port+n.
struct MappingRule {
  HostPort in;  // host defaults to 0.0.0.0
  HostPort out;
  uint16_t port_end = 0;  // 0 = single port; else last port of the in range (inclusive)
};

struct MappingOptions {
  std::vector<MappingRule> rules;  // the single in/out form becomes one rule
};

// A destination filter of http_proxy / socks5 ingress: at most one host matcher plus ports.
struct EndpointFilter {
  enum class Match { kAll, kDomain, kDomainRegex, kIp, kIpCidr };
  Match match = Match::kAll;
  std::string pattern;               // domain (with * wildcards), regex, IPv4 address or IPv4 CIDR
  std::optional<uint16_t> port;      // none: any port
  std::optional<uint16_t> port_end;  // inclusive; only with port
};

struct HttpProxyOptions {
  HostPort proxy_listen;                    // host defaults to 0.0.0.0
  std::vector<EndpointFilter> dst_filters;  // empty: everything enters the tunnel
};

struct Socks5Options {
  HostPort proxy_listen;
  std::vector<EndpointFilter> dst_filters;
  std::optional<std::pair<std::string, std::string>> auth;  // username, password
};

// netfilter capture_dst: at least one of host / ipset / port; host and ipset exclude each other.
struct CaptureDst {
  std::string host;   // IPv4 address or CIDR; empty: any
  std::string ipset;  // ipset name; empty: none
  std::optional<uint16_t> port;
  std::optional<uint16_t> port_end;  // inclusive; only with port
};

struct NetfilterOptions {
  std::vector<CaptureDst> capture_dst;  // egress: empty captures all TCP
  std::vector<std::string> capture_cgroup;
  std::vector<std::string> nocapture_cgroup;
  bool capture_local_traffic = false;   // egress only
  std::optional<uint16_t> listen_port;  // none: chosen at start (egress: from 40000 upward)
  uint32_t so_mark = 565;
};

// Ingress "hook" (LD_PRELOAD connect() interception, `tng exec` only).
struct IngressHookOptions {
  struct Dst {
    std::string host;  // IPv4 address or CIDR; empty: any
    uint16_t port = 0;
    std::optional<uint16_t> port_end;
  };
  std::vector<Dst> capture_dst;
  std::optional<uint16_t> proxy_port;  // none: picked at start
  std::string proxy_listen = "127.0.0.1";
  bool capture_local_traffic = false;
};

// Egress "hook" (LD_PRELOAD bind() interception, `tng exec` only).
struct EgressHookOptions {
  struct Listen {
    std::string host;    // IPv4 address; empty: any
    std::string ifname;  // empty: any interface
    uint16_t port = 0;
    std::optional<uint16_t> port_end;
    std::optional<uint16_t> redirect_to_port;  // none: picked at start
    std::optional<uint16_t> redirect_to_port_end;
  };
  std::vector<Listen> capture_listen;
  bool capture_local_traffic = false;
};

// UDP over QUIC datagrams, ingress or egress.
struct MappingUdpOptions {
  HostPort in;
  HostPort out;
  uint64_t idle_timeout_s = 30;
};

struct QuicOptions {
  std::optional<uint64_t> max_datagram_size;  // none: the QUIC library's default
};

struct PathRewrite {
  std::string match_regex;
  std::string substitution;
};

// request_headers / response_headers of ohttp.header_passthrough: "all" or a list.
struct HeaderList {
  bool all = false;
  std::vector<std::string> names;
};

struct HeaderPassthrough {
  HeaderList request_headers;
  HeaderList response_headers;
};

// Where OHTTP options came from: "ohttp", or the deprecated names that TNG >= 2.2.5 maps to it.
enum class OhttpSpelling { kOhttp, kEncapInHttp, kDecapFromHttp };

struct IngressOhttpOptions {
  std::vector<PathRewrite> path_rewrites;
  std::string path_default = "root";  // or "original"
  std::optional<HeaderPassthrough> header_passthrough;
  bool tls = false;  // outer POST over https
  std::vector<std::string> tls_ca_certs;
  OhttpSpelling spelling = OhttpSpelling::kOhttp;
};

struct CorsOptions {
  std::vector<std::string> allow_origins;
  std::vector<std::string> allow_methods;
  std::vector<std::string> allow_headers;
  std::vector<std::string> expose_headers;
  bool allow_credentials = false;
};

struct OhttpKeyOptions {
  std::string source = "self_generated";  // or "file", "peer_shared"
  uint64_t rotation_interval_s = 300;     // self_generated, peer_shared
  std::string path;                       // file
  // peer_shared
  std::string host = "0.0.0.0";
  uint16_t port = 8301;
  std::vector<std::string> peers;
  std::optional<std::string> peers_file;
  RaOptions ra;
};

struct EgressOhttpOptions {
  std::vector<std::string> allow_non_tng_traffic_regexes;  // deprecated; like direct_forward
  std::optional<CorsOptions> cors;
  OhttpKeyOptions key;
  std::optional<HeaderPassthrough> header_passthrough;
  OhttpSpelling spelling = OhttpSpelling::kOhttp;
};

struct DirectForwardRule {
  std::string http_path;  // regex on the request path
};

// Where not yet implemented features are recorded, so that `launch` can refuse them by name.
struct Unsupported {
  std::string json_path;
  std::string feature;
};

struct IngressOptions {
  std::string id;  // "ingress-<index>" unless configured
  std::string json_path;
  // Exactly one kind is set.
  std::optional<MappingOptions> mapping;
  std::optional<HttpProxyOptions> http_proxy;
  std::optional<Socks5Options> socks5;
  std::optional<NetfilterOptions> netfilter;
  std::optional<IngressHookOptions> hook;
  std::optional<MappingUdpOptions> mapping_udp;
  RaOptions ra;
  bool multiplex = false;                    // rats_tls.multiplex
  std::optional<IngressOhttpOptions> ohttp;  // exclusive with rats_tls
  std::optional<QuicOptions> quic;
};

struct EgressOptions {
  std::string id;
  std::string json_path;
  // Exactly one kind is set.
  std::optional<MappingOptions> mapping;
  std::optional<NetfilterOptions> netfilter;
  std::optional<EgressHookOptions> hook;
  std::optional<MappingUdpOptions> mapping_udp;
  RaOptions ra;
  bool multiplex = false;
  std::optional<EgressOhttpOptions> ohttp;  // exclusive with rats_tls
  std::optional<QuicOptions> quic;
  std::optional<std::vector<DirectForwardRule>> direct_forward;
};

struct ControlOptions {
  std::optional<HostPort> restful;        // control_interface.restful or legacy admin_bind
  std::optional<std::string> ttrpc_path;  // control_interface.ttrpc.path
};

// One exporter of `metric.exporters` or `trace.exporters`.
struct ExporterOptions {
  std::string type;  // "stdout", "falcon" (metric only), "oltp" (OpenTelemetry; "otlp" accepted)
  uint64_t step_s = 60;  // metric exporters
  // oltp
  std::string protocol;  // "http/protobuf", "http/json", "grpc"
  std::string endpoint;  // oltp: URL; falcon: the reporting endpoint name
  std::optional<StringPairs> headers;
  // falcon
  std::string server_url;
  StringPairs tags;
};

struct GatewayOptions {
  std::vector<IngressOptions> ingress;
  std::vector<EgressOptions> egress;
  ControlOptions control;
  std::optional<std::vector<ExporterOptions>> metric_exporters;  // `metric` present
  std::optional<std::vector<ExporterOptions>> trace_exporters;   // `trace` present
  std::vector<Unsupported> unsupported;  // non-empty: `launch` refuses, `check` lists them
};

inline std::string_view KindName(const IngressOptions& in) {
  if (in.mapping) return "mapping";
  if (in.http_proxy) return "http_proxy";
  if (in.socks5) return "socks5";
  if (in.netfilter) return "netfilter";
  if (in.hook) return "hook";
  if (in.mapping_udp) return "mapping_udp";
  return "";
}

inline std::string_view KindName(const EgressOptions& eg) {
  if (eg.mapping) return "mapping";
  if (eg.netfilter) return "netfilter";
  if (eg.hook) return "hook";
  if (eg.mapping_udp) return "mapping_udp";
  return "";
}

}  // namespace tng::config
