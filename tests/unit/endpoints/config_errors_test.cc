// endpoints/config: invalid configurations, each with the message a user should see: where
// (source:line:column and JSON path) and what was expected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "endpoints/config/schema.h"

namespace tng::config {
namespace {

using ::testing::HasSubstr;

// A minimal valid mapping for building cases around.
#define MAP_IN_OUT \
  R"("mapping": {"in": {"port": 10001}, "out": {"host": "127.0.0.1", "port": 20001}})"

struct ErrorCase {
  const char* name;
  const char* json;
  const char* message;  // expected substring of the error message
};

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, IsRejectedWithAPreciseMessage) {
  absl::StatusOr<GatewayOptions> options = ParseConfig(GetParam().json, "t.json");
  ASSERT_FALSE(options.ok()) << "accepted: " << GetParam().json;
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Syntax, ConfigErrorTest,
    ::testing::Values(
        ErrorCase{"MissingComma", "{\"add_ingress\": []\n\"add_egress\": []}",
                  "t.json:2:1: syntax error: expected ',' or '}' after the value of "
                  "\"add_ingress\", found \"add_egress\" (missing comma?)"},
        ErrorCase{"TrailingComma", "{\"add_ingress\": [],}",
                  "t.json:1:20: syntax error: trailing comma before '}'"},
        ErrorCase{"TrailingGarbage", "{\"add_ingress\": []} }",
                  "t.json:1:21: syntax error: unexpected '}' after the end of the JSON document"},
        ErrorCase{"UnterminatedComment", "{\"add_ingress\": [] /* note",
                  "t.json:1:20: syntax error: unterminated /* comment"},
        ErrorCase{"UnclosedBracket", "{\"add_ingress\": [\n",
                  "syntax error: unexpected end of input: '[' opened at line 1, column 17 is "
                  "never closed"},
        ErrorCase{"DuplicateKey", "{\"add_ingress\": [], \"add_ingress\": []}",
                  "t.json:1:21: add_ingress: duplicate key \"add_ingress\" (first defined at line "
                  "1, column 2)"},
        ErrorCase{"Fragment", "\"no_ra\": true", "this is a fragment of an object"},
        ErrorCase{"NotAnObject", "[]",
                  "t.json:1:1: expected a JSON object at the top level, got an array"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Keys, ConfigErrorTest,
    ::testing::Values(
        ErrorCase{"TopLevelTypo", "{\"add_ingres\": []}",
                  "t.json:1:2: add_ingres: unknown key \"add_ingres\"; did you mean "
                  "\"add_ingress\"?"},
        ErrorCase{"KindTypo", "{\"add_ingress\": [{\"mappnig\": {}, \"no_ra\": true}]}",
                  "t.json:1:19: add_ingress[0].mappnig: unknown key \"mappnig\"; did you mean "
                  "\"mapping\"?"},
        ErrorCase{"NestedTypo",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"prot\": 1}}, \"no_ra\": true}]}",
                  "add_ingress[0].mapping.in.prot: unknown key \"prot\"; did you mean \"port\"?"},
        ErrorCase{"RaTypo",
                  "{\"add_egress\": [{" MAP_IN_OUT ", \"attest\": {\"aa_adr\": \"unix:///a\"}}]}",
                  "add_egress[0].attest.aa_adr: unknown key \"aa_adr\"; did you mean "
                  "\"aa_addr\"?"},
        ErrorCase{"NoCloseMatchListsKeys", "{\"listen\": 1}",
                  "listen: unknown key \"listen\" (expected one of: add_ingress, add_egress, "
                  "control_interface, metric, trace, admin_bind)"},
        ErrorCase{"MetricsIsMetric", "{\"metrics\": {}}", "did you mean \"metric\"?"},
        ErrorCase{"CaptureLocalTrafficIsEgressOnly",
                  "{\"add_ingress\": [{\"netfilter\": {\"capture_local_traffic\": true}, "
                  "\"no_ra\": true}]}",
                  "add_ingress[0].netfilter.capture_local_traffic: unknown key"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Types, ConfigErrorTest,
    ::testing::Values(
        ErrorCase{"PortAsString",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"port\": \"10001\"}, \"out\": "
                  "{\"host\": \"127.0.0.1\", \"port\": 20001}}, \"no_ra\": true}]}",
                  "t.json:1:46: add_ingress[0].mapping.in.port: expected an integer 1-65535, got "
                  "string \"10001\""},
        ErrorCase{"PortOutOfRange",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"port\": 70000}, \"out\": "
                  "{\"host\": \"127.0.0.1\", \"port\": 20001}}, \"no_ra\": true}]}",
                  "add_ingress[0].mapping.in.port: expected an integer 1-65535, got number 70000"},
        ErrorCase{"PortZero",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"port\": 0}, \"out\": "
                  "{\"host\": \"127.0.0.1\", \"port\": 20001}}, \"no_ra\": true}]}",
                  "expected an integer 1-65535, got number 0"},
        ErrorCase{"PortFloat",
                  "{\"add_egress\": [{\"netfilter\": {\"listen_port\": 40000.5}, "
                  "\"no_ra\": true}]}",
                  "add_egress[0].netfilter.listen_port: expected an integer 1-65535, got number "
                  "40000.5"},
        ErrorCase{"NoRaAsString", "{\"add_ingress\": [{" MAP_IN_OUT ", \"no_ra\": \"yes\"}]}",
                  "add_ingress[0].no_ra: expected true or false, got string \"yes\""},
        ErrorCase{"IngressListNotArray", "{\"add_ingress\": {" MAP_IN_OUT "}}",
                  "t.json:1:17: add_ingress: expected an array, got an object"},
        ErrorCase{"ListenHostIsNotAName",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"host\": \"localhost\", \"port\": "
                  "1}, \"out\": {\"host\": \"127.0.0.1\", \"port\": 2}}, \"no_ra\": true}]}",
                  "add_ingress[0].mapping.in.host: expected an IP address (like \"0.0.0.0\", "
                  "\"127.0.0.1\" or \"::\"), got string \"localhost\""},
        ErrorCase{"ModelTypo",
                  "{\"add_ingress\": [{" MAP_IN_OUT ", \"verify\": {\"model\": \"passprt\", "
                  "\"as_addr\": \"http://as/\", \"policy_ids\": []}}]}",
                  "add_ingress[0].verify.model: expected \"background_check\" or \"passport\", "
                  "got string \"passprt\""},
        ErrorCase{"AaAddrNotUnix",
                  "{\"add_egress\": [{" MAP_IN_OUT ", \"attest\": {\"aa_addr\": \"/run/aa\"}}]}",
                  "add_egress[0].attest.aa_addr: expected a unix socket address like "
                  "\"unix:///run/attestation-agent.sock\", got string \"/run/aa\""},
        ErrorCase{"Socks5FiltersMustBeAnArray",
                  "{\"add_ingress\": [{\"socks5\": {\"proxy_listen\": {\"port\": 1080}, "
                  "\"dst_filters\": {\"domain\": \"*\"}}, \"no_ra\": true}]}",
                  "add_ingress[0].socks5.dst_filters: expected an array, got an object"},
        ErrorCase{"NullRequired",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"port\": null}, \"out\": "
                  "{\"host\": \"127.0.0.1\", \"port\": 20001}}, \"no_ra\": true}]}",
                  "add_ingress[0].mapping.in.port: expected an integer 1-65535, got null"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Semantics, ConfigErrorTest,
    ::testing::Values(
        ErrorCase{"MissingOutHost",
                  "{\"add_ingress\": [{\"mapping\": {\"in\": {\"port\": 1},\n"
                  " \"out\": {\"port\": 2}}, \"no_ra\": true}]}",
                  "t.json:2:9: add_ingress[0].mapping.out.host: missing required key \"host\""},
        ErrorCase{"TwoKinds",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"http_proxy\": {\"proxy_listen\": {\"port\": 41000}}, \"no_ra\": true}]}",
                  "add_ingress[0].http_proxy: an ingress has exactly one kind, but both "
                  "\"mapping\" and \"http_proxy\" are set"},
        ErrorCase{"NoKind", "{\"add_egress\": [{\"no_ra\": true}]}",
                  "t.json:1:17: add_egress[0]: missing the egress kind: expected one of "
                  "\"mapping\", \"netfilter\", \"hook\" or \"mapping_udp\""},
        ErrorCase{"NoRaWithAttest",
                  "{\"add_egress\": [{" MAP_IN_OUT
                  ", \"no_ra\": true, \"attest\": {\"aa_addr\": \"unix:///a\"}}]}",
                  "add_egress[0].attest: cannot be combined with \"no_ra\": true"},
        ErrorCase{"NoRaWithVerify",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"as_addr\": \"http://as/\", \"policy_ids\": []}, "
                  "\"no_ra\": true}]}",
                  "add_ingress[0].verify: cannot be combined with \"no_ra\": true"},
        ErrorCase{"NoRaFalseAndNothingElse",
                  "{\"add_ingress\": [{" MAP_IN_OUT ", \"no_ra\": false}]}",
                  "add_ingress[0]: remote attestation is not configured: set \"attest\", "
                  "\"verify\" or both"},
        ErrorCase{"PortEndBeforePort",
                  "{\"add_ingress\": [{\"mapping\": {\"rules\": [{\"in\": {\"port\": 10010, "
                  "\"port_end\": 10000}, \"out\": {\"host\": \"127.0.0.1\", \"port\": 1}}]}, "
                  "\"no_ra\": true}]}",
                  "add_ingress[0].mapping.rules[0].in.port_end: port_end (10000) must be >= "
                  "port (10010)"},
        ErrorCase{"RangeLengthsDiffer",
                  "{\"add_ingress\": [{\"mapping\": {\"rules\": [{\"in\": {\"port\": 10000, "
                  "\"port_end\": 10010}, \"out\": {\"host\": \"127.0.0.1\", \"port\": 20000, "
                  "\"port_end\": 20005}}]}, \"no_ra\": true}]}",
                  "add_ingress[0].mapping.rules[0].out.port: the in range has 11 port(s) "
                  "(10000-10010) but the out range has 6 (20000-20005)"},
        ErrorCase{"DuplicateListenPortAcrossEndpoints",
                  "{\"add_ingress\": [{" MAP_IN_OUT ", \"no_ra\": true}],\n"
                  " \"add_egress\": [{\"mapping\": {\"in\": {\"host\": \"127.0.0.1\", "
                  "\"port\": 10001}, \"out\": {\"host\": \"127.0.0.1\", \"port\": 30001}}, "
                  "\"no_ra\": true}]}",
                  "t.json:2:66: add_egress[0].mapping.in.port: tcp port 10001 on 127.0.0.1 is "
                  "already used by add_ingress[0].mapping.in.port (line 1, column 46, 0.0.0.0)"},
        ErrorCase{"OverlappingRules",
                  "{\"add_egress\": [{\"mapping\": {\"rules\": [{\"in\": {\"port\": 20010, "
                  "\"port_end\": 20020}, \"out\": {\"host\": \"h\", \"port\": 1, \"port_end\": "
                  "11}}, {\"in\": {\"port\": 20015}, \"out\": {\"host\": \"h\", \"port\": 2}}]}, "
                  "\"no_ra\": true}]}",
                  "add_egress[0].mapping.rules[1].in.port: tcp port 20015 on 0.0.0.0 is already "
                  "used by add_egress[0].mapping.rules[0].in.port"},
        ErrorCase{"ControlPortClashesWithProxy",
                  "{\"control_interface\": {\"restful\": {\"port\": 41000}}, \"add_ingress\": "
                  "[{\"http_proxy\": {\"proxy_listen\": {\"port\": 41000}}, \"no_ra\": true}]}",
                  "control_interface.restful.port: tcp port 41000 on 0.0.0.0 is already used by "
                  "add_ingress[0].http_proxy.proxy_listen.port"},
        ErrorCase{"EmptyRules",
                  "{\"add_ingress\": [{\"mapping\": {\"rules\": []}, \"no_ra\": true}]}",
                  "add_ingress[0].mapping.rules: expected at least one rule, got an empty array"},
        ErrorCase{"RulesAndLegacyPair",
                  "{\"add_ingress\": [{\"mapping\": {\"rules\": [], \"in\": {\"port\": 1}}, "
                  "\"no_ra\": true}]}",
                  "add_ingress[0].mapping.in: use either \"rules\" or the single \"in\"/\"out\" "
                  "pair, not both"},
        ErrorCase{"OhttpAndRatsTls",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"ohttp\": {}, \"rats_tls\": {}, \"no_ra\": true}]}",
                  "add_ingress[0].rats_tls: \"rats_tls\" and \"ohttp\" are mutually exclusive"},
        ErrorCase{"OhttpAndItsOldName",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"ohttp\": {}, \"encap_in_http\": {}, \"no_ra\": true}]}",
                  "add_ingress[0].encap_in_http: \"encap_in_http\" is the old name of \"ohttp\""},
        ErrorCase{"DstFilterAndDstFilters",
                  "{\"add_ingress\": [{\"http_proxy\": {\"proxy_listen\": {\"port\": 1}, "
                  "\"dst_filter\": {}, \"dst_filters\": []}, \"no_ra\": true}]}",
                  "add_ingress[0].http_proxy.dst_filter: \"dst_filter\" is the old name of "
                  "\"dst_filters\""},
        ErrorCase{"FilterWithTwoMatchers",
                  "{\"add_ingress\": [{\"http_proxy\": {\"proxy_listen\": {\"port\": 1}, "
                  "\"dst_filters\": [{\"domain\": \"a\", \"ip\": \"1.2.3.4\"}]}, "
                  "\"no_ra\": true}]}",
                  "add_ingress[0].http_proxy.dst_filters[0].ip: a filter matches on one of"},
        ErrorCase{"CaptureHostAndIpset",
                  "{\"add_egress\": [{\"netfilter\": {\"capture_dst\": {\"host\": \"1.2.3.4\", "
                  "\"ipset\": \"s\"}}, \"no_ra\": true}]}",
                  "add_egress[0].netfilter.capture_dst.ipset: \"host\" and \"ipset\" cannot both "
                  "be set"},
        ErrorCase{"CaptureNothing",
                  "{\"add_egress\": [{\"netfilter\": {\"capture_dst\": [{}]}, \"no_ra\": true}]}",
                  "add_egress[0].netfilter.capture_dst[0]: a capture rule needs at least one of"},
        ErrorCase{"PortEndWithoutPort",
                  "{\"add_egress\": [{\"netfilter\": {\"capture_dst\": [{\"host\": \"1.2.3.4\", "
                  "\"port_end\": 5}]}, \"no_ra\": true}]}",
                  "capture_dst[0].port_end: \"port_end\" needs \"port\""},
        ErrorCase{"WebPageInject",
                  "{\"add_ingress\": [{" MAP_IN_OUT ", \"web_page_inject\": true, "
                  "\"no_ra\": true}]}",
                  "add_ingress[0].web_page_inject: web_page_inject is deprecated and not "
                  "supported"},
        ErrorCase{"HookRedirectRangeMismatch",
                  "{\"add_egress\": [{\"hook\": {\"capture_listen\": [{\"port\": 8080, "
                  "\"port_end\": 8090, \"redirect_to_port\": 48080, \"redirect_to_port_end\": "
                  "48085}]}, \"no_ra\": true}]}",
                  "add_egress[0].hook.capture_listen[0].redirect_to_port_end: the redirect range "
                  "has 6 port(s) but the captured range has 11"},
        ErrorCase{"KeyFileWithoutPath",
                  "{\"add_egress\": [{" MAP_IN_OUT
                  ", \"ohttp\": {\"key\": {\"source\": \"file\"}}, \"no_ra\": true}]}",
                  "add_egress[0].ohttp.key.path: missing required key \"path\""},
        ErrorCase{"KeyFieldOfAnotherSource",
                  "{\"add_egress\": [{" MAP_IN_OUT
                  ", \"ohttp\": {\"key\": {\"path\": \"/k\"}}, \"no_ra\": true}]}",
                  "add_egress[0].ohttp.key.path: \"path\" is not used with \"source\": "
                  "\"self_generated\""},
        ErrorCase{"OltpMetricNeedsStep",
                  "{\"metric\": {\"exporters\": [{\"type\": \"oltp\", \"protocol\": \"grpc\", "
                  "\"endpoint\": \"http://c\"}]}}",
                  "metric.exporters[0].step: missing required key \"step\""}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    RemoteAttestation, ConfigErrorTest,
    ::testing::Values(
        ErrorCase{"PolicyIdsNeedPassportOnAttester",
                  "{\"add_egress\": [{" MAP_IN_OUT
                  ", \"attest\": {\"aa_addr\": \"unix:///a\", \"policy_ids\": [\"p\"]}}]}",
                  "add_egress[0].attest.policy_ids: \"policy_ids\" is only used with \"model\": "
                  "\"passport\""},
        ErrorCase{"VerifyNeedsPolicyIds",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"as_addr\": \"http://as/\"}}]}",
                  "add_ingress[0].verify.policy_ids: missing required key \"policy_ids\""},
        ErrorCase{"BackgroundCheckVerifyNeedsAsAddr",
                  "{\"add_ingress\": [{" MAP_IN_OUT ", \"verify\": {\"policy_ids\": []}}]}",
                  "add_ingress[0].verify.as_addr: missing required key \"as_addr\""},
        ErrorCase{"PassportVerifyNeedsATrustAnchor",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"model\": \"passport\", \"policy_ids\": []}}]}",
                  "add_ingress[0].verify: passport verification needs \"as_addr\" or "
                  "\"trusted_certs_paths\""},
        ErrorCase{"SkipCertVerifyWithCerts",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"as_addr\": \"http://as/\", \"policy_ids\": [], "
                  "\"trusted_certs_paths\": [\"/c\"], \"skip_as_token_cert_verify\": true}}]}",
                  "add_ingress[0].verify.trusted_certs_paths: cannot be set when "
                  "\"skip_as_token_cert_verify\" is true"},
        ErrorCase{"AsHeadersWithoutAsAddr",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"model\": \"passport\", \"policy_ids\": [], "
                  "\"trusted_certs_paths\": [\"/c\"], \"as_headers\": {\"A\": \"b\"}}}]}",
                  "add_ingress[0].verify.as_headers: \"as_headers\" needs \"as_addr\""},
        ErrorCase{"AsTypeAndAsIsGrpc",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"as_addr\": \"http://as/\", \"policy_ids\": [], "
                  "\"as_type\": \"grpc\", \"as_is_grpc\": true}}]}",
                  "add_ingress[0].verify.as_is_grpc: \"as_is_grpc\" is the old form of "
                  "\"as_type\""},
        ErrorCase{"AsrAddrForUdsProvider",
                  "{\"add_egress\": [{" MAP_IN_OUT
                  ", \"attest\": {\"aa_addr\": \"unix:///a\", \"asr_addr\": \"http://x\"}}]}",
                  "add_egress[0].attest.asr_addr: \"asr_addr\" is not used (aa_provider "
                  "\"coco\", aa_type \"uds\")"},
        ErrorCase{"BuiltinPolicyInlineNeedsContent",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"as_type\": \"builtin\", \"attestation_policy\": {\"type\": "
                  "\"inline\"}}}]}",
                  "add_ingress[0].verify.attestation_policy.content: missing required key "
                  "\"content\""},
        ErrorCase{"ItaVerifierHasNoAsType",
                  "{\"add_ingress\": [{" MAP_IN_OUT
                  ", \"verify\": {\"as_provider\": \"ita\", \"as_type\": \"grpc\"}}]}",
                  "add_ingress[0].verify.as_type: \"as_type\" is only used with \"as_provider\": "
                  "\"coco\""},
        ErrorCase{"PeerSharedKeyNeedsRa",
                  "{\"add_egress\": [{" MAP_IN_OUT
                  ", \"ohttp\": {\"key\": {\"source\": \"peer_shared\"}}, \"no_ra\": true}]}",
                  "add_egress[0].ohttp.key: remote attestation is not configured"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tng::config
