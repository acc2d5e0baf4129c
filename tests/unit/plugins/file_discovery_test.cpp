// The built-in `file` discovery plugin: inventory parsing with positioned errors, change
// detection on a real file (in place, atomic replace, deleted and restored, a write that keeps
// the size and the modification time), and the whole plugin loaded from its library and driven
// through the C ABI, as the core does.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "discovery_file/inventory.h"
#include "discovery_file/inventory_watcher.h"
#include "plugin/registry.h"
#include "support/plugins/fake_config.h"

namespace fs = std::filesystem;
using postern::plugins::file_discovery::InventoryTarget;
using postern::plugins::file_discovery::InventoryWatcher;
using postern::plugins::file_discovery::parseInventory;
using postern::testing::FakeConfig;
using postern::testing::FakeHost;
using postern::testing::FakeSink;
using postern::testing::Value;

namespace {

std::vector<std::string> errorsOf(std::string_view text) {
    return parseInventory(text, "inv.toml").errors;
}

TEST(FileInventory, ReadsEveryKeyAndAddressForm) {
    auto r = parseInventory(R"(# on-prem inventory
[[target]]
address = "10.0.0.4:5432"
weight = 2
max_connections = 500
region = "eu-north"
priority = 1

[[target]]
address = "db.corp.example"

[[target]]
address = "[2001:db8::7]:80"
)",
                            "inv.toml");
    ASSERT_TRUE(r.targets) << testing::PrintToString(r.errors);
    EXPECT_TRUE(r.errors.empty());
    ASSERT_EQ(r.targets->size(), 3u);
    const InventoryTarget& a = (*r.targets)[0];
    EXPECT_EQ(a.host, "10.0.0.4");
    EXPECT_EQ(a.port, 5432);
    EXPECT_EQ(a.weight, 2u);
    EXPECT_EQ(a.max_connections, 500u);
    EXPECT_EQ(a.region, "eu-north");
    EXPECT_EQ(a.priority, 1u);
    const InventoryTarget& b = (*r.targets)[1];
    EXPECT_EQ(b.host, "db.corp.example");
    EXPECT_EQ(b.port, 0);
    EXPECT_EQ(b.weight, 1u);
    EXPECT_EQ(b.max_connections, 0u);
    EXPECT_EQ(b.priority, 0u);
    EXPECT_EQ((*r.targets)[2].host, "2001:db8::7");
    EXPECT_EQ((*r.targets)[2].port, 80);
}

TEST(FileInventory, AnExplicitlyEmptyInventoryIsValidAnEmptyFileIsNot) {
    auto r = parseInventory("target = []\n", "inv.toml");
    ASSERT_TRUE(r.targets);
    EXPECT_TRUE(r.targets->empty());
    // A truncated file (a writer between truncate and write) must not drop every backend.
    EXPECT_EQ(errorsOf(""), (std::vector<std::string>{
                                "inv.toml:1:1: no [[target]] tables (write `target = []` for an "
                                "inventory that deliberately has no backends)"}));
    EXPECT_FALSE(parseInventory("# nothing yet\n", "inv.toml").targets);
}

TEST(FileInventory, EveryProblemIsReportedAtItsPositionInOrder) {
    EXPECT_EQ(errorsOf(R"([[target]]
address = "10.0.0.4:5432"
wieght = 2

[[target]]
address = "10.0.0.5:0"
weight = "2"
max_connections = -1
region = 7
priority = 70000

[[target]]
weight = 3

[[target]]
address = "10.0.0.4:5432"

[[target]]
address = 5
colour = "red"

[extra]
)"),
              (std::vector<std::string>{
                  "inv.toml:3:1: unknown key 'wieght' in [[target]]; did you mean 'weight'?",
                  "inv.toml:6:11: invalid address \"10.0.0.5:0\": port must be from 1 to 65535",
                  "inv.toml:7:10: weight must be an integer, not a string",
                  "inv.toml:8:19: max_connections must be from 0 (unlimited) to 4294967295, got -1",
                  "inv.toml:9:10: region must be a string, not an integer",
                  "inv.toml:10:12: priority must be from 0 (best) to 65535, got 70000",
                  "inv.toml:12:1: a [[target]] needs 'address' (\"host:port\")",
                  "inv.toml:16:11: duplicate target 10.0.0.4:5432 (already at line 2)",
                  "inv.toml:19:11: address must be a string (\"host:port\"), not an integer",
                  "inv.toml:20:1: unknown key 'colour' in [[target]]",
                  "inv.toml:22:2: unknown key 'extra' (an inventory has only [[target]] tables)",
              }));
}

TEST(FileInventory, WrongShapesAndSyntaxErrors) {
    EXPECT_EQ(
        errorsOf("target = \"10.0.0.4\"\n"),
        (std::vector<std::string>{
            "inv.toml:1:10: 'target' must be an array of tables ([[target]]), not a string"}));
    EXPECT_EQ(errorsOf("target = [\"10.0.0.4\"]\n"),
              (std::vector<std::string>{"inv.toml:1:11: each target must be a table ([[target]] "
                                        "with address = \"host:port\"), not a string"}));
    EXPECT_EQ(errorsOf("targte = []\n"),
              (std::vector<std::string>{
                  "inv.toml:1:1: unknown key 'targte' (an inventory has only [[target]] tables); "
                  "did you mean 'target'?",
                  "inv.toml:1:1: no [[target]] tables (write `target = []` for an inventory that "
                  "deliberately has no backends)"}));
    // The parser stops at the first syntax error: reported alone, with its position.
    auto syntax = errorsOf("[[target]]\naddress = \"10.0.0.4:80\"\nweight = = 2\n");
    ASSERT_EQ(syntax.size(), 1u);
    EXPECT_EQ(syntax[0].rfind("inv.toml:3:", 0), 0u) << syntax[0];
    // Half of a file: an unterminated string.
    auto partial = errorsOf("[[target]]\naddress = \"10.0.0.4:8");
    ASSERT_EQ(partial.size(), 1u);
    EXPECT_EQ(partial[0].rfind("inv.toml:2:", 0), 0u) << partial[0];
}

TEST(FileInventory, HostileBytesAreRefusedNotHandedToTomlPlusPlus) {
    // U+0101 outside a string: toml++ 3.3 would reach __builtin_unreachable() classifying it.
    auto r = parseInventory("[[target]]\naddress = \"10.0.0.4:80\"\n\xC4\x81 = 1\n", "inv.toml");
    EXPECT_FALSE(r.targets);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].rfind("inv.toml:3:1: unexpected character", 0), 0u) << r.errors[0];
    // Invalid UTF-8 and NUL bytes are reported by the parser, with a position.
    for (std::string_view bad : {std::string_view("address = \"\xff\"\n"),
                                 std::string_view("[[target]]\n\0x = 1\n", 17)}) {
        auto b = parseInventory(bad, "inv.toml");
        EXPECT_FALSE(b.targets);
        ASSERT_EQ(b.errors.size(), 1u);
        EXPECT_EQ(b.errors[0].rfind("inv.toml:", 0), 0u);
    }
}

// The config loader fuzzer's corpus (hostile TOML, toml++ crash reproducers included) as
// inventories: every input ends in a set or in positioned errors, never in a crash (this runs
// under ASan + UBSan in the sanitizer build).
TEST(FileInventory, TheConfigFuzzCorpusNeverCrashesTheParser) {
    const fs::path dir = fs::path(POSTERN_SOURCE_DIR) / "tests/fuzz/corpus/config_loader";
    if (!fs::is_directory(dir)) GTEST_SKIP() << "no " << dir;
    int inputs = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::ifstream in(entry.path(), std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        auto r = parseInventory(text, "inv.toml");
        ++inputs;
        EXPECT_NE(r.targets.has_value(), !r.errors.empty()) << entry.path();
        for (const auto& e : r.errors) EXPECT_EQ(e.rfind("inv.toml:", 0), 0u) << e;
    }
    EXPECT_GT(inputs, 10);
}

// ---- change detection on real files -----------------------------------------------------------

class FileWatcherTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("postern_file_discovery_" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        path_ = (dir_ / "backends.toml").string();
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    static std::string inventory(std::initializer_list<std::string> addresses, int weight = 1) {
        std::string text;
        for (const auto& a : addresses)
            text +=
                "[[target]]\naddress = \"" + a + "\"\nweight = " + std::to_string(weight) + "\n";
        return text;
    }
    void write(const std::string& path, const std::string& text) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
    }
    /** Polls until the set has `n` targets, at most `rounds` rounds. */
    static bool pollUntil(InventoryWatcher& w, std::size_t n, int rounds = 4) {
        for (int i = 0; i < rounds; ++i) {
            w.poll();
            if (w.targets().size() == n) return true;
        }
        return false;
    }
    InventoryWatcher watcher() {
        return InventoryWatcher(path_, [this](postern::sdk::LogLevel level, std::string_view m) {
            log_.emplace_back(level, std::string(m));
        });
    }
    std::size_t logged(std::string_view part) const {
        std::size_t n = 0;
        for (const auto& [level, line] : log_) n += line.find(part) != std::string::npos;
        return n;
    }

    fs::path dir_;
    std::string path_;
    std::vector<std::pair<postern::sdk::LogLevel, std::string>> log_;
};

TEST_F(FileWatcherTest, AMissingFileAtStartIsAnError) {
    auto w = watcher();
    std::vector<std::string> errors;
    EXPECT_FALSE(w.load(errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].rfind("cannot read inventory '" + path_ + "': ", 0), 0u) << errors[0];
}

TEST_F(FileWatcherTest, ABadFileAtStartGivesItsErrors) {
    write(path_, "[[target]]\naddress = \"a:0\"\n");
    auto w = watcher();
    std::vector<std::string> errors;
    EXPECT_FALSE(w.load(errors));
    EXPECT_EQ(errors, (std::vector<std::string>{
                          path_ + ":2:11: invalid address \"a:0\": port must be from 1 to 65535"}));
}

TEST_F(FileWatcherTest, AnEditInPlaceIsPickedUpOnceItIsStable) {
    write(path_, inventory({"127.0.0.1:1", "127.0.0.2:1"}));
    auto w = watcher();
    std::vector<std::string> errors;
    ASSERT_TRUE(w.load(errors));
    ASSERT_EQ(w.targets().size(), 2u);
    w.poll();  // nothing changed
    EXPECT_EQ(w.versions(), 0u);

    write(path_, inventory({"127.0.0.1:1", "127.0.0.2:1", "127.0.0.3:1"}, 5));
    w.poll();  // seen changed: waits one round for the writer to finish
    ASSERT_TRUE(pollUntil(w, 3, 2));
    EXPECT_EQ(w.targets()[2].host, "127.0.0.3");
    EXPECT_EQ(w.targets()[0].weight, 5u);
    EXPECT_EQ(logged("re-read: 3 targets (1 added, 0 removed, 2 changed)"), 1u);
}

TEST_F(FileWatcherTest, ABadVersionKeepsTheLastGoodSetAndIsLoggedOnce) {
    write(path_, inventory({"127.0.0.1:1"}));
    auto w = watcher();
    std::vector<std::string> errors;
    ASSERT_TRUE(w.load(errors));

    write(path_, "[[target]]\naddress = \"127.0.0.1:1\"\nweight = 0\n");
    for (int i = 0; i < 6; ++i) w.poll();
    ASSERT_EQ(w.targets().size(), 1u);
    EXPECT_EQ(w.targets()[0].weight, 1u);
    EXPECT_EQ(logged(path_ + ":3:10: weight must be from 1 to 1000000, got 0"), 1u);
    EXPECT_EQ(logged("rejected (1 error); keeping the last good set of 1 target"), 1u);

    // The same bad bytes again (rewritten, touched): not logged again.
    write(path_, "[[target]]\naddress = \"127.0.0.1:1\"\nweight = 0\n");
    for (int i = 0; i < 6; ++i) w.poll();
    EXPECT_EQ(logged(":3:10: weight must be"), 1u);
    // Another bad version is.
    write(path_, "[[target]]\naddress = \"127.0.0.1:1\"\nweight = -1\n");
    for (int i = 0; i < 6; ++i) w.poll();
    EXPECT_EQ(logged(":3:10: weight must be from 1 to 1000000, got -1"), 1u);
    // A good one is taken.
    write(path_, inventory({"127.0.0.1:1", "127.0.0.9:1"}));
    EXPECT_TRUE(pollUntil(w, 2));
}

TEST_F(FileWatcherTest, AnAtomicReplaceIsPickedUp) {
    write(path_, inventory({"127.0.0.1:1"}));
    auto w = watcher();
    std::vector<std::string> errors;
    ASSERT_TRUE(w.load(errors));
    const std::string temp = (dir_ / ".backends.toml.tmp").string();
    write(temp, inventory({"127.0.0.4:1", "127.0.0.5:1"}));
    fs::rename(temp, path_);
    ASSERT_TRUE(pollUntil(w, 2));
    EXPECT_EQ(w.targets()[0].host, "127.0.0.4");
}

TEST_F(FileWatcherTest, ADeletedFileKeepsTheSetUntilItIsBack) {
    write(path_, inventory({"127.0.0.1:1", "127.0.0.2:1"}));
    auto w = watcher();
    std::vector<std::string> errors;
    ASSERT_TRUE(w.load(errors));
    fs::remove(path_);
    for (int i = 0; i < 5; ++i) w.poll();
    EXPECT_EQ(w.targets().size(), 2u);
    EXPECT_EQ(logged("keeping the last good set of 2 targets"), 1u);  // once, not every round
    write(path_, inventory({"127.0.0.1:1"}));
    ASSERT_TRUE(pollUntil(w, 1));
    EXPECT_EQ(logged("is back"), 1u);
}

TEST_F(FileWatcherTest, AWriteThatKeepsSizeAndModificationTimeIsStillSeen) {
    write(path_, inventory({"127.0.0.1:1"}));
    auto w = watcher();
    std::vector<std::string> errors;
    ASSERT_TRUE(w.load(errors));
    const auto mtime = fs::last_write_time(path_);
    for (int i = 0; i < 3; ++i) w.poll();      // settle (the racy re-read happens here, too)
    write(path_, inventory({"127.0.0.2:1"}));  // same size
    fs::last_write_time(path_, mtime);         // and the old modification time
    ASSERT_TRUE(pollUntil(w, 1));
    ASSERT_TRUE([&] {
        for (int i = 0; i < 4; ++i) {
            if (w.targets()[0].host == "127.0.0.2") return true;
            w.poll();
        }
        return false;
    }());
}

TEST_F(FileWatcherTest, IdenticalBytesChangeNothing) {
    write(path_, inventory({"127.0.0.1:1"}));
    auto w = watcher();
    std::vector<std::string> errors;
    ASSERT_TRUE(w.load(errors));
    write(path_, inventory({"127.0.0.1:1"}));
    for (int i = 0; i < 4; ++i) w.poll();
    EXPECT_EQ(w.versions(), 0u);
    EXPECT_EQ(logged("re-read"), 0u);
}

// ---- the plugin through its C ABI -------------------------------------------------------------

struct Created {
    postern::plugin::Registry registry;
    const postern::plugin::LoadedPlugin* plugin = nullptr;
    void* instance = nullptr;
    std::vector<std::string> errors;
    ~Created() {
        if (instance) plugin->descriptor->discovery->destroy(instance);
    }
};

void create(Created& c, Value table, const std::string& base_dir) {
    c.registry.scan({POSTERN_TEST_PLUGIN_DIR});
    c.plugin = c.registry.find(POSTERN_KIND_DISCOVERY, "file");
    ASSERT_NE(c.plugin, nullptr);
    FakeConfig config(std::move(table));
    config.setBaseDir(base_dir);
    c.instance = c.plugin->descriptor->discovery->create(config.raw(), c.registry.host(*c.plugin));
    config.reportUnknownKeys();
    c.errors = config.lines();
}

TEST_F(FileWatcherTest, PluginResolvesARelativePathAndReportsTheSetEveryRound) {
    write(path_,
          "[[target]]\naddress = \"127.0.0.1:7\"\nweight = 3\nregion = \"r\"\npriority = 2\n"
          "max_connections = 9\n");
    Created c;
    create(c, Value::table({{"path", Value::string("backends.toml")}}), dir_.string());
    ASSERT_NE(c.instance, nullptr) << testing::PrintToString(c.errors);
    const auto* ops = c.plugin->descriptor->discovery;
    EXPECT_EQ(ops->next_refresh_ms(c.instance), 1000);
    for (int round = 0; round < 2; ++round) {
        FakeSink sink;
        ops->discover(c.instance, &sink.sink, 1000);
        ASSERT_EQ(sink.targets.size(), 1u);
        EXPECT_EQ(sink.targets[0].host, "127.0.0.1");
        EXPECT_EQ(sink.targets[0].port, 7);
        EXPECT_EQ(sink.targets[0].weight, 3u);
        EXPECT_EQ(sink.targets[0].max_connections, 9u);
        EXPECT_EQ(sink.targets[0].region, "r");
        EXPECT_EQ(sink.targets[0].priority, 2u);
        EXPECT_TRUE(sink.failures.empty());
    }
}

TEST_F(FileWatcherTest, PluginConfigErrorsAreAtThePathKey) {
    {
        Created c;
        create(c, Value::table({}), dir_.string());
        EXPECT_EQ(c.instance, nullptr);
        ASSERT_EQ(c.errors.size(), 1u);
        EXPECT_EQ(c.errors[0].rfind("<root>: needs 'path'", 0), 0u) << c.errors[0];
    }
    {
        Created c;
        create(c,
               Value::table({{"path", Value::string("missing.toml")}, {"pth", Value::integer(1)}}),
               dir_.string());
        EXPECT_EQ(c.instance, nullptr);
        ASSERT_EQ(c.errors.size(), 2u) << testing::PrintToString(c.errors);
        EXPECT_EQ(c.errors[0].rfind("path: cannot read inventory '" + dir_.string(), 0), 0u)
            << c.errors[0];
        EXPECT_NE(c.errors[0].find("missing.toml': "), std::string::npos) << c.errors[0];
        EXPECT_EQ(c.errors[1], "pth: unknown key 'pth'");
    }
    {
        write(path_, "[[target]]\naddress = \"127.0.0.1:7\"\nweight = 0\nx = 1\n");
        Created c;
        create(c, Value::table({{"path", Value::string(path_)}}), "/elsewhere");
        EXPECT_EQ(c.instance, nullptr);
        EXPECT_EQ(c.errors, (std::vector<std::string>{
                                "path: " + path_ + ":3:10: weight must be from 1 to 1000000, got 0",
                                "path: " + path_ + ":4:1: unknown key 'x' in [[target]]"}));
    }
    {
        Created c;
        create(c, Value::table({{"path", Value::integer(3)}}), dir_.string());
        EXPECT_EQ(c.errors, (std::vector<std::string>{
                                "path: path must be a string (a file name), not an integer"}));
    }
}

}  // namespace
