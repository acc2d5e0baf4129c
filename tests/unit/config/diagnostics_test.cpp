#include "config/diagnostics.h"

#include <gtest/gtest.h>

namespace postern::config {
namespace {

TEST(ConfigDiagnostics, SortsByLineThenColumnKeepingOrderAtTheSamePlace) {
    Diagnostics d("f.toml");
    d.error(SourcePos{5, 2}, "e");
    d.error(SourcePos{1, 9}, "b");
    d.error(SourcePos{5, 1}, "c");
    d.error(SourcePos{1, 1}, "a");
    d.error(SourcePos{5, 2}, "f");
    d.error(SourcePos{5, 1}, "d");
    std::vector<std::string> got;
    for (const auto& e : d.sorted()) got.push_back(e.format());
    EXPECT_EQ(got, (std::vector<std::string>{"f.toml:1:1: a", "f.toml:1:9: b", "f.toml:5:1: c",
                                             "f.toml:5:1: d", "f.toml:5:2: e", "f.toml:5:2: f"}));
    EXPECT_EQ(d.count(), 6u);
}

TEST(ConfigDiagnostics, SuggestsOnlyPlausibleTypos) {
    const std::vector<std::string> keys{"bind", "name", "pool", "idle_timeout", "log", "weight"};
    EXPECT_EQ(suggestKey("bnid", keys), "bind");  // transposition
    EXPECT_EQ(suggestKey("pol", keys), "pool");   // deletion
    EXPECT_EQ(suggestKey("wieght", keys), "weight");
    EXPECT_EQ(suggestKey("idle_timout", keys), "idle_timeout");
    EXPECT_EQ(suggestKey("idel_timout", keys), "idle_timeout");  // two edits, long word
    EXPECT_EQ(suggestKey("foo", keys), "");                      // two edits from "log": too short
    EXPECT_EQ(suggestKey("x", keys), "");
    EXPECT_EQ(suggestKey("bind", keys), "");  // itself is not a suggestion
    EXPECT_EQ(suggestKey("completely_else", keys), "");
}

TEST(ConfigDiagnostics, TypeNamesReadAsEnglish) {
    auto t = toml::parse(std::string_view("s='x'\ni=1\nf=1.5\nb=true\na=[]\nt={}\nd=1979-05-27\n"),
                         std::string("x.toml"));
    EXPECT_EQ(typeName(*t.get("s")), "a string");
    EXPECT_EQ(typeName(*t.get("i")), "an integer");
    EXPECT_EQ(typeName(*t.get("f")), "a float");
    EXPECT_EQ(typeName(*t.get("b")), "a boolean");
    EXPECT_EQ(typeName(*t.get("a")), "an array");
    EXPECT_EQ(typeName(*t.get("t")), "a table");
    EXPECT_EQ(typeName(*t.get("d")), "a date");
}

}  // namespace
}  // namespace postern::config
