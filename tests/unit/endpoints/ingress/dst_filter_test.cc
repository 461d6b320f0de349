// dst_filters: TNG's matching rules (Envoy-style domain wildcards, unanchored regexes, IPv4
// addresses and CIDRs, port ranges, "no filters: everything is tunnelled"), our IPv6 extension,
// and the configuration errors, which name the filter.
#include "endpoints/ingress/dst_filter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tng::ingress {
namespace {

using Match = config::EndpointFilter::Match;

config::EndpointFilter F(Match match, std::string pattern, std::optional<uint16_t> port = {},
                         std::optional<uint16_t> port_end = {}) {
  config::EndpointFilter f;
  f.match = match;
  f.pattern = std::move(pattern);
  f.port = port;
  f.port_end = port_end;
  return f;
}

DstFilter Make(std::vector<config::EndpointFilter> filters) {
  auto f = DstFilter::Create(filters);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::move(*f) : DstFilter();
}

std::string Error(std::vector<config::EndpointFilter> filters) {
  auto f = DstFilter::Create(filters);
  return f.ok() ? "created" : std::string(f.status().message());
}

Destination Host(std::string_view host, uint16_t port) { return Destination::FromHost(host, port); }

TEST(DstFilter, NoFiltersTunnelsEverything) {
  DstFilter none = Make({});
  EXPECT_TRUE(none.Matches(Host("example.com", 80)));
  EXPECT_TRUE(none.Matches(Host("10.0.0.1", 1)));
  EXPECT_TRUE(none.Matches(Host("::1", 65535)));
}

TEST(DstFilter, PortOnlyFilterMatchesNamesAndAddresses) {
  DstFilter f = Make({F(Match::kAll, "", 9991)});
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("10.0.0.1", 9991)));
  EXPECT_TRUE(f.Matches(Host("[2001:db8::1]", 9991)));
  EXPECT_FALSE(f.Matches(Host("www.foo.com", 9992)));
}

// TNG matches domain patterns against the host text, so "*" takes addresses too (seed 001's
// cachefs example: `nc -X connect -x 127.0.0.1:41000 127.0.0.1 9991` goes through the tunnel).
TEST(DstFilter, DomainStarAloneMatchesAnyHostAddressesIncluded) {
  DstFilter f = Make({F(Match::kDomain, "*", 9991)});
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("*.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("192.168.1.1", 9991)));
  EXPECT_TRUE(f.Matches(Host("[2001:db8::1]", 9991)));
  EXPECT_FALSE(f.Matches(Host("192.168.1.1", 9992)));
  EXPECT_FALSE(f.Matches(Host("www.foo.com", 9992)));
}

TEST(DstFilter, DomainSuffixWildcard) {
  DstFilter f = Make({F(Match::kDomain, "*.foo.com", 9991)});
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("a.b.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("*.foo.com", 9991)));
  EXPECT_FALSE(f.Matches(Host("foo.com", 9991)));
  EXPECT_FALSE(f.Matches(Host("www.bar.com", 9991)));
  EXPECT_FALSE(f.Matches(Host("www.foo.com.evil", 9991)));
  // Envoy: the wildcard stands for at least one character.
  EXPECT_FALSE(f.Matches(Host(".foo.com", 9991)));
  DstFilter dash = Make({F(Match::kDomain, "*-bar.foo.com")});
  EXPECT_TRUE(dash.Matches(Host("baz-bar.foo.com", 1)));
  EXPECT_FALSE(dash.Matches(Host("-bar.foo.com", 1)));
}

TEST(DstFilter, DomainPrefixWildcard) {
  DstFilter f = Make({F(Match::kDomain, "www.foo.*", 9991)});
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("www.foo.cn", 9991)));
  EXPECT_FALSE(f.Matches(Host("*.foo.com", 9991)));
  EXPECT_FALSE(f.Matches(Host("www.bar.com", 9991)));
  EXPECT_FALSE(f.Matches(Host("www.foo.", 9991)));
}

TEST(DstFilter, DomainExactIgnoresCaseAndTrailingDot) {
  DstFilter f = Make({F(Match::kDomain, "www.foo.com", 9991)});
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(f.Matches(Host("WWW.Foo.COM", 9991)));
  EXPECT_TRUE(f.Matches(Host("www.foo.com.", 9991)));
  EXPECT_FALSE(f.Matches(Host("www.bar.com", 9991)));
  EXPECT_FALSE(f.Matches(Host("xwww.foo.com", 9991)));
  DstFilter upper = Make({F(Match::kDomain, "*.FOO.com")});
  EXPECT_TRUE(upper.Matches(Host("api.foo.COM", 443)));
}

TEST(DstFilter, DomainRegexIsUnanchoredLikeTng) {
  DstFilter any = Make({F(Match::kDomainRegex, ".*", 9991)});
  EXPECT_TRUE(any.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(any.Matches(Host("*.foo.com", 9991)));
  EXPECT_TRUE(any.Matches(Host("10.0.0.1", 9991)));  // the host text, addresses included

  DstFilter foo = Make({F(Match::kDomainRegex, R"(.*foo\.com)", 9991)});
  EXPECT_TRUE(foo.Matches(Host("www.foo.com", 9991)));
  EXPECT_TRUE(foo.Matches(Host("www.sub.foo.com", 9991)));
  EXPECT_TRUE(foo.Matches(Host("new-foo.com", 9991)));
  EXPECT_FALSE(foo.Matches(Host("www.bar.com", 9991)));
  // TNG uses Regex::is_match, which finds the pattern anywhere in the name.
  EXPECT_TRUE(foo.Matches(Host("foo.com.example.org", 9991)));
  DstFilter anchored = Make({F(Match::kDomainRegex, R"(^(.+\.)?foo\.com$)")});
  EXPECT_TRUE(anchored.Matches(Host("a.foo.com", 1)));
  EXPECT_FALSE(anchored.Matches(Host("foo.com.example.org", 1)));
}

TEST(DstFilter, PortRange) {
  DstFilter f = Make({F(Match::kDomain, "*", 30000, 30063)});
  EXPECT_FALSE(f.Matches(Host("www.foo.com", 29999)));
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 30000)));
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 30031)));
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 30063)));
  EXPECT_FALSE(f.Matches(Host("www.foo.com", 30064)));
  DstFilter one = Make({F(Match::kDomain, "*.example.com", 30000, 30000)});
  EXPECT_TRUE(one.Matches(Host("api.example.com", 30000)));
  EXPECT_FALSE(one.Matches(Host("api.other.com", 30000)));
  EXPECT_FALSE(one.Matches(Host("api.example.com", 30001)));
}

TEST(DstFilter, NoPortMeansAnyPort) {
  DstFilter f = Make({F(Match::kDomain, "*")});
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 1)));
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 80)));
  EXPECT_TRUE(f.Matches(Host("www.foo.com", 65535)));
}

TEST(DstFilter, Ipv4AddressAndCidr) {
  DstFilter ip = Make({F(Match::kIp, "10.0.0.1", 80)});
  EXPECT_TRUE(ip.Matches(Host("10.0.0.1", 80)));
  EXPECT_FALSE(ip.Matches(Host("10.0.0.2", 80)));
  EXPECT_FALSE(ip.Matches(Host("10.0.0.1", 81)));
  EXPECT_FALSE(ip.Matches(Destination::Domain("api.example.com", 80)));
  // As in TNG, a name is matched as a name even when it spells an address.
  EXPECT_FALSE(ip.Matches(Destination::Domain("10.0.0.1", 80)));

  DstFilter cidr = Make({F(Match::kIpCidr, "10.0.0.0/24")});
  EXPECT_TRUE(cidr.Matches(Host("10.0.0.1", 80)));
  EXPECT_TRUE(cidr.Matches(Host("10.0.0.254", 443)));
  EXPECT_FALSE(cidr.Matches(Host("10.0.1.1", 80)));
  EXPECT_FALSE(cidr.Matches(Host("::1", 80)));

  DstFilter odd = Make({F(Match::kIpCidr, "172.16.5.9/12")});  // host bits: the network
  EXPECT_TRUE(odd.Matches(Host("172.31.255.255", 1)));
  EXPECT_FALSE(odd.Matches(Host("172.32.0.0", 1)));
  DstFilter all = Make({F(Match::kIpCidr, "0.0.0.0/0")});
  EXPECT_TRUE(all.Matches(Host("8.8.8.8", 53)));
  DstFilter host = Make({F(Match::kIpCidr, "192.168.1.7")});
  EXPECT_TRUE(host.Matches(Host("192.168.1.7", 1)));
  EXPECT_FALSE(host.Matches(Host("192.168.1.6", 1)));
}

TEST(DstFilter, Ipv6AddressAndCidr) {
  DstFilter ip = Make({F(Match::kIp, "2001:db8::1")});
  EXPECT_TRUE(ip.Matches(Host("[2001:db8::1]", 443)));
  EXPECT_TRUE(ip.Matches(Host("2001:db8:0:0::1", 443)));
  EXPECT_FALSE(ip.Matches(Host("2001:db8::2", 443)));
  EXPECT_FALSE(ip.Matches(Host("10.0.0.1", 443)));

  DstFilter cidr = Make({F(Match::kIpCidr, "fd00:1234::/33")});
  EXPECT_TRUE(cidr.Matches(Host("fd00:1234:7fff::9", 1)));
  EXPECT_FALSE(cidr.Matches(Host("fd00:1234:8000::9", 1)));
}

TEST(DstFilter, Ipv4MappedIpv6IsTheIpv4Host) {
  DstFilter f = Make({F(Match::kIpCidr, "10.0.0.0/8")});
  EXPECT_TRUE(f.Matches(Host("::ffff:10.1.2.3", 80)));
  EXPECT_FALSE(f.Matches(Host("::ffff:11.1.2.3", 80)));
}

TEST(DstFilter, AnyFilterOfManyMatches) {
  DstFilter f = Make({F(Match::kDomain, "*.internal", 443), F(Match::kIp, "10.0.0.1", 80),
                      F(Match::kAll, "", 9000, 9009)});
  EXPECT_TRUE(f.Matches(Host("db.internal", 443)));
  EXPECT_FALSE(f.Matches(Host("db.internal", 80)));
  EXPECT_TRUE(f.Matches(Host("10.0.0.1", 80)));
  EXPECT_TRUE(f.Matches(Host("example.com", 9005)));
  EXPECT_FALSE(f.Matches(Host("example.com", 443)));
  EXPECT_EQ(f.size(), 3u);
}

TEST(DstFilter, ErrorsNameTheFilter) {
  EXPECT_NE(Error({F(Match::kDomain, "a.com"), F(Match::kDomain, "www.*.com")})
                .find("dst_filters[1].domain: 'www.*.com'"),
            std::string::npos);
  EXPECT_NE(Error({F(Match::kDomain, "**.com")}).find("dst_filters[0].domain"), std::string::npos);
  const std::string regex = Error({F(Match::kDomainRegex, "*")});
  EXPECT_NE(regex.find("dst_filters[0].domain_regex: '*' is not a valid RE2"), std::string::npos)
      << regex;
  EXPECT_NE(Error({F(Match::kIp, "10.0.0.256")}).find("dst_filters[0].ip: '10.0.0.256'"),
            std::string::npos);
  EXPECT_NE(Error({F(Match::kIpCidr, "10.0.0.0/33")}).find("prefix length '33'"),
            std::string::npos);
  EXPECT_NE(Error({F(Match::kIpCidr, "10.0.0.0/")}).find("dst_filters[0].ip_cidr"),
            std::string::npos);
  EXPECT_NE(Error({F(Match::kIpCidr, "::/129")}).find("from 0 to 128"), std::string::npos);
  EXPECT_NE(
      Error({F(Match::kAll, "", 90, 80)}).find("dst_filters[0].port_end: 80 is below port 90"),
      std::string::npos);
  EXPECT_NE(Error({F(Match::kAll, "", std::nullopt, 80)}).find("needs \"port\""),
            std::string::npos);
}

TEST(Destination, FromHostAndToString) {
  EXPECT_EQ(Host("10.0.0.1", 80).kind, Destination::Kind::kIpv4);
  EXPECT_EQ(Host("[::1]", 80).kind, Destination::Kind::kIpv6);
  EXPECT_EQ(Host("::1", 80).kind, Destination::Kind::kIpv6);
  EXPECT_EQ(Host("example.com", 80).kind, Destination::Kind::kDomain);
  EXPECT_EQ(Host("10.0.0.1", 80).ToString(), "10.0.0.1:80");
  EXPECT_EQ(Host("[2001:db8::1]", 443).ToString(), "[2001:db8::1]:443");
  EXPECT_EQ(Host("example.com", 8080).ToString(), "example.com:8080");
}

}  // namespace
}  // namespace tng::ingress
