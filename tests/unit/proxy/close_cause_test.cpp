#include "proxy/close_cause.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy/access_control.h"
#include "proxy/listener_stats.h"

namespace postern::proxy {
namespace {

TEST(CloseCause, NamesAreUniqueAndRoundTrip) {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < kCloseCauseCount; ++i) {
        const auto cause = static_cast<CloseCause>(i);
        const std::string_view name = closeCauseName(cause);
        EXPECT_FALSE(name.empty()) << i;
        EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
        // Access-log names are lowercase words joined by '_' (grepped by users and tests).
        for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
        ASSERT_TRUE(closeCauseFromName(name).has_value()) << name;
        EXPECT_EQ(*closeCauseFromName(name), cause);
    }
    EXPECT_FALSE(closeCauseFromName("no_such_cause").has_value());
    EXPECT_FALSE(closeCauseFromName("").has_value());
}

TEST(CloseCause, NamesOfTheAccessLogStayTheSame) {
    // The names documented in SPEC §6 and written by earlier releases: renaming one breaks the
    // log readers of users.
    EXPECT_EQ(closeCauseName(CloseCause::ClientFin), "client_fin");
    EXPECT_EQ(closeCauseName(CloseCause::BackendFin), "backend_fin");
    EXPECT_EQ(closeCauseName(CloseCause::IdleTimeout), "idle_timeout");
    EXPECT_EQ(closeCauseName(CloseCause::ConnectFailed), "connect_failed");
    EXPECT_EQ(closeCauseName(CloseCause::NoBackend), "no_backend");
    EXPECT_EQ(closeCauseName(CloseCause::NoCapacity), "no_capacity");
    EXPECT_EQ(closeCauseName(CloseCause::NoResources), "no_resources");
    EXPECT_EQ(closeCauseName(CloseCause::Drained), "drained");
    EXPECT_EQ(closeCauseName(CloseCause::Shutdown), "shutdown");
    EXPECT_EQ(closeCauseName(CloseCause::BackendReset), "backend_reset");
    EXPECT_EQ(closeCauseName(CloseCause::ClientReset), "client_reset");
    EXPECT_EQ(closeCauseName(CloseCause::TlsFailed), "tls_failed");
    EXPECT_EQ(closeCauseName(CloseCause::ProxyUntrusted), "proxy_untrusted");
    EXPECT_EQ(closeCauseName(CloseCause::ProxyInvalid), "proxy_invalid");
    EXPECT_EQ(closeCauseName(CloseCause::ProxyTimeout), "proxy_timeout");
    EXPECT_EQ(closeCauseName(CloseCause::RefusedMaxConnections), "refused_max_connections");
    EXPECT_EQ(closeCauseName(CloseCause::WsIdleTimeout), "ws_idle_timeout");
    EXPECT_EQ(closeCauseName(CloseCause::WsMaxSession), "ws_max_session");
    EXPECT_EQ(closeCause(AccessRefusal::Acl), CloseCause::RefusedAcl);
    EXPECT_EQ(closeCauseName(closeCause(AccessRefusal::ClientRate)), "refused_client_rate");
    EXPECT_EQ(closeCauseName(closeCause(AccessRefusal::ClientLimit)), "refused_client_limit");
}

TEST(CloseCause, ListenerStatsCountEachCause) {
    ListenerStats stats(2);
    stats.worker(0).countClose(CloseCause::BackendFin);
    stats.worker(1).countClose(CloseCause::BackendFin);
    stats.worker(1).countClose(CloseCause::WsMaxSession);
    const ListenerTotals totals = stats.sum();
    EXPECT_EQ(totals.closedBy(CloseCause::BackendFin), 2u);
    EXPECT_EQ(totals.closedBy(CloseCause::WsMaxSession), 1u);
    EXPECT_EQ(totals.closedBy(CloseCause::ClientFin), 0u);
}

}  // namespace
}  // namespace postern::proxy
