// The check before toml++ parses (config/toml_guard.h): characters toml++ 3.3 cannot classify
// without undefined behaviour are reported where it would classify them, with their position;
// the same characters in strings and comments, and every other character, are left to toml++.
#include "config/toml_guard.h"

#include <gtest/gtest.h>

#include <string>

#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::kMinimalPool;
using test::loadText;

std::string listenerWithRegion(const std::string& region) {
    return "[gateway]\nregion = \"" + region +
           "\"  # caf\u00e9, \u00a7, \u0416\n[[listener]]\nname = \"a\"\n"
           "bind = [\"127.0.0.1:0\"]\npool = \"pg\"\n" +
           std::string(kMinimalPool);
}

TEST(TomlGuard, CodePointsWhoseWhitespaceTestIsUndefined) {
    EXPECT_FALSE(tomlWhitespaceTestUndefined(U'a'));
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0xA0));     // NO-BREAK SPACE: handled
    EXPECT_TRUE(tomlWhitespaceTestUndefined(0xA7));      // §
    EXPECT_TRUE(tomlWhitespaceTestUndefined(0xFC));      // ü
    EXPECT_TRUE(tomlWhitespaceTestUndefined(0x23D));     // found by config_loader_fuzz
    EXPECT_TRUE(tomlWhitespaceTestUndefined(0x416));     // Ж
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0x49A));    // the next chunk is "no whitespace"
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0x1680));   // chunk 5: decided by the switch
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0x2000));   // chunk 7: decided by the switch
    EXPECT_TRUE(tomlWhitespaceTestUndefined(0x3001));    // chunk 11
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0x3000));   // IDEOGRAPHIC SPACE: handled
    EXPECT_TRUE(tomlWhitespaceTestUndefined(0xFEFE));    // chunk 63
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0xFEFF));   // BOM: handled
    EXPECT_FALSE(tomlWhitespaceTestUndefined(0x1F600));  // above the table
}

TEST(TomlGuard, NonAsciiInStringsAndCommentsLoads) {
    const std::string text = listenerWithRegion("Z\u00fcrich \u00a7 \u0416") +
                             "# \u00a7\ns = '''\n\u00a7 ''' # \u0416\n";
    EXPECT_FALSE(findTomlParserHazard(text));
    // An unknown key, reported by the loader as usual: the guard let the text through.
    EXPECT_EQ(errorLines(loadText(text)).size(), 1u)
        << testing::PrintToString(errorLines(loadText(text)));
}

TEST(TomlGuard, FuzzerFindingIsAnErrorNotUndefinedBehaviour) {
    // config_loader_fuzz crash-97efbf7c: U+023D right after a bare key.
    const std::string text("7Tr\xc8\xbd\t\t\t\t\t\trefr\xc8\xbd\0\0i#", 21);
    const auto r = loadText(text);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), std::vector<std::string>{"t.toml:1:4: unexpected character '\xc8\xbd' "
                                                      "(U+023D): outside a string or comment TOML "
                                                      "allows ASCII only"});
}

TEST(TomlGuard, EachPlaceTomlppClassifies) {
    struct Case {
        std::string text;
        SourcePos pos;
    };
    const Case cases[] = {
        {"\u00fc = 1\n", {1, 1}},                        // a bare key
        {"a = 1 \u00fc\n", {1, 7}},                      // after a value
        {"[t]\n  \u0416 = 2\n", {2, 3}},                 // indented, next line
        {"s = \"\"\"\\\u00a7\"\"\"\n", {1, 9}},          // an escape in a multi-line string
        {"s = \"\"\"\\  \u00a7\n\"\"\"\n", {1, 11}},     // after a line-ending backslash, same line
        {"s = \"\"\"\\\n  \n  \u00a7\"\"\"\n", {3, 3}},  // the first joined character (valid TOML)
    };
    for (const auto& c : cases) {
        const auto p = findTomlParserHazard(c.text);
        ASSERT_TRUE(p) << c.text;
        EXPECT_EQ(p->pos.line, c.pos.line) << c.text;
        EXPECT_EQ(p->pos.column, c.pos.column) << c.text;
    }
}

TEST(TomlGuard, StringBoundariesAreTracked) {
    // Quotes of the other kind, escaped quotes, '#' and extra closing quotes inside strings.
    EXPECT_FALSE(findTomlParserHazard("a = \"x'\\\"#\u00fc\"\nb = 'y\"#\u00fc'\n"));
    EXPECT_FALSE(findTomlParserHazard("a = \"\"\"x\"\"\u00fc\\\"\"\"\"\"\nb = '''''\u00fc'''''\n"));
    EXPECT_FALSE(findTomlParserHazard("\"k\u00fc\" = 1\n[\"t\u00fc\".'u\u00fc']\n"));
    // A comment ends at the line end: the next line is outside again.
    EXPECT_TRUE(findTomlParserHazard("# \"\n\u00fc = 1\n"));
    // An unterminated one-line string ends at the line end too (toml++ reports it).
    EXPECT_TRUE(findTomlParserHazard("a = \"x\n\u00fc = 1\n"));
    // A line-ending backslash followed by an ASCII line is fine; malformed UTF-8 is toml++'s.
    EXPECT_FALSE(findTomlParserHazard("s = \"\"\"\\\n  x\u00fc\"\"\"\n"));
    EXPECT_FALSE(findTomlParserHazard("a = 1 \xc3\n"));
    // A quote inside a bare token is part of it (toml++ scans the token on, classifying each
    // character): config_loader_fuzz crash-daf8357d, `protect_reads = 7Tr''''-''' ... U+023D`.
    EXPECT_TRUE(findTomlParserHazard("p = 7Tr''''-'''''''\u023d\t'\n"));
    EXPECT_TRUE(findTomlParserHazard("p = x\"\u023d\"\n"));
    EXPECT_FALSE(findTomlParserHazard("p = ['\u023d',\"\u023d\",{a.'\u023d'=\"\u023d\"}]\n"));
    EXPECT_FALSE(
        findTomlParserHazard("\xef\xbb\xbf"
                             "a = 1\n"));  // a BOM
}

}  // namespace
}  // namespace postern::config
