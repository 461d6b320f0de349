// TNG's JSON configuration: parsing it (the newest 2.x schema and the older forms, with `//` and
// `/* */` comments) into GatewayOptions, and describing the result for `tng check`.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "endpoints/config/options.h"

namespace tng::config {

// Errors read "<source_name>:<line>:<column>: <json path>: <what was wrong / expected>", for
// example `tng.json:7:19: add_ingress[0].mapping.in.port: expected an integer 1-65535, got string
// "80"`. Unknown keys get a "did you mean" hint. Features this build cannot run yet are parsed and
// validated all the same, and listed in GatewayOptions::unsupported.
absl::StatusOr<GatewayOptions> ParseConfig(std::string_view json_text,
                                           std::string_view source_name);

// The effective configuration in TNG's newest schema (legacy forms rewritten, defaults filled in),
// pretty printed with two-space indents and no trailing newline. Secrets (api_key, socks5
// password) are redacted; otherwise parsing the output gives the same options again.
std::string DescribeEffectiveConfig(const GatewayOptions& options);

// One line per entry of `unsupported`: "<json path>: <feature> is not implemented yet".
std::string DescribeUnsupported(const GatewayOptions& options);

}  // namespace tng::config
