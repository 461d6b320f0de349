// TLS 1.3 record protection: RFC 8448 §3 vectors (typed in), round trips for every suite,
// post-handshake messages, alerts and every kind of damaged record.
#include "crypto/tls13_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Hex(std::string_view text) {
  std::vector<uint8_t> out;
  int nibble = -1;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (v < 0) continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<uint8_t>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

// RFC 8448 §3 "Simple 1-RTT Handshake".
const auto kClientSecret =
    Hex("9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 "
        "75 04 a5");
const auto kServerSecret =
    Hex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb "
        "63 16 43");
const auto kClientAppRecord = Hex(
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab "
    "3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d "
    "ea e6 3a ee bb 21 69 49 15 e4");
const auto kServerAppRecord = Hex(
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b "
    "36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 "
    "32 54 0d d0 32 e1 67 c2 95 5d");
const auto kClientCloseNotify =
    Hex("17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3");

std::vector<uint8_t> Payload50() {
  std::vector<uint8_t> p(50);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i);
  return p;
}

TrafficSecret Secret(Tls13Suite suite, const std::vector<uint8_t>& bytes) {
  auto s = MakeTrafficSecret(suite, bytes);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(Tls13RecordTest, Rfc8448TrafficKeys) {
  auto server = DeriveTrafficKeys(Secret(Tls13Suite::kAes128GcmSha256, kServerSecret));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(std::vector<uint8_t>(server->key.begin(), server->key.begin() + server->key_size),
            Hex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"));
  EXPECT_EQ(std::vector<uint8_t>(server->iv.begin(), server->iv.end()),
            Hex("cf 78 2b 88 dd 83 54 9a ad f1 e9 84"));
  auto client = DeriveTrafficKeys(Secret(Tls13Suite::kAes128GcmSha256, kClientSecret));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(std::vector<uint8_t>(client->key.begin(), client->key.begin() + client->key_size),
            Hex("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51"));
  EXPECT_EQ(std::vector<uint8_t>(client->iv.begin(), client->iv.end()),
            Hex("5b 78 92 3d ee 08 57 90 33 e5 23 d9"));
}

TEST(Tls13RecordTest, Rfc8448ClientRecordsSealExactly) {
  auto cipher = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, kClientSecret));
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  std::vector<uint8_t> out(128);
  auto n = cipher->Seal(ContentType::kApplicationData, Payload50(), out.data());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + *n), kClientAppRecord);
  const uint8_t close_notify[2] = {1, 0};
  n = cipher->Seal(ContentType::kAlert, close_notify, out.data());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + *n), kClientCloseNotify);
}

TEST(Tls13RecordTest, Rfc8448SealWithScratchMatchesAndRestoresTheScratchByte) {
  auto cipher = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, kClientSecret));
  ASSERT_TRUE(cipher.ok());
  auto buf = Payload50();
  buf.push_back(0xAB);  // the byte after the plaintext: the next record's first, say
  std::vector<uint8_t> out(128);
  auto n = cipher->SealWithScratch(ContentType::kApplicationData, buf, out.data());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + *n), kClientAppRecord);
  EXPECT_EQ(buf.back(), 0xAB);
}

TEST(Tls13RecordTest, Rfc8448ServerRecordOpens) {
  // The server's first application-key record (sequence 0) is its NewSessionTicket.
  auto cipher = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, kServerSecret));
  ASSERT_TRUE(cipher.ok());
  std::vector<uint8_t> skip(64);
  ASSERT_TRUE(cipher->Seal(ContentType::kHandshake, {}, skip.data()).ok());
  auto record = kServerAppRecord;
  auto opened = cipher->Open(record);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->type, ContentType::kApplicationData);
  EXPECT_EQ(std::vector<uint8_t>(opened->plaintext.begin(), opened->plaintext.end()), Payload50());
}

struct Duplex {
  RecordLayer a;  // writes with secret 1, reads with secret 2
  RecordLayer b;  // the other end
};

Duplex MakeDuplex(Tls13Suite suite) {
  std::vector<uint8_t> s1(suite == Tls13Suite::kAes256GcmSha384 ? 48 : 32, 0x11);
  std::vector<uint8_t> s2(s1.size(), 0x22);
  auto a = RecordLayer::Create(Secret(suite, s2), Secret(suite, s1));
  auto b = RecordLayer::Create(Secret(suite, s1), Secret(suite, s2));
  EXPECT_TRUE(a.ok() && b.ok());
  return Duplex{*std::move(a), *std::move(b)};
}

// Opens every record in `wire` with `reader`, returning the application bytes.
absl::StatusOr<std::string> OpenAll(RecordLayer& reader, std::vector<uint8_t>& wire) {
  std::string data;
  size_t pos = 0;
  while (pos < wire.size()) {
    auto size = ProtectedRecordSize(std::span<const uint8_t>(wire).subspan(pos));
    if (!size.ok()) return size.status();
    if (*size == 0 || pos + *size > wire.size()) return absl::DataLossError("partial record");
    auto got = reader.OpenRecord(std::span<uint8_t>(wire).subspan(pos, *size));
    if (!got.ok()) return got.status();
    if (got->kind == RecordLayer::Received::kData) {
      data.append(reinterpret_cast<const char*>(got->data.data()), got->data.size());
    }
    if (got->kind == RecordLayer::Received::kClosed) data += "<closed>";
    pos += *size;
  }
  return data;
}

class SuiteTest : public ::testing::TestWithParam<Tls13Suite> {};

TEST_P(SuiteTest, RoundTripOfEverySizeAroundRecordBoundaries) {
  Duplex d = MakeDuplex(GetParam());
  for (size_t size : {size_t{1}, size_t{100}, kMaxRecordPlaintext - 1, kMaxRecordPlaintext,
                      kMaxRecordPlaintext + 1, 3 * kMaxRecordPlaintext + 7, size_t{65536}}) {
    std::string plain(size, '\0');
    for (size_t i = 0; i < size; ++i) plain[i] = static_cast<char>(i * 7 + size);
    std::vector<uint8_t> wire(RecordLayer::SealedSize(size));
    auto n = d.a.SealData(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(plain.data()), size), wire);
    ASSERT_TRUE(n.ok()) << n.status();
    wire.resize(*n);
    auto got = OpenAll(d.b, wire);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, plain) << size;

    // The same bytes through the scratch-byte path, sealed in place of staging.
    std::vector<uint8_t> buf(plain.begin(), plain.end());
    buf.push_back(0x5A);
    std::vector<uint8_t> wire2(RecordLayer::SealedSize(size));
    n = d.a.SealDataWithScratch(buf, wire2);
    ASSERT_TRUE(n.ok()) << n.status();
    wire2.resize(*n);
    EXPECT_EQ(buf.back(), 0x5A);
    got = OpenAll(d.b, wire2);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, plain) << size;
  }
}

TEST_P(SuiteTest, EveryFlippedBitIsRejected) {
  Duplex d = MakeDuplex(GetParam());
  std::vector<uint8_t> wire(RecordLayer::SealedSize(32));
  const std::string text = "thirty-two bytes of application.";
  auto n = d.a.SealData(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), wire);
  ASSERT_TRUE(n.ok());
  wire.resize(*n);
  for (size_t i = kRecordHeaderSize; i < wire.size(); ++i) {
    Duplex fresh = MakeDuplex(GetParam());
    std::vector<uint8_t> again(RecordLayer::SealedSize(32));
    ASSERT_TRUE(fresh.a
                    .SealData(std::span<const uint8_t>(
                                  reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                              again)
                    .ok());
    again.resize(wire.size());
    again[i] ^= 0x01;
    auto got = fresh.b.OpenRecord(again);
    ASSERT_FALSE(got.ok()) << "byte " << i;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("bad_record_mac"));
  }
}

INSTANTIATE_TEST_SUITE_P(AllSuites, SuiteTest,
                         ::testing::Values(Tls13Suite::kAes128GcmSha256,
                                           Tls13Suite::kAes256GcmSha384,
                                           Tls13Suite::kChacha20Poly1305Sha256));

TEST(Tls13RecordTest, ReplayedOrReorderedRecordsFail) {
  Duplex d = MakeDuplex(Tls13Suite::kAes128GcmSha256);
  std::vector<uint8_t> r1(RecordLayer::SealedSize(3)), r2(RecordLayer::SealedSize(3));
  const uint8_t x[3] = {1, 2, 3};
  auto n1 = d.a.SealData(x, r1);
  auto n2 = d.a.SealData(x, r2);
  ASSERT_TRUE(n1.ok() && n2.ok());
  r1.resize(*n1);
  r2.resize(*n2);
  auto second_first = d.b.OpenRecord(r2);
  EXPECT_FALSE(second_first.ok());
}

TEST(Tls13RecordTest, HeaderChecksNameTheField) {
  std::vector<uint8_t> bad = {22, 3, 3, 0, 40};
  auto s = ProtectedRecordSize(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("outer content type 22"));
  bad = {23, 3, 1, 0, 40};
  s = ProtectedRecordSize(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("legacy_record_version 0x0301"));
  bad = {23, 3, 3, 0x41, 0x01};
  s = ProtectedRecordSize(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("record_overflow"));
  bad = {23, 3, 3, 0, 16};
  EXPECT_FALSE(ProtectedRecordSize(bad).ok());
  bad = {23, 3, 3};
  auto partial = ProtectedRecordSize(bad);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(*partial, 0u);
}

// Seals `plain` as `type` with a cipher on the a->b secret at the sequence `d.a` is at, by
// sealing from a twin cipher advanced the same way.
std::vector<uint8_t> SealRaw(RecordCipher& cipher, ContentType type,
                             const std::vector<uint8_t>& plain) {
  std::vector<uint8_t> out(plain.size() + kRecordSealOverhead);
  auto n = cipher.Seal(type, plain, out.data());
  EXPECT_TRUE(n.ok()) << n.status();
  out.resize(*n);
  return out;
}

TEST(Tls13RecordTest, KeyUpdateRequestedIsAnsweredBeforeTheNextData) {
  std::vector<uint8_t> s1(32, 0x11), s2(32, 0x22);
  auto writer = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, s1));
  auto peer_reader = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, s2));
  auto layer = RecordLayer::Create(Secret(Tls13Suite::kAes128GcmSha256, s1),
                                   Secret(Tls13Suite::kAes128GcmSha256, s2));
  ASSERT_TRUE(writer.ok() && peer_reader.ok() && layer.ok());

  // The peer: data, then KeyUpdate(update_requested), then data under the next key.
  auto rec1 = SealRaw(*writer, ContentType::kApplicationData, {'a', 'b'});
  auto ku = SealRaw(*writer, ContentType::kHandshake, {24, 0, 0, 1, 1});
  ASSERT_TRUE(writer->Update().ok());
  auto rec2 = SealRaw(*writer, ContentType::kApplicationData, {'c'});
  std::vector<uint8_t> wire;
  for (auto* r : {&rec1, &ku, &rec2}) wire.insert(wire.end(), r->begin(), r->end());
  auto got = OpenAll(*layer, wire);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "abc");
  EXPECT_TRUE(layer->control_pending());

  // Our next flight starts with our own KeyUpdate (not requesting one back).
  std::vector<uint8_t> out(RecordLayer::SealedSize(1));
  const uint8_t z[1] = {'z'};
  auto n = layer->SealData(z, out);
  ASSERT_TRUE(n.ok());
  out.resize(*n);
  EXPECT_FALSE(layer->control_pending());
  auto first = ProtectedRecordSize(out);
  ASSERT_TRUE(first.ok());
  auto opened = peer_reader->Open(std::span<uint8_t>(out).first(*first));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->type, ContentType::kHandshake);
  EXPECT_EQ(std::vector<uint8_t>(opened->plaintext.begin(), opened->plaintext.end()),
            (std::vector<uint8_t>{24, 0, 0, 1, 0}));
  ASSERT_TRUE(peer_reader->Update().ok());
  auto data = peer_reader->Open(std::span<uint8_t>(out).subspan(*first));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->plaintext.size(), 1u);
  EXPECT_EQ(data->plaintext[0], 'z');
}

TEST(Tls13RecordTest, TicketsSplitAcrossRecordsAreDropped) {
  std::vector<uint8_t> s1(32, 0x11), s2(32, 0x22);
  auto writer = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, s1));
  auto layer = RecordLayer::Create(Secret(Tls13Suite::kAes128GcmSha256, s1),
                                   Secret(Tls13Suite::kAes128GcmSha256, s2));
  ASSERT_TRUE(writer.ok() && layer.ok());
  std::vector<uint8_t> ticket = {4, 0, 0, 10, 0, 0, 0, 60, 1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> part1(ticket.begin(), ticket.begin() + 6);
  std::vector<uint8_t> part2(ticket.begin() + 6, ticket.end());
  auto w = SealRaw(*writer, ContentType::kHandshake, part1);
  auto w2 = SealRaw(*writer, ContentType::kHandshake, part2);
  auto w3 = SealRaw(*writer, ContentType::kApplicationData, {'o', 'k'});
  std::vector<uint8_t> wire;
  for (auto* r : {&w, &w2, &w3}) wire.insert(wire.end(), r->begin(), r->end());
  auto got = OpenAll(*layer, wire);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "ok");
}

TEST(Tls13RecordTest, InterleavedHandshakeFragmentIsRefused) {
  std::vector<uint8_t> s1(32, 0x11), s2(32, 0x22);
  auto writer = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, s1));
  auto layer = RecordLayer::Create(Secret(Tls13Suite::kAes128GcmSha256, s1),
                                   Secret(Tls13Suite::kAes128GcmSha256, s2));
  ASSERT_TRUE(writer.ok() && layer.ok());
  auto w = SealRaw(*writer, ContentType::kHandshake, {4, 0, 0, 10, 0});
  auto w2 = SealRaw(*writer, ContentType::kApplicationData, {'x'});
  std::vector<uint8_t> wire;
  for (auto* r : {&w, &w2}) wire.insert(wire.end(), r->begin(), r->end());
  auto got = OpenAll(*layer, wire);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("interrupted"));
}

TEST(Tls13RecordTest, UnexpectedPostHandshakeMessagesAndAlerts) {
  std::vector<uint8_t> s1(32, 0x11), s2(32, 0x22);
  auto ts = [&] { return Secret(Tls13Suite::kAes128GcmSha256, s1); };
  auto other = [&] { return Secret(Tls13Suite::kAes128GcmSha256, s2); };
  struct Case {
    ContentType type;
    std::vector<uint8_t> body;
    std::string error;  // empty: accepted
  } cases[] = {
      {ContentType::kHandshake, {13, 0, 0, 0}, "unexpected post-handshake message type 13"},
      {ContentType::kHandshake, {24, 0, 0, 1, 2}, "malformed KeyUpdate"},
      {ContentType::kHandshake, {24, 0, 0, 1, 0, 4, 0, 0, 0}, "data after a KeyUpdate"},
      {ContentType::kAlert, {2, 40}, "handshake_failure"},
      {ContentType::kAlert, {1, 90}, ""},
      {ContentType::kAlert, {1}, "decode_error"},
      {ContentType::kChangeCipherSpec, {1}, "content type 20"},
      {ContentType::kApplicationData, {}, ""},
  };
  for (const auto& c : cases) {
    auto writer = RecordCipher::Create(ts());
    auto layer = RecordLayer::Create(ts(), other());
    ASSERT_TRUE(writer.ok() && layer.ok());
    auto wire = SealRaw(*writer, c.type, c.body);
    auto got = layer->OpenRecord(wire);
    if (c.error.empty()) {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->kind, RecordLayer::Received::kNothing);
    } else {
      ASSERT_FALSE(got.ok()) << c.error;
      EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.error));
    }
  }
}

TEST(Tls13RecordTest, CloseNotifyEndsTheStream) {
  Duplex d = MakeDuplex(Tls13Suite::kAes128GcmSha256);
  std::vector<uint8_t> wire(RecordLayer::kControlReserve);
  auto n = d.a.SealCloseNotify(wire);
  ASSERT_TRUE(n.ok());
  wire.resize(*n);
  auto got = d.b.OpenRecord(wire);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, RecordLayer::Received::kClosed);
  EXPECT_TRUE(d.b.peer_closed());
  // Our own direction stays open (TLS 1.3 half-close).
  std::vector<uint8_t> reply(RecordLayer::SealedSize(2));
  const uint8_t hi[2] = {'h', 'i'};
  n = d.b.SealData(hi, reply);
  ASSERT_TRUE(n.ok());
  reply.resize(*n);
  auto back = OpenAll(d.a, reply);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "hi");
}

TEST(Tls13RecordTest, WriterRotatesItsKeyBeforeTheAeadLimit) {
  Duplex d = MakeDuplex(Tls13Suite::kAes128GcmSha256);
  d.a.mutable_write_cipher().set_rotate_after(2);
  std::string plain(5 * kMaxRecordPlaintext, 'r');
  std::vector<uint8_t> wire(RecordLayer::SealedSize(plain.size()) +
                            4 * RecordLayer::kControlReserve);
  auto n = d.a.SealData(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()), wire);
  ASSERT_TRUE(n.ok()) << n.status();
  wire.resize(*n);
  // 5 data records and a KeyUpdate after every second: the reader follows every rotation.
  EXPECT_EQ(*n, plain.size() + 5 * kRecordSealOverhead + 2 * (kRecordSealOverhead + 5));
  auto got = OpenAll(d.b, wire);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, plain);
  EXPECT_EQ(d.b.read_cipher().sequence(), 1u);  // one record under the third key
}

TEST(Tls13RecordTest, SecretsOfTheWrongSizeOrSuiteAreRefused) {
  EXPECT_FALSE(MakeTrafficSecret(Tls13Suite::kAes256GcmSha384, kClientSecret).ok());
  EXPECT_FALSE(MakeTrafficSecret(static_cast<Tls13Suite>(0x1304), kClientSecret).ok());
  std::vector<uint8_t> out(64);
  auto c = RecordCipher::Create(Secret(Tls13Suite::kAes128GcmSha256, kClientSecret));
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> big(kMaxRecordPlaintext + 1);
  EXPECT_FALSE(c->Seal(ContentType::kApplicationData, big, out.data()).ok());
}

TEST(Tls13RecordTest, NextTrafficSecretFollowsTheKeySchedule) {
  // application_traffic_secret_1 = HKDF-Expand-Label(secret_0, "traffic upd", "", 32): derived
  // twice it must differ from the original and be stable.
  auto s0 = Secret(Tls13Suite::kAes128GcmSha256, kClientSecret);
  auto s1 = NextTrafficSecret(s0);
  auto s1b = NextTrafficSecret(s0);
  ASSERT_TRUE(s1.ok() && s1b.ok());
  EXPECT_EQ(s1->bytes, s1b->bytes);
  EXPECT_NE(s1->bytes, s0.bytes);
}

}  // namespace
}  // namespace tng::crypto
