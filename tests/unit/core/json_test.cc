// core/json: comment stripping, positions, the tree built from simdjson, and syntax error messages.
#include "core/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace tng::json {
namespace {

using ::testing::HasSubstr;

TEST(StripCommentsTest, BlanksCommentsKeepingLengthAndLines) {
  std::string text = "{ // line\n  \"a\": /* block\n spans */ 1 }";
  absl::StatusOr<std::string> out = StripComments(text, "t.json");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), text.size());
  EXPECT_EQ(*out, "{        \n  \"a\":         \n          1 }");
}

TEST(StripCommentsTest, LeavesCommentMarkersInsideStringsAlone) {
  std::string text = R"({"url": "http://x/*y*/", "q": "a\"//b"} // tail)";
  absl::StatusOr<std::string> out = StripComments(text, "t.json");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, R"({"url": "http://x/*y*/", "q": "a\"//b"}        )");
}

TEST(StripCommentsTest, MultiByteCharactersInCommentsBecomeSpaces) {
  std::string text = "{\"a\": 1 // 可选，默认为0.0.0.0\n}";
  absl::StatusOr<std::string> out = StripComments(text, "t.json");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), text.size());
  EXPECT_EQ(out->find_first_not_of(" ", 8), out->find('\n'));
}

TEST(StripCommentsTest, UnterminatedBlockCommentNamesItsStart) {
  absl::StatusOr<std::string> out = StripComments("{\n  \"a\": 1 /* open\n}", "t.json");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "t.json:2:10: syntax error: unterminated /* comment");
}

TEST(DocumentTest, TreeKeepsOrderKindsAndOffsets) {
  std::string text = R"({"b": [1, -2, 3.5, 18446744073709551615, 99999999999999999999],
 "a": {"t": true, "f": false, "n": null, "s": "x\ty"}})";
  absl::StatusOr<Document> doc = Document::Parse(text, "t.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const Value& root = doc->root();
  ASSERT_EQ(root.kind(), Kind::kObject);
  ASSERT_EQ(root.members().size(), 2u);
  EXPECT_EQ(root.members()[0].key, "b");
  EXPECT_EQ(root.members()[1].key, "a");
  const std::vector<Value>& b = root.members()[0].value.elements();
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0].number_kind(), Value::NumberKind::kInteger);
  EXPECT_EQ(b[0].magnitude(), 1u);
  EXPECT_TRUE(b[1].negative());
  EXPECT_EQ(b[1].magnitude(), 2u);
  EXPECT_EQ(b[2].number_kind(), Value::NumberKind::kFloat);
  EXPECT_EQ(b[2].text(), "3.5");
  EXPECT_EQ(b[3].magnitude(), 18446744073709551615u);
  EXPECT_EQ(b[4].number_kind(), Value::NumberKind::kOutOfRange);
  const Value* a = root.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->Find("t")->boolean());
  EXPECT_EQ(a->Find("n")->kind(), Kind::kNull);
  EXPECT_EQ(a->Find("s")->text(), "x\ty");
  EXPECT_EQ(a->Find("missing"), nullptr);

  Location at = doc->Locate(root.members()[1].key_offset);
  EXPECT_EQ(at.line, 2);
  EXPECT_EQ(at.column, 2);
  EXPECT_EQ(doc->Where(a->Find("s")->offset()), "t.json:2:47");
}

TEST(DocumentTest, ColumnsCountCharactersNotBytes) {
  std::string text = "{\n  /* 中文 */ \"port\": 1\n}";
  absl::StatusOr<Document> doc = Document::Parse(text, "t.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const Member& port = doc->root().members()[0];
  EXPECT_EQ(doc->Where(port.key_offset), "t.json:2:12");
  EXPECT_EQ(doc->Where(port.value.offset()), "t.json:2:20");
}

TEST(DocumentTest, AcceptsByteOrderMarkAndScalarRoot) {
  absl::StatusOr<Document> doc = Document::Parse("\xEF\xBB\xBF{\"a\": 1}", "t.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<Document> scalar = Document::Parse(" \"text\" ", "t.json");
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_EQ(scalar->root().text(), "text");
}

struct SyntaxCase {
  const char* name;
  const char* text;
  const char* message;  // the complete message
};

class SyntaxErrorTest : public ::testing::TestWithParam<SyntaxCase> {};

TEST_P(SyntaxErrorTest, NamesLineColumnAndWhatWasExpected) {
  absl::StatusOr<Document> doc = Document::Parse(GetParam().text, "t.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    All, SyntaxErrorTest,
    ::testing::Values(
        SyntaxCase{"MissingCommaBetweenMembers", "{\"a\": [1]\n \"b\": 2}",
                   "t.json:2:2: syntax error: expected ',' or '}' after the value of \"a\", found "
                   "\"b\" (missing comma?)"},
        SyntaxCase{"MissingCommaInArray", "{\"a\": [1 2]}",
                   "t.json:1:10: a: syntax error: expected ',' or ']' after the array element, "
                   "found '2'"},
        SyntaxCase{"TrailingCommaInObject", "{\"a\": 1,\n}",
                   "t.json:2:1: syntax error: trailing comma before '}' (JSON does not allow it)"},
        SyntaxCase{"TrailingCommaInArray", "{\"a\": [1,]}",
                   "t.json:1:10: a[1]: syntax error: trailing comma before ']' (JSON does not "
                   "allow it)"},
        SyntaxCase{"MissingColon", "{\"a\" 1}",
                   "t.json:1:6: syntax error: expected ':' after the key, found '1'"},
        SyntaxCase{"UnquotedKey", "{a: 1}",
                   "t.json:1:2: syntax error: expected a key in double quotes, found 'a'"},
        SyntaxCase{"BadLiteral", "{\"a\": tru}",
                   "t.json:1:7: a: syntax error: invalid literal 'tru' (expected true, false or "
                   "null)"},
        SyntaxCase{"LeadingZero", "{\"a\": 01}",
                   "t.json:1:7: a: syntax error: invalid number '01'"},
        SyntaxCase{"BadEscape", "{\"a\": \"\\q\"}",
                   "t.json:1:7: a: syntax error: invalid string (bad escape sequence or control "
                   "character)"},
        SyntaxCase{"UnterminatedString", "{\"a\": \"abc\n}",
                   "t.json:1:7: syntax error: unterminated string (a string must end with '\"' on "
                   "the same line)"},
        SyntaxCase{"UnclosedObject", "{\"a\": {\"b\": 1}",
                   "t.json:1:15: syntax error: unexpected end of input: '{' opened at line 1, "
                   "column 1 is never closed"},
        SyntaxCase{"MismatchedBracket", "{\"a\": [1}",
                   "t.json:1:9: syntax error: '}' does not close '[' opened at line 1, column 7 "
                   "(expected ']')"},
        SyntaxCase{"TrailingGarbage", "{\"a\": 1} x",
                   "t.json:1:10: syntax error: unexpected 'x' after the end of the JSON document"},
        SyntaxCase{"SecondDocument", "{}\n{}",
                   "t.json:2:1: syntax error: unexpected '{' after the end of the JSON document"},
        SyntaxCase{"Empty", " // nothing\n", "t.json:2:1: syntax error: the document is empty"},
        SyntaxCase{"Fragment", "\"no_ra\": true",
                   "t.json:1:8: syntax error: this is a fragment of an object (a key and its "
                   "value), not a JSON document; wrap it in { }"},
        SyntaxCase{"DuplicateKey", "{\"a\": 1,\n \"a\": 2}",
                   "t.json:2:2: a: duplicate key \"a\" (first defined at line 1, column 2)"},
        SyntaxCase{"InvalidUtf8", "{\"a\": \"\xC3\x28\"}",
                   "t.json:1:8: the text is not valid UTF-8"},
        SyntaxCase{"UnterminatedComment", "{} /*",
                   "t.json:1:4: syntax error: unterminated /* comment"}),
    [](const ::testing::TestParamInfo<SyntaxCase>& info) { return info.param.name; });

TEST(DescribeTest, SaysWhatAValueIs) {
  absl::StatusOr<Document> doc =
      Document::Parse(R"([null, true, 7, "s", [], {}, "a\"b"])", "t.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const std::vector<Value>& v = doc->root().elements();
  EXPECT_EQ(Describe(v[0]), "null");
  EXPECT_EQ(Describe(v[1]), "true");
  EXPECT_EQ(Describe(v[2]), "number 7");
  EXPECT_EQ(Describe(v[3]), "string \"s\"");
  EXPECT_EQ(Describe(v[4]), "an array");
  EXPECT_EQ(Describe(v[5]), "an object");
  EXPECT_EQ(Describe(v[6]), "string \"a\\\"b\"");
}

TEST(ToJsonTest, WritesCompactJsonThatParsesBack) {
  std::string text = R"({ "k": [1, -2.5e3, "q\"\\\n\u0001", {"n": null}], "b": false })";
  absl::StatusOr<Document> doc = Document::Parse(text, "t.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::string compact = ToJson(doc->root());
  EXPECT_EQ(compact, R"({"k":[1,-2.5e3,"q\"\\\n\u0001",{"n":null}],"b":false})");
  absl::StatusOr<Document> again = Document::Parse(compact, "again");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ToJson(again->root()), compact);
}

TEST(JoinPathTest, QuotesKeysThatAreNotIdentifiers) {
  EXPECT_EQ(JoinPath("", "add_ingress"), "add_ingress");
  EXPECT_EQ(JoinPath(JoinPath("add_ingress", 0), "mapping"), "add_ingress[0].mapping");
  EXPECT_EQ(JoinPath("verify.as_headers", "X-Token"), "verify.as_headers[\"X-Token\"]");
}

TEST(CatTest, JoinsStringsAndIntegers) {
  std::string_view sv = "port ";
  EXPECT_EQ(Cat(sv, 80, "/", std::string("tcp"), uint16_t{7}), "port 80/tcp7");
}

}  // namespace
}  // namespace tng::json
