// The SOCKS5 wire format: RFC 1928 / RFC 1929 messages typed in byte by byte, every prefix of
// them (a message arriving in pieces), and the malformed inputs with the error each must name.
#include "endpoints/ingress/socks5_protocol.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tng::ingress::socks5 {
namespace {

using Bytes = std::vector<uint8_t>;

// Every strict prefix of a complete message asks for more, and never for fewer bytes than it has.
template <typename T>
void ExpectPrefixesNeedMore(Parsed<T> (*parse)(std::span<const uint8_t>), const Bytes& msg) {
  for (size_t n = 0; n < msg.size(); ++n) {
    auto p = parse(std::span(msg.data(), n));
    EXPECT_EQ(p.state, ParseState::kNeedMore) << "prefix of " << n << " bytes: " << p.error;
    EXPECT_GT(p.needed, n) << "prefix of " << n << " bytes";
    EXPECT_LE(p.needed, msg.size()) << "prefix of " << n << " bytes";
  }
}

TEST(Socks5Greeting, ParsesMethodsAndKeepsWhatFollows) {
  const Bytes msg = {0x05, 0x02, 0x00, 0x02};
  ExpectPrefixesNeedMore(ParseGreeting, msg);
  Bytes with_more = msg;
  with_more.push_back(0x01);  // the client's next message, sent ahead
  auto p = ParseGreeting(with_more);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.consumed, 4u);
  EXPECT_EQ(p.message.methods, (Bytes{0x00, 0x02}));
  EXPECT_TRUE(p.message.Offers(Method::kNoAuth));
  EXPECT_TRUE(p.message.Offers(Method::kUserPass));
}

TEST(Socks5Greeting, NoMethodsIsCompleteAndOffersNothing) {
  auto p = ParseGreeting(Bytes{0x05, 0x00});
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_FALSE(p.message.Offers(Method::kNoAuth));
}

TEST(Socks5Greeting, WrongVersionIsNamedAtByteZero) {
  auto p = ParseGreeting(Bytes{0x04, 0x01, 0x00, 0x50});  // a SOCKS4 CONNECT
  ASSERT_EQ(p.state, ParseState::kMalformed);
  EXPECT_NE(p.error.find("byte 0"), std::string::npos) << p.error;
  EXPECT_NE(p.error.find("0x04"), std::string::npos) << p.error;
  EXPECT_NE(p.error.find("SOCKS4"), std::string::npos) << p.error;
  // An HTTP request sent to the SOCKS port is refused at its first byte.
  EXPECT_EQ(ParseGreeting(Bytes{'G'}).state, ParseState::kMalformed);
}

TEST(Socks5Credentials, ParsesUsernameAndPassword) {
  const Bytes msg = {0x01, 0x04, 'u', 's', 'e', 'r', 0x03, 'p', 'w', 'd'};
  ExpectPrefixesNeedMore(ParseCredentials, msg);
  auto p = ParseCredentials(msg);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.consumed, msg.size());
  EXPECT_EQ(p.message.username, "user");
  EXPECT_EQ(p.message.password, "pwd");
}

TEST(Socks5Credentials, LongestUsernameAndEmptyPassword) {
  Bytes msg = {0x01, 0xff};
  msg.insert(msg.end(), 255, 'a');
  msg.push_back(0x00);
  ASSERT_EQ(msg.size(), 258u);
  auto p = ParseCredentials(msg);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.message.username, std::string(255, 'a'));
  EXPECT_EQ(p.message.password, "");
  EXPECT_LE(msg.size(), kMaxAuthRequestSize);
}

TEST(Socks5Credentials, MalformedOnesNameTheField) {
  auto wrong_version = ParseCredentials(Bytes{0x05, 0x01, 'u', 0x01, 'p'});
  ASSERT_EQ(wrong_version.state, ParseState::kMalformed);
  EXPECT_NE(wrong_version.error.find("sub-negotiation version 0x05"), std::string::npos)
      << wrong_version.error;
  auto empty_user = ParseCredentials(Bytes{0x01, 0x00, 0x01, 'p'});
  ASSERT_EQ(empty_user.state, ParseState::kMalformed);
  EXPECT_NE(empty_user.error.find("username length is 0"), std::string::npos) << empty_user.error;
}

TEST(Socks5Request, ConnectIpv4) {
  // CONNECT 192.0.2.10:8080
  const Bytes msg = {0x05, 0x01, 0x00, 0x01, 192, 0, 2, 10, 0x1f, 0x90};
  ExpectPrefixesNeedMore(ParseRequest, msg);
  auto p = ParseRequest(msg);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.consumed, msg.size());
  EXPECT_EQ(p.message.command, 0x01);
  EXPECT_EQ(p.message.address.type, AddressType::kIpv4);
  EXPECT_EQ(p.message.address.port, 8080);
  EXPECT_EQ(p.message.address.ToString(), "192.0.2.10:8080");
}

TEST(Socks5Request, ConnectIpv6) {
  // CONNECT [2001:db8::1]:443
  Bytes msg = {0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8};
  msg.insert(msg.end(), 11, 0x00);
  msg.push_back(0x01);
  msg.insert(msg.end(), {0x01, 0xbb});
  ExpectPrefixesNeedMore(ParseRequest, msg);
  auto p = ParseRequest(msg);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.consumed, 22u);
  EXPECT_EQ(p.message.address.type, AddressType::kIpv6);
  EXPECT_EQ(p.message.address.ToString(), "[2001:db8::1]:443");
}

TEST(Socks5Request, ConnectDomain) {
  const Bytes msg = {0x05, 0x01, 0x00, 0x03, 11,  'e', 'x', 'a',  'm',
                     'p',  'l',  'e',  '.',  'c', 'o', 'm', 0x00, 0x50};
  ExpectPrefixesNeedMore(ParseRequest, msg);
  auto p = ParseRequest(msg);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.message.address.type, AddressType::kDomain);
  EXPECT_EQ(p.message.address.domain, "example.com");
  EXPECT_EQ(p.message.address.ToString(), "example.com:80");
}

TEST(Socks5Request, OtherCommandsParseForTheHandlerToRefuse) {
  auto bind = ParseRequest(Bytes{0x05, 0x02, 0x00, 0x01, 127, 0, 0, 1, 0, 80});
  ASSERT_EQ(bind.state, ParseState::kComplete);
  EXPECT_EQ(bind.message.command, 0x02);
  auto unknown = ParseRequest(Bytes{0x05, 0x7f, 0x00, 0x01, 127, 0, 0, 1, 0, 80});
  ASSERT_EQ(unknown.state, ParseState::kComplete);
  EXPECT_EQ(unknown.message.command, 0x7f);
}

TEST(Socks5Request, MalformedOnesCarryTheirReply) {
  auto version = ParseRequest(Bytes{0x04, 0x01, 0x00, 0x01});
  ASSERT_EQ(version.state, ParseState::kMalformed);
  EXPECT_EQ(version.reply, Reply::kGeneralFailure);
  EXPECT_NE(version.error.find("request byte 0"), std::string::npos) << version.error;

  auto atyp = ParseRequest(Bytes{0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80});
  ASSERT_EQ(atyp.state, ParseState::kMalformed);
  EXPECT_EQ(atyp.reply, Reply::kAddressTypeNotSupported);
  EXPECT_NE(atyp.error.find("byte 3: address type 0x02"), std::string::npos) << atyp.error;

  auto empty = ParseRequest(Bytes{0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50});
  ASSERT_EQ(empty.state, ParseState::kMalformed);
  EXPECT_NE(empty.error.find("domain name length is 0"), std::string::npos) << empty.error;

  // "evil\0.example.com": a resolver would see "evil", the filters all of it.
  Bytes nul = {0x05, 0x01, 0x00, 0x03, 6, 'e', 'v', 'i', 'l', 0x00, 'x', 0x00, 0x50};
  auto with_nul = ParseRequest(nul);
  ASSERT_EQ(with_nul.state, ParseState::kMalformed);
  EXPECT_NE(with_nul.error.find("byte 9"), std::string::npos) << with_nul.error;
  EXPECT_NE(with_nul.error.find("0x00"), std::string::npos) << with_nul.error;
}

TEST(Socks5Request, LongestDomainFitsTheLimit) {
  Bytes msg = {0x05, 0x01, 0x00, 0x03, 0xff};
  msg.insert(msg.end(), 255, 'a');
  msg.insert(msg.end(), {0x01, 0xbb});
  EXPECT_EQ(msg.size(), kMaxRequestSize);
  auto p = ParseRequest(msg);
  ASSERT_EQ(p.state, ParseState::kComplete);
  EXPECT_EQ(p.message.address.domain.size(), 255u);
}

TEST(Socks5Encode, ServerMessages) {
  EXPECT_EQ(EncodeMethodSelection(Method::kNoAuth), (std::array<uint8_t, 2>{0x05, 0x00}));
  EXPECT_EQ(EncodeMethodSelection(Method::kUserPass), (std::array<uint8_t, 2>{0x05, 0x02}));
  EXPECT_EQ(EncodeMethodSelection(Method::kNoAcceptable), (std::array<uint8_t, 2>{0x05, 0xff}));
  EXPECT_EQ(EncodeAuthStatus(true), (std::array<uint8_t, 2>{0x01, 0x00}));
  EXPECT_EQ(EncodeAuthStatus(false), (std::array<uint8_t, 2>{0x01, 0x01}));

  EXPECT_EQ(EncodeReply(Reply::kCommandNotSupported),
            (Bytes{0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));

  Address v4;
  v4.ip = {10, 1, 2, 3};
  v4.port = 40000;
  EXPECT_EQ(EncodeReply(Reply::kSucceeded, v4),
            (Bytes{0x05, 0x00, 0x00, 0x01, 10, 1, 2, 3, 0x9c, 0x40}));

  Address v6;
  v6.type = AddressType::kIpv6;
  v6.ip[15] = 1;
  v6.port = 443;
  Bytes want = {0x05, 0x00, 0x00, 0x04};
  want.insert(want.end(), 15, 0x00);
  want.insert(want.end(), {0x01, 0x01, 0xbb});
  EXPECT_EQ(EncodeReply(Reply::kSucceeded, v6), want);
}

}  // namespace
}  // namespace tng::ingress::socks5
