// core/json_reader: typed reads with "<source>:<line>:<column>: <path>: expected ..." messages,
// unknown keys with "did you mean", and the typo distance behind it.
#include "core/json_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace tng::json {
namespace {

class ReaderTest : public ::testing::Test {
 protected:
  // Parses `text` and returns a cursor on its root, with `path` as the root's path.
  Cursor Root(const std::string& text, std::string path = "cfg") {
    absl::StatusOr<Document> doc = Document::Parse(text, "t.json");
    EXPECT_TRUE(doc.ok()) << doc.status();
    doc_ = *std::move(doc);
    return Cursor(doc_, doc_.root(), std::move(path));
  }
  static std::string Message(const absl::Status& s) { return std::string(s.message()); }

  Document doc_;
};

TEST_F(ReaderTest, PortAcceptsOnlyIntegersInRange) {
  Cursor root = Root(R"({"ok": 443, "s": "80", "big": 70000, "zero": 0, "neg": -1, "f": 80.5,
 "huge": 123456789012345678901234, "n": null})");
  absl::StatusOr<ObjectReader> r = ObjectReader::Open(root);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->Optional("ok")->GetPort(), 443);
  EXPECT_EQ(Message(r->Optional("s")->GetPort().status()),
            "t.json:1:18: cfg.s: expected an integer 1-65535, got string \"80\"");
  EXPECT_EQ(Message(r->Optional("big")->GetPort().status()),
            "t.json:1:31: cfg.big: expected an integer 1-65535, got number 70000");
  EXPECT_EQ(Message(r->Optional("zero")->GetPort().status()),
            "t.json:1:46: cfg.zero: expected an integer 1-65535, got number 0");
  EXPECT_EQ(Message(r->Optional("neg")->GetPort().status()),
            "t.json:1:56: cfg.neg: expected an integer 1-65535, got number -1");
  EXPECT_EQ(Message(r->Optional("f")->GetPort().status()),
            "t.json:1:65: cfg.f: expected an integer 1-65535, got number 80.5");
  EXPECT_EQ(Message(r->Optional("huge")->GetUnsigned(0, UINT64_MAX).status()),
            "t.json:2:10: cfg.huge: expected an integer 0-18446744073709551615, got number "
            "123456789012345678901234");
  // An explicit null reads as absent; Required hands it over so the type error names it.
  EXPECT_FALSE(r->Optional("n").has_value());
  absl::StatusOr<Cursor> n = r->Required("n");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(Message(n->GetPort().status()),
            "t.json:2:41: cfg.n: expected an integer 1-65535, got null");
}

TEST_F(ReaderTest, StringsBoolsArraysAndMaps) {
  Cursor root = Root(R"({"s": "x", "e": "", "b": true, "a": ["p", "q"], "bad": ["p", 3],
 "one": {"k": 1}, "m": {"X-Token": "v"}, "mbad": {"X-Token": 1}})");
  ObjectReader r = *ObjectReader::Open(root);
  EXPECT_EQ(*r.Optional("s")->GetString(), "x");
  EXPECT_EQ(Message(r.Optional("e")->GetNonEmptyString().status()),
            "t.json:1:17: cfg.e: expected a non-empty string, got string \"\"");
  EXPECT_TRUE(*r.Optional("b")->GetBool());
  EXPECT_EQ(Message(r.Optional("s")->GetBool().status()),
            "t.json:1:7: cfg.s: expected true or false, got string \"x\"");
  EXPECT_EQ(*r.Optional("a")->GetStringArray(), (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(Message(r.Optional("bad")->GetStringArray().status()),
            "t.json:1:62: cfg.bad[1]: expected a string, got number 3");
  absl::StatusOr<std::vector<Cursor>> one = r.Optional("one")->GetOneOrMany();
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].path(), "cfg.one");
  absl::StatusOr<std::vector<Cursor>> many = r.Optional("a")->GetOneOrMany();
  ASSERT_EQ(many->size(), 2u);
  EXPECT_EQ((*many)[1].path(), "cfg.a[1]");
  auto map = r.Optional("m")->GetStringMap();
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at(0), (std::pair<std::string, std::string>{"X-Token", "v"}));
  EXPECT_EQ(Message(r.Optional("mbad")->GetStringMap().status()),
            "t.json:2:62: cfg.mbad[\"X-Token\"]: expected a string, got number 1");
  EXPECT_EQ(Message(r.Optional("s")->GetArray().status()),
            "t.json:1:7: cfg.s: expected an array, got string \"x\"");
}

TEST_F(ReaderTest, OpenRejectsNonObjects) {
  Cursor root = Root("[1]", "add_ingress");
  EXPECT_EQ(Message(ObjectReader::Open(root).status()),
            "t.json:1:1: add_ingress: expected an object, got an array");
}

TEST_F(ReaderTest, MissingRequiredKeyNamesTheKeyAndTheObject) {
  Cursor root = Root("{\n  \"in\": {\"host\": \"::\"}\n}", "mapping");
  ObjectReader r = *ObjectReader::Open(root);
  ObjectReader in = *ObjectReader::Open(*r.Optional("in"));
  EXPECT_EQ(Message(in.Required("port").status()),
            "t.json:2:9: mapping.in.port: missing required key \"port\"");
}

TEST_F(ReaderTest, UnknownKeyGetsTheClosestKnownName) {
  Cursor root = Root("{\"mapping\": {},\n \"mappnig\": {}}", "add_ingress[0]");
  ObjectReader r = *ObjectReader::Open(root);
  for (std::string_view k : {"mapping", "http_proxy", "no_ra"}) r.Known(k);
  EXPECT_EQ(Message(r.Finish()),
            "t.json:2:2: add_ingress[0].mappnig: unknown key \"mappnig\"; did you mean "
            "\"mapping\"?");
}

TEST_F(ReaderTest, UnknownKeyWithoutACloseNameListsTheKnownOnes) {
  Cursor root = Root(R"({"zzz": 1})", "");
  ObjectReader r = *ObjectReader::Open(root);
  r.Known("add_ingress");
  r.Known("add_egress");
  EXPECT_EQ(Message(r.Finish()),
            "t.json:1:2: zzz: unknown key \"zzz\" (expected one of: add_ingress, add_egress)");
}

TEST_F(ReaderTest, KnownKeysPassAndKeyErrorPointsAtTheKey) {
  Cursor root = Root("{\"a\": 1,\n   \"b\": 2}", "x");
  ObjectReader r = *ObjectReader::Open(root);
  r.Known("a");
  ASSERT_TRUE(r.Optional("b").has_value());
  EXPECT_TRUE(r.Finish().ok());
  EXPECT_TRUE(r.Has("a"));
  EXPECT_FALSE(r.Has("c"));
  EXPECT_EQ(Message(r.KeyError("b", "b is wrong")), "t.json:2:4: x.b: b is wrong");
}

TEST(EditDistanceTest, CountsEditsAndTranspositions) {
  EXPECT_EQ(EditDistance("port", "port"), 0u);
  EXPECT_EQ(EditDistance("prot", "port"), 1u);
  EXPECT_EQ(EditDistance("mappnig", "mapping"), 1u);
  EXPECT_EQ(EditDistance("add_ingres", "add_ingress"), 1u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(ClosestMatchTest, SuggestsOnlyPlausibleTypos) {
  const std::vector<std::string_view> keys = {"as_addr", "aa_addr", "policy_ids", "in", "out"};
  EXPECT_EQ(ClosestMatch("polcy_ids", keys), "policy_ids");
  EXPECT_EQ(ClosestMatch("aa_adr", keys), "aa_addr");
  EXPECT_EQ(ClosestMatch("ot", keys), "out");
  EXPECT_EQ(ClosestMatch("verify", keys), std::nullopt);
  EXPECT_EQ(ClosestMatch("xyz", keys), std::nullopt);
}

}  // namespace
}  // namespace tng::json
