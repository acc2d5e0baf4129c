// The postern_config a plugin sees, driven through the raw C ABI exactly as a plugin would.
#include "config/toml_config_view.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace postern::config {
namespace {

postern_str str(std::string_view s) { return postern_str{s.data(), s.size()}; }

std::vector<std::string> lines(const Diagnostics& diag) {
    std::vector<std::string> out;
    for (const auto& e : diag.sorted()) out.push_back(e.format());
    return out;
}

class ConfigViewTest : public ::testing::Test {
protected:
    void parse(std::string_view text) {
        root_ = toml::parse(text, std::string("v.toml"));
        table_ = root_["pool"]["discovery"].as_table();
        ASSERT_NE(table_, nullptr);
    }
    TomlConfigView& view(std::vector<std::string> core = {"plugin", "refresh"}) {
        view_ =
            std::make_unique<TomlConfigView>(table_, "[pool.discovery]", "discovery plugin 'test'",
                                             positionOf(*table_), std::move(core), diag_);
        return *view_;
    }
    const postern_config& c() { return *view_->abi(); }
    const postern_node* get(const postern_node* table, std::string_view key) {
        return c().get(c().ctx, table, str(key));
    }

    toml::table root_;
    const toml::table* table_ = nullptr;
    Diagnostics diag_{"v.toml"};
    std::unique_ptr<TomlConfigView> view_;
};

TEST_F(ConfigViewTest, ScalarsAreReadWithoutCoercion) {
    parse(R"([pool.discovery]
s = "text"
i = 42
f = 2.5
b = true
d = 1979-05-27
)");
    view();
    const postern_node* root = c().root;
    EXPECT_EQ(c().type(c().ctx, root), POSTERN_NODE_TABLE);

    const postern_node* s = get(root, "s");
    const postern_node* i = get(root, "i");
    const postern_node* f = get(root, "f");
    const postern_node* b = get(root, "b");
    const postern_node* d = get(root, "d");
    EXPECT_EQ(c().type(c().ctx, s), POSTERN_NODE_STRING);
    EXPECT_EQ(c().type(c().ctx, i), POSTERN_NODE_INTEGER);
    EXPECT_EQ(c().type(c().ctx, f), POSTERN_NODE_FLOAT);
    EXPECT_EQ(c().type(c().ctx, b), POSTERN_NODE_BOOLEAN);
    EXPECT_EQ(c().type(c().ctx, d), POSTERN_NODE_OTHER);
    EXPECT_EQ(c().type(c().ctx, nullptr), POSTERN_NODE_NONE);

    postern_str sv{};
    ASSERT_EQ(c().as_string(c().ctx, s, &sv), 1);
    EXPECT_EQ(std::string(sv.data, sv.size), "text");
    std::int64_t iv = 0;
    ASSERT_EQ(c().as_integer(c().ctx, i, &iv), 1);
    EXPECT_EQ(iv, 42);
    double fv = 0;
    ASSERT_EQ(c().as_float(c().ctx, f, &fv), 1);
    EXPECT_EQ(fv, 2.5);
    int bv = 0;
    ASSERT_EQ(c().as_boolean(c().ctx, b, &bv), 1);
    EXPECT_EQ(bv, 1);

    // No coercion in any direction.
    EXPECT_EQ(c().as_float(c().ctx, i, &fv), 0);
    EXPECT_EQ(c().as_integer(c().ctx, f, &iv), 0);
    EXPECT_EQ(c().as_integer(c().ctx, s, &iv), 0);
    EXPECT_EQ(c().as_string(c().ctx, i, &sv), 0);
    EXPECT_EQ(c().as_boolean(c().ctx, i, &bv), 0);
    EXPECT_EQ(c().as_string(c().ctx, nullptr, &sv), 0);

    view_->reportUnusedKeys();
    EXPECT_TRUE(diag_.empty()) << testing::PrintToString(lines(diag_));
}

TEST_F(ConfigViewTest, CoreKeysAreHiddenFromThePluginAndNeverReported) {
    parse(R"([pool.discovery]
plugin = "test"
refresh = "10s"
targets = ["a"]
)");
    view();
    EXPECT_EQ(get(c().root, "plugin"), nullptr);
    EXPECT_EQ(get(c().root, "refresh"), nullptr);
    EXPECT_NE(get(c().root, "targets"), nullptr);
    view_->reportUnusedKeys();
    EXPECT_TRUE(diag_.empty()) << testing::PrintToString(lines(diag_));
}

TEST_F(ConfigViewTest, KeysNeverLookedUpAreUnknownAtTheirPosition) {
    parse(R"([pool.discovery]
targets = ["a"]
tragets = 1
zzz = 2
)");
    view();
    EXPECT_NE(get(c().root, "targets"), nullptr);
    view_->reportUnusedKeys();
    EXPECT_EQ(lines(diag_),
              (std::vector<std::string>{
                  "v.toml:3:1: unknown key 'tragets' in [pool.discovery] (not used by "
                  "discovery plugin 'test'); did you mean 'targets'?",
                  "v.toml:4:1: unknown key 'zzz' in [pool.discovery] (not used by "
                  "discovery plugin 'test')",
              }));
}

TEST_F(ConfigViewTest, UnknownKeysInsideReadValuesAreFoundRecursively) {
    parse(R"([pool.discovery]
targets = ["a", { address = "b", wieght = 2 }, [{ deep = 1 }]]
options = { used = 1, unused = 2 }
)");
    view();
    const postern_node* targets = get(c().root, "targets");
    ASSERT_EQ(c().size(c().ctx, targets), 3u);
    EXPECT_EQ(c().at(c().ctx, targets, 3), nullptr);
    const postern_node* second = c().at(c().ctx, targets, 1);
    EXPECT_NE(get(second, "address"), nullptr);
    EXPECT_EQ(get(second, "weight"), nullptr);
    const postern_node* options = get(c().root, "options");
    EXPECT_NE(get(options, "used"), nullptr);
    view_->reportUnusedKeys();
    EXPECT_EQ(lines(diag_),
              (std::vector<std::string>{
                  "v.toml:2:34: unknown key 'wieght' in [pool.discovery] (not used by discovery "
                  "plugin 'test'); did you mean 'weight'?",
                  "v.toml:2:51: unknown key 'deep' in [pool.discovery] (not used by discovery "
                  "plugin 'test')",
                  "v.toml:3:23: unknown key 'unused' in [pool.discovery] (not used by discovery "
                  "plugin 'test')",
              }));
}

TEST_F(ConfigViewTest, PathsResolveAgainstTheConfigFilesDirectory) {
    parse(R"([pool.discovery]
rel = "inventory/../backends.toml"
abs = "/srv/inv.toml"
num = 3
)");
    const std::filesystem::path base = std::filesystem::path("/etc") / "postern";
    view_ = std::make_unique<TomlConfigView>(table_, "[pool.discovery]", "discovery plugin 'test'",
                                             positionOf(*table_), std::vector<std::string>{}, diag_,
                                             base);
    postern_str out{nullptr, 0};
    ASSERT_EQ(c().as_path(c().ctx, get(c().root, "rel"), &out), 1);
    EXPECT_EQ(std::string(out.data, out.size),
              (base / "backends.toml").lexically_normal().string());
    ASSERT_EQ(c().as_path(c().ctx, get(c().root, "abs"), &out), 1);
    EXPECT_EQ(std::string(out.data, out.size),
              std::filesystem::path("/srv/inv.toml").lexically_normal().string());
    EXPECT_EQ(c().as_path(c().ctx, get(c().root, "num"), &out), 0);
    EXPECT_EQ(c().as_path(c().ctx, nullptr, &out), 0);
    EXPECT_TRUE(diag_.empty());
}

TEST_F(ConfigViewTest, DurationsReportTheirOwnPositionedErrors) {
    parse(R"([pool.discovery]
good = "250ms"
secs = 3
bad = "5x"
neg = -1
float = 1.5
items = ["1s", true]
)");
    view();
    std::int64_t ms = 0;
    ASSERT_EQ(c().as_duration_ms(c().ctx, get(c().root, "good"), &ms), 1);
    EXPECT_EQ(ms, 250);
    ASSERT_EQ(c().as_duration_ms(c().ctx, get(c().root, "secs"), &ms), 1);
    EXPECT_EQ(ms, 3000);
    EXPECT_EQ(c().as_duration_ms(c().ctx, get(c().root, "bad"), &ms), 0);
    EXPECT_EQ(c().as_duration_ms(c().ctx, get(c().root, "neg"), &ms), 0);
    EXPECT_EQ(c().as_duration_ms(c().ctx, get(c().root, "float"), &ms), 0);
    const postern_node* items = get(c().root, "items");
    EXPECT_EQ(c().as_duration_ms(c().ctx, c().at(c().ctx, items, 1), &ms), 0);
    EXPECT_EQ(c().as_duration_ms(c().ctx, nullptr, &ms), 0);
    EXPECT_EQ(view_->errorsReported(), 4u);
    view_->reportUnusedKeys();
    EXPECT_EQ(
        lines(diag_),
        (std::vector<std::string>{
            "v.toml:4:7: 'bad': invalid duration \"5x\": unknown unit 'x' (use ms, s, m or h)",
            "v.toml:5:7: 'neg' must not be negative, got -1",
            "v.toml:6:9: 'float' must be a duration string like \"30s\" or an integer "
            "number of seconds, not a float",
            "v.toml:7:16: 'items[1]' must be a duration string like \"30s\" or an integer "
            "number of seconds, not a boolean",
        }));
}

TEST_F(ConfigViewTest, ErrorsGoToTheNodeOrTheTable) {
    parse(R"(
[pool.discovery]
targets = [42]
)");
    view();
    const postern_node* targets = get(c().root, "targets");
    c().error(c().ctx, c().at(c().ctx, targets, 0), str("target must be a string"));
    c().error(c().ctx, nullptr, str("table-level problem"));
    c().error(c().ctx, c().root, str("root problem"));
    c().error(c().ctx, targets, str(""));
    EXPECT_EQ(view_->errorsReported(), 4u);
    EXPECT_EQ(lines(diag_), (std::vector<std::string>{
                                "v.toml:2:1: table-level problem",
                                "v.toml:2:1: root problem",
                                "v.toml:3:11: discovery plugin 'test' reported an error without "
                                "a message",
                                "v.toml:3:12: target must be a string",
                            }));
}

TEST_F(ConfigViewTest, AbsentTableReadsAsEmptyAndErrorsGoToTheGivenPosition) {
    Diagnostics diag("v.toml");
    TomlConfigView v(nullptr, "[[pool]] balancer", "balancer plugin 'x'", SourcePos{7, 1}, {},
                     diag);
    const postern_config& cfg = *v.abi();
    EXPECT_EQ(cfg.type(cfg.ctx, cfg.root), POSTERN_NODE_TABLE);
    EXPECT_EQ(cfg.get(cfg.ctx, cfg.root, str("anything")), nullptr);
    cfg.error(cfg.ctx, nullptr, str("no good"));
    v.reportUnusedKeys();
    EXPECT_EQ(lines(diag), std::vector<std::string>{"v.toml:7:1: no good"});
}

}  // namespace
}  // namespace postern::config
