// endpoints/config: every configuration example of the product documents parses. The examples are
// extracted at test time from $TNG_SHARED_DIR/seeds/*.txt (```json blocks and the JSON inside
// `cargo run launch --config-content='...'`); a few are also typed in here so that a clone without
// ../shared still checks them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "endpoints/config/schema.h"

#ifndef TNG_SOURCE_DIR
#error "TNG_SOURCE_DIR must name the repository root (set by tests/unit/endpoints/meson.build)"
#endif

namespace tng::config {
namespace {

using ::testing::IsEmpty;

// The mesh example of the Chinese scenario guide (002_*.txt) as published: a comma is missing
// between "add_ingress" and "add_egress".
constexpr const char* kMeshExample = R"({
    "add_ingress": [
        {
            "netfilter": {
                "capture_dst": {
                    "port": 9001
                }
            },
            "attest": {
                "aa_addr": "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"
            },
            "verify": {
                "as_addr": "<attestation-service-url>",
                "policy_ids": [
                    "default"
                ]
            }
        }
    ]
    "add_egress": [
        {
            "netfilter": {
                "capture_dst": {
                    "port": 9001
                }
            },
            "attest": {
                "aa_addr": "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"
            },
            "verify": {
                "as_addr": "<attestation-service-url>",
                "policy_ids": [
                    "default"
                ]
            }
        }
    ]
}
)";
constexpr const char* kMeshError =
    ":20:5: syntax error: expected ',' or '}' after the value of \"add_ingress\", found "
    "\"add_egress\" (missing comma?)";

// Mapping ingress from the TNG manual (001_*.txt), with its Chinese `//` comment.
constexpr const char* kManualMappingIngress = R"({
  "add_ingress": [
    {
      "mapping": {
        "in": {
          "host": "0.0.0.0",  // 可选，默认为0.0.0.0
          "port": 10001
        },
        "out": {
          "host": "127.0.0.1",
          "port": 20001
        }
      },
      "verify": {
        "as_addr": "http://127.0.0.1:50004/",
        "policy_ids": [
          "default"
        ]
      }
    }
  ]
}
)";

// Egress with the oldest form of HTTP decapsulation, from the TNG manual (001_*.txt).
constexpr const char* kManualDecapEgress = R"({
  "add_egress": [
    {
      "mapping": {
        "in": {
          "host": "127.0.0.1",
          "port": 20001
        },
        "out": {
          "host": "127.0.0.1",
          "port": 30001
        }
      },
      "decap_from_http": true,
      "attest": {
        "aa_addr": "unix:///tmp/attestation.sock"
      }
    }
  ]
}
)";

// The printed configuration is itself a valid configuration that prints the same.
void ExpectStableEffectiveConfig(const GatewayOptions& options, const std::string& name) {
  std::string once = DescribeEffectiveConfig(options);
  absl::StatusOr<GatewayOptions> again = ParseConfig(once, name + " (effective)");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << once;
  EXPECT_EQ(DescribeEffectiveConfig(*again), once) << name;
  EXPECT_EQ(again->unsupported.size(), options.unsupported.size()) << name;
}

TEST(ConfigSeedsTest, TypedInManualExamplesParse) {
  absl::StatusOr<GatewayOptions> mapping = ParseConfig(kManualMappingIngress, "manual-mapping");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ASSERT_EQ(mapping->ingress.size(), 1u);
  EXPECT_EQ(mapping->ingress[0].mapping->rules[0].in.host, "0.0.0.0");
  EXPECT_EQ(mapping->ingress[0].mapping->rules[0].in.port, 10001);
  EXPECT_EQ(mapping->ingress[0].ra.verify->as_addr, "http://127.0.0.1:50004/");
  ExpectStableEffectiveConfig(*mapping, "manual-mapping");

  absl::StatusOr<GatewayOptions> decap = ParseConfig(kManualDecapEgress, "manual-decap");
  ASSERT_TRUE(decap.ok()) << decap.status();
  ASSERT_TRUE(decap->egress[0].ohttp.has_value());
  EXPECT_EQ(decap->egress[0].ohttp->spelling, OhttpSpelling::kDecapFromHttp);
  EXPECT_EQ(decap->egress[0].ra.attest->aa_addr, "unix:///tmp/attestation.sock");
  ExpectStableEffectiveConfig(*decap, "manual-decap");
}

TEST(ConfigSeedsTest, TypedInMeshExampleGetsThePreciseSyntaxError) {
  absl::StatusOr<GatewayOptions> mesh = ParseConfig(kMeshExample, "mesh.json");
  ASSERT_FALSE(mesh.ok());
  EXPECT_EQ(std::string(mesh.status().message()), std::string("mesh.json") + kMeshError);
}

struct Example {
  std::string name;   // "<file>#<n> (<where>)"
  bool mesh = false;  // the known-broken example
  std::string text;
};

// ```json blocks and --config-content='...' arguments, in file order.
std::vector<Example> ExtractExamples(const std::string& file, const std::string& content) {
  std::vector<Example> out;
  size_t json_blocks = 0;
  for (size_t at = content.find("```json\n"); at != std::string::npos;
       at = content.find("```json\n", at + 1)) {
    size_t start = at + 8;
    size_t end = content.find("\n```", start - 1);
    if (end == std::string::npos) break;
    size_t line = 1 + std::count(content.begin(), content.begin() + start, '\n');
    Example e;
    e.name = file + "#" + std::to_string(out.size()) + " (```json block at line " +
             std::to_string(line) + ")";
    e.mesh = file.starts_with("002_") && json_blocks == 0;
    e.text = content.substr(start, end + 1 - start);
    out.push_back(std::move(e));
    ++json_blocks;
  }
  const std::string marker = "--config-content='";
  for (size_t at = content.find(marker); at != std::string::npos;
       at = content.find(marker, at + 1)) {
    size_t start = at + marker.size();
    size_t end = content.find('\'', start);
    if (end == std::string::npos) break;
    size_t line = 1 + std::count(content.begin(), content.begin() + start, '\n');
    out.push_back({file + "#" + std::to_string(out.size()) + " (--config-content at line " +
                       std::to_string(line) + ")",
                   false, content.substr(start, end - start)});
  }
  return out;
}

// Some blocks show one part of an endpoint (`"attest": {...}`, `"no_ra": true`, a path_rewrites
// list). Such a fragment is completed into the smallest configuration it can belong to; returns
// "" for a fragment of unknown kind.
std::string CompleteFragment(const std::string& fragment, std::string& key) {
  size_t open = fragment.find('"');
  key = fragment.substr(open + 1, fragment.find('"', open + 1) - open - 1);
  const std::string head =
      R"({"add_ingress": [{"mapping": {"in": {"port": 10001}, "out": {"host": "127.0.0.1", "port": 20001}},)"
      "\n";
  if (key == "attest" || key == "verify" || key == "no_ra") return head + fragment + "\n}]}";
  if (key == "path_rewrites") {
    return head + "\"ohttp\": {\n" + fragment + "\n}, \"no_ra\": true}]}";
  }
  return "";
}

bool IsFragment(const std::string& text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '"';
}

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("TNG_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(TNG_SOURCE_DIR) / ".." / "shared";
}

TEST(ConfigSeedsTest, EveryExampleInTheSeedDocumentsParses) {
  std::filesystem::path seeds = SharedDir() / "seeds";
  if (!std::filesystem::is_directory(seeds)) {
    std::cout << "[ seeds    ] " << seeds
              << " not found (set TNG_SHARED_DIR); only the typed-in examples were checked\n";
    return;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  size_t checked = 0, fragments = 0, meshes = 0;
  for (const std::filesystem::path& path : files) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    for (Example& e : ExtractExamples(path.filename().string(), content.str())) {
      SCOPED_TRACE(e.name);
      ++checked;
      if (e.mesh) {
        ++meshes;
        absl::StatusOr<GatewayOptions> mesh = ParseConfig(e.text, e.name);
        ASSERT_FALSE(mesh.ok()) << "the mesh example was expected to miss a comma";
        EXPECT_EQ(std::string(mesh.status().message()), e.name + kMeshError);
        continue;
      }
      std::string text = e.text;
      std::string key;
      if (IsFragment(e.text)) {
        text = CompleteFragment(e.text, key);
        ASSERT_FALSE(text.empty())
            << "no rule to complete a fragment starting with \"" << key << "\":\n"
            << e.text;
        ++fragments;
        std::cout << "[ seeds    ] " << e.name << " is a fragment (\"" << key
                  << "\"); checked inside a minimal mapping ingress\n";
      }
      absl::StatusOr<GatewayOptions> options = ParseConfig(text, e.name);
      ASSERT_TRUE(options.ok()) << options.status() << "\n" << text;
      // A completed fragment must have contributed what it is about.
      if (key == "attest") {
        EXPECT_TRUE(options->ingress[0].ra.attest.has_value());
      } else if (key == "verify") {
        EXPECT_TRUE(options->ingress[0].ra.verify.has_value());
      } else if (key == "no_ra") {
        EXPECT_TRUE(options->ingress[0].ra.no_ra);
      } else if (key == "path_rewrites") {
        EXPECT_THAT(options->ingress[0].ohttp->path_rewrites, testing::Not(IsEmpty()));
      }
      ExpectStableEffectiveConfig(*options, e.name);
    }
  }
  std::cout << "[ seeds    ] checked " << checked << " examples (" << fragments << " fragments, "
            << meshes << " known-broken mesh example) from " << files.size() << " files in "
            << seeds << "\n";
  EXPECT_GT(checked, 0u) << "no examples found in " << seeds;
  bool has_002 = std::any_of(files.begin(), files.end(), [](const auto& p) {
    return p.filename().string().starts_with("002_");
  });
  if (has_002) {
    EXPECT_EQ(meshes, 1u);
  }
}

TEST(ConfigSeedsTest, TypedInExamplesMatchTheSeedFilesWhenPresent) {
  std::filesystem::path seeds = SharedDir() / "seeds";
  if (!std::filesystem::is_directory(seeds)) {
    std::cout << "[ seeds    ] " << seeds << " not found; nothing to compare\n";
    return;
  }
  size_t found = 0;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    std::ifstream in(entry.path());
    std::stringstream content;
    content << in.rdbuf();
    for (const Example& e : ExtractExamples(entry.path().filename().string(), content.str())) {
      for (const char* typed : {kMeshExample, kManualMappingIngress, kManualDecapEgress}) {
        if (e.text == typed) ++found;
      }
    }
  }
  std::cout << "[ seeds    ] " << found << " of 3 typed-in examples found verbatim in " << seeds
            << "\n";
  EXPECT_GE(found, 3u) << "a typed-in example no longer matches the seed documents";
}

}  // namespace
}  // namespace tng::config
