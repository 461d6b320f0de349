// endpoints/config: the effective configuration printed by `tng check`: TNG's newest schema with
// defaults spelled out, legacy forms rewritten, secrets redacted, and stable when parsed again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "endpoints/config/schema.h"

namespace tng::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Print(const std::string& text) {
  absl::StatusOr<GatewayOptions> options = ParseConfig(text, "t.json");
  EXPECT_TRUE(options.ok()) << options.status();
  return options.ok() ? DescribeEffectiveConfig(*options) : "";
}

TEST(ConfigPrintTest, LegacyConfigIsPrintedInTheNewestSchemaWithDefaults) {
  std::string printed = Print(R"({
    "admin_bind": {"port": 9901},
    "add_ingress": [{"mapping": {"in": {"port": 10001}, "out": {"host": "127.0.0.1", "port": 20001}},
                     "verify": {"as_addr": "http://as/", "as_is_grpc": true,
                                "policy_ids": ["default"]}}],
    "add_egress": [{"netfilter": {"capture_dst": {"port": 30001}}, "decap_from_http": true,
                    "attest": {"aa_addr": "unix:///tmp/attestation.sock"}}]
  })");
  EXPECT_EQ(printed, R"({
  "control_interface": {
    "restful": {
      "host": "0.0.0.0",
      "port": 9901
    }
  },
  "add_ingress": [
    {
      "mapping": {
        "rules": [
          {
            "in": {
              "host": "0.0.0.0",
              "port": 10001
            },
            "out": {
              "host": "127.0.0.1",
              "port": 20001
            }
          }
        ]
      },
      "rats_tls": {
        "multiplex": false
      },
      "verify": {
        "model": "background_check",
        "as_provider": "coco",
        "as_type": "grpc",
        "as_addr": "http://as/",
        "policy_ids": [
          "default"
        ],
        "verify_signer_transparency": false,
        "skip_as_token_cert_verify": false
      }
    }
  ],
  "add_egress": [
    {
      "netfilter": {
        "capture_dst": [
          {
            "port": 30001
          }
        ],
        "capture_local_traffic": false,
        "capture_cgroup": [],
        "nocapture_cgroup": [],
        "so_mark": 565
      },
      "decap_from_http": true,
      "attest": {
        "model": "background_check",
        "aa_provider": "coco",
        "aa_type": "uds",
        "aa_addr": "unix:///tmp/attestation.sock",
        "refresh_interval": 600
      }
    }
  ]
})");
}

TEST(ConfigPrintTest, PortRangesPrintBothEnds) {
  std::string printed = Print(R"({"add_egress": [{"mapping": {"rules": [
      {"in": {"port": 20010, "port_end": 20020}, "out": {"host": "10.0.0.1", "port": 30010,
                                                          "port_end": 30020}}]},
      "no_ra": true}]})");
  EXPECT_THAT(printed, HasSubstr(R"("port": 20010,
              "port_end": 20020)"));
  EXPECT_THAT(printed, HasSubstr(R"("port": 30010,
              "port_end": 30020)"));
}

TEST(ConfigPrintTest, SecretsAreRedacted) {
  std::string printed = Print(R"({"add_ingress": [
      {"socks5": {"proxy_listen": {"port": 1080}, "auth": {"username": "u", "password": "hunter2"}},
       "verify": {"as_provider": "ita", "api_key": "ita-secret", "policy_ids": []}}]})");
  EXPECT_THAT(printed, Not(HasSubstr("hunter2")));
  EXPECT_THAT(printed, Not(HasSubstr("ita-secret")));
  EXPECT_THAT(printed, HasSubstr(R"x("password": "(redacted)")x"));
  EXPECT_THAT(printed, HasSubstr(R"x("api_key": "(redacted)")x"));
}

TEST(ConfigPrintTest, EmptyConfigurationPrintsEmptyLists) {
  EXPECT_EQ(Print("{}"), "{\n  \"add_ingress\": [],\n  \"add_egress\": []\n}");
}

// Parsing the printed configuration gives back the same configuration, for every shape.
TEST(ConfigPrintTest, PrintedConfigurationsParseToTheSameOptions) {
  const char* configs[] = {
      R"({"control_interface": {"ttrpc": {"path": "/run/tng.sock"}},
          "metric": {"exporters": [{"type": "falcon", "server_url": "http://f", "endpoint": "n",
                                    "tags": {"a": "b"}}, {"type": "stdout", "step": 3}]},
          "trace": {"exporters": [{"type": "otlp", "protocol": "grpc", "endpoint": "http://t",
                                   "headers": {"k": "v"}}]}})",
      R"({"add_ingress": [
          {"http_proxy": {"proxy_listen": {"host": "::", "port": 41000},
                          "dst_filters": [{"domain": "*"}, {"domain_regex": "a.*", "port": 1,
                                           "port_end": 2}, {"ip": "1.2.3.4"},
                                          {"ip_cidr": "10.0.0.0/8"}, {"port": 443}]},
           "ohttp": {"path_rewrites": [{"match_regex": "^/(.*)$", "substitution": "/$1"}],
                     "header_passthrough": {"request_headers": "all"}, "tls": true},
           "no_ra": true},
          {"netfilter": {"capture_dst": [{"ipset": "s"}, {"host": "1.2.3.4", "port": 1}],
                         "capture_cgroup": ["/a"], "listen_port": 50000, "so_mark": 1},
           "quic": {}, "attest": {"model": "passport", "aa_type": "builtin", "as_type": "builtin",
                                  "attestation_policy": {"type": "path", "path": "/p.rego"},
                                  "reference_values": [{"type": "slsa", "payload": {
                                    "type": "inline", "content": {"rv_list": []}}}]}},
          {"hook": {"capture_dst": {"port": 80}}, "rats_tls": {"multiplex": true},
           "verify": {"model": "passport", "as_provider": "ita"}},
          {"mapping_udp": {"in": {"port": 5000}, "out": {"host": "u.example", "port": 5001}},
           "quic": {"max_datagram_size": 1350}, "no_ra": true}]})",
      R"({"add_egress": [
          {"hook": {"capture_listen": {"port": 8080, "redirect_to_port": 48080},
                    "capture_local_traffic": true},
           "verify": {"model": "passport", "as_addr": "http://as/", "as_headers": {"A": "b"},
                      "policy_ids": ["x"], "trusted_certs_paths": ["/c.pem"]}},
          {"netfilter": {}, "decap_from_http": {"allow_non_tng_traffic_regexes": ["/h"]},
           "direct_forward": [{"http_path": "/p/.*"}],
           "attest": {"aa_provider": "ita_asr", "asr_addr": "http://asr"}},
          {"mapping": {"in": {"port": 1}, "out": {"host": "h", "port": 2}},
           "ohttp": {"cors": {"allow_methods": ["POST"]},
                     "key": {"source": "peer_shared", "host": "10.0.0.1", "no_ra": true},
                     "header_passthrough": {"response_headers": ["x"]}},
           "verify": {"as_type": "builtin"}}]})",
  };
  for (const char* config : configs) {
    SCOPED_TRACE(config);
    std::string once = Print(config);
    ASSERT_FALSE(once.empty());
    EXPECT_EQ(Print(once), once);
  }
}

}  // namespace
}  // namespace tng::config
