// The PROXY protocol keys of the config: trusted_proxies CIDRs are parsed and checked, each bad
// entry reported at its own position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "net/socket_address.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::ip;
using test::kMinimalPool;
using test::loadText;
using test::withListenerKeys;


TEST(ProxyProtocolConfig, TrustedProxiesParsed) {
    LoadResult r =
        loadText(withListenerKeys(R"(trusted_proxies = ["10.0.0.0/8", "::1", "192.168.1.7"])"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& trusted = r.config->listeners[0].trusted_proxies;
    ASSERT_EQ(trusted.size(), 3u);
    EXPECT_EQ(trusted.ranges()[0].toString(), "10.0.0.0/8");
    EXPECT_EQ(trusted.ranges()[1].toString(), "::1/128");
    EXPECT_EQ(trusted.ranges()[2].toString(), "192.168.1.7/32");
    EXPECT_TRUE(trusted.contains(ip("10.9.8.7")));
    EXPECT_TRUE(trusted.contains(ip("::1")));
    EXPECT_FALSE(trusted.contains(ip("192.168.1.8")));
    EXPECT_FALSE(r.config->listeners[0].accept_proxy);
}

TEST(ProxyProtocolConfig, DefaultsAreOff) {
    LoadResult r = loadText(withListenerKeys(""));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_FALSE(r.config->listeners[0].accept_proxy);
    EXPECT_TRUE(r.config->listeners[0].trusted_proxies.empty());
    EXPECT_EQ(r.config->pools[0].backend.proxy_protocol, ProxyProtocol::Off);
    EXPECT_FALSE(r.config->pools[0].backend.proxy_protocol_crc);
}

TEST(ProxyProtocolConfig, BadCidrsReportedAtEachEntry) {
    LoadResult r = loadText(withListenerKeys(
        R"(trusted_proxies = ["10.0.0.0/33", "10.0.0.0/8", "db.example", "10.1.0.0/8", "::1/"])"));
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              (std::vector<std::string>{
                  "t.toml:5:20: invalid 'trusted_proxies' entry \"10.0.0.0/33\": prefix length 33 "
                  "is larger than 32",
                  "t.toml:5:49: invalid 'trusted_proxies' entry \"db.example\": \"db.example\" is "
                  "not an IP address",
                  "t.toml:5:63: invalid 'trusted_proxies' entry \"10.1.0.0/8\": \"10.1.0.0/8\" has "
                  "bits set after the prefix; did you mean \"10.0.0.0/8\"?",
                  "t.toml:5:77: invalid 'trusted_proxies' entry \"::1/\": missing prefix length "
                  "after '/'",
              }));
}

TEST(ProxyProtocolConfig, EveryKeyRead) {
    LoadResult r = loadText(R"([[listener]]
name = "in"
bind = ["127.0.0.1:0"]
pool = "pg"
accept_proxy = true
trusted_proxies = ["10.0.0.0/8"]
[[pool]]
name = "pg"
  [pool.backend]
  proxy_protocol = "v2"
  proxy_protocol_crc = true
  [pool.discovery]
  targets = ["10.0.0.4:5432"]
  [pool.probe]
  proxy_protocol = true
)");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_TRUE(r.config->listeners[0].accept_proxy);
    EXPECT_EQ(r.config->pools[0].backend.proxy_protocol, ProxyProtocol::V2);
    EXPECT_TRUE(r.config->pools[0].backend.proxy_protocol_crc);
    ASSERT_TRUE(r.config->pools[0].probe);
    EXPECT_EQ(r.config->pools[0].probe->proxy_protocol_explicit, std::optional<bool>(true));

    LoadResult v1 =
        loadText(withListenerKeys("") + "  [pool.backend]\n  proxy_protocol = \"v1\"\n");
    ASSERT_TRUE(v1.config) << testing::PrintToString(errorLines(v1));
    EXPECT_EQ(v1.config->pools[0].backend.proxy_protocol, ProxyProtocol::V1);
}

TEST(ProxyProtocolConfig, AcceptProxyNeedsTrustedProxies) {
    LoadResult r = loadText(withListenerKeys("accept_proxy = true"));
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              (std::vector<std::string>{
                  "t.toml:5:16: 'accept_proxy' = true needs 'trusted_proxies': the addresses "
                  "allowed to send a PROXY header"}));
    // A bad entry is reported once, not also as "no trusted_proxies".
    LoadResult bad = loadText(withListenerKeys("accept_proxy = true\ntrusted_proxies = [\"x\"]"));
    EXPECT_EQ(
        errorLines(bad),
        (std::vector<std::string>{
            "t.toml:6:20: invalid 'trusted_proxies' entry \"x\": \"x\" is not an IP address"}));
}

TEST(ProxyProtocolConfig, CrcNeedsV2) {
    LoadResult r =
        loadText(withListenerKeys("") +
                 "  [pool.backend]\n  proxy_protocol = \"v1\"\n  proxy_protocol_crc = true\n");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), (std::vector<std::string>{
                                 "t.toml:13:24: 'proxy_protocol_crc' = true needs proxy_protocol "
                                 "= \"v2\""}));
}

}  // namespace
}  // namespace postern::config
