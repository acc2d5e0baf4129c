// libFuzzer target for the first bytes a TLS listener reads: the fuzz input is everything the
// client sends (a ClientHello, mutated), then the client half-closes. The server side is built the
// way a `tls` listener builds it (ServerTlsContext from ServerTlsSettings: four certificates chosen
// by SNI — exact names, wildcards, RSA, ECDSA and Ed25519 keys — and ALPN) and driven through
// TlsStream on one end of a socket pair, exactly as a session drives it: the SNI callback, the
// certificate switch and ALPN selection run on every hello OpenSSL accepts. Besides "no crash, no
// sanitizer report, no leak" it checks that the handshake ends (it cannot complete: the input
// never carries a client Finished) with a failure reason, and that the server name and protocol
// the stream reports are consistent with what the listener serves.
//
// OpenSSL is not instrumented, so libFuzzer's edge coverage sees only Postern's side (callbacks,
// TlsStream). To steer it inside OpenSSL anyway, each run also sets an "extra counter" for what
// OpenSSL did with the input: the handshake state it stopped in, why it failed, the certificate
// SNI chose and whether ALPN matched; an input that makes OpenSSL stop somewhere new is kept.
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "fuzz_pki.h"
#include "tls/server_tls_context.h"

namespace {

using postern::net::IoStatus;
using postern::tls::ServerTlsContext;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

const std::vector<std::string> kAlpn = {"h2", "http/1.1", "postgresql"};

// libFuzzer treats every byte of this section as coverage counters (Linux, LLVM >= 6).
__attribute__((section("__libfuzzer_extra_counters"))) std::uint8_t g_outcome[4096];

/** Marks one outcome feature: `kind` (< 8) selects a 512-counter bank, `value` hashes into it. */
void markOutcome(unsigned kind, std::size_t value) {
    std::uint8_t& counter = g_outcome[kind * 512 + value % 512];
    if (counter < 255) ++counter;
}

std::size_t hashOf(std::string_view s) {
    std::size_t h = 14695981039346656037ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

/** The listener, built once. Its PEM files live in a temporary directory only while it is built. */
const ServerTlsContext& listener() {
    static const std::shared_ptr<const ServerTlsContext> ctx = [] {
        postern::common::Log::setLevel(postern::common::LogLevel::Error);
        using postern::fuzz::KeyKind;
        postern::fuzz::FuzzPki pki;
        struct Leaf {
            std::vector<std::string> names;
            KeyKind key;
        };
        const std::vector<Leaf> leaves = {
            {{"default.test"}, KeyKind::EcdsaP256},
            {{"api.example.com", "www.example.com"}, KeyKind::Rsa2048},
            {{"*.example.com"}, KeyKind::EcdsaP256},
            {{"svc.example.net", "*.svc.example.net"}, KeyKind::Ed25519},
        };
        const auto dir = postern::fuzz::makeTempDir("postern-hello-fuzz-");
        postern::tls::ServerTlsSettings settings;
        settings.name = "fuzz";
        settings.alpn = kAlpn;
        for (std::size_t i = 0; i < leaves.size(); ++i) {
            const auto pair = pki.issue(leaves[i].names, leaves[i].key);
            const auto cert = dir / ("leaf" + std::to_string(i) + ".pem");
            const auto key = dir / ("leaf" + std::to_string(i) + ".key");
            postern::fuzz::writeFile(cert, pair.cert);
            postern::fuzz::writeFile(key, pair.key);
            settings.certificates.push_back({{cert.string(), cert.filename().string()},
                                             {key.string(), key.filename().string()}});
        }
        std::vector<postern::tls::TlsProblem> problems;
        auto created = ServerTlsContext::create(settings, &problems);
        for (const auto& p : problems) std::fprintf(stderr, "listener: %s\n", p.message.c_str());
        check(created && problems.empty(), "the listener's TLS context cannot be built");
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
        return created;
    }();
    return *ctx;
}

/** Reads every byte of `s` (so ASan sees a view pointing outside live memory). */
std::size_t touch(std::string_view s) {
    std::size_t sum = 0;
    for (char c : s) sum += static_cast<unsigned char>(c);
    return sum;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    listener();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ServerTlsContext& ctx = listener();
    int fds[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0,
          "socketpair");
    const int server = fds[0];
    const int client = fds[1];
    // The client's bytes, then its FIN. Inputs are bounded by -max_len, far below the socket
    // buffer, so this never blocks.
    std::size_t sent = 0;
    while (sent < size) {
        const ssize_t n = ::send(client, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        check(n > 0, "the socket pair cannot hold the input (lower -max_len)");
        sent += static_cast<std::size_t>(n);
    }
    ::shutdown(client, SHUT_WR);

    {
        std::unique_ptr<postern::tls::TlsStream> stream = ctx.accept(server);
        check(stream != nullptr, "accept");
        IoStatus status = IoStatus::WouldBlock;
        // Every step either makes progress or ends: the server's flights fit in the socket buffer
        // and the client's bytes end in a FIN. The bound only turns a livelock into a report.
        int steps = 0;
        for (; steps < 64 && status == IoStatus::WouldBlock; ++steps) {
            stream->noteReadable();
            status = stream->handshake();
        }
        check(status != IoStatus::WouldBlock, "the handshake neither ends nor fails");
        check(status != IoStatus::Ok, "a handshake completed without a client Finished");
        check(!stream->failure().empty(), "a failed handshake needs a reason");
        touch(stream->failure());
        touch(stream->version());
        touch(stream->cipher());
        const std::string_view alpn = stream->alpn();
        if (!alpn.empty()) {
            bool ours = false;
            for (const auto& p : kAlpn) ours = ours || p == alpn;
            check(ours, "ALPN chose a protocol the listener does not serve");
        }
        const std::string_view name = stream->serverName();
        touch(name);
        std::size_t chosen = 0;  // the default certificate
        if (!name.empty()) {
            const auto index = ctx.sni().select(name);
            check(!index || *index < ctx.certificates().size(),
                  "SNI chose a certificate that is not there");
            chosen = index ? *index + 1 : 0;
        }
        SSL* ssl = stream->native();
        const std::size_t state = static_cast<std::size_t>(SSL_get_state(ssl));
        markOutcome(0, state);
        markOutcome(1, hashOf(stream->failure()));
        markOutcome(2, state * 64 + hashOf(stream->failure()) % 64);
        markOutcome(3, chosen * 16 + (alpn.empty() ? 0 : 1 + hashOf(alpn) % 8) +
                           static_cast<std::size_t>(SSL_version(ssl) & 0xf) * 128);
        markOutcome(4, hashOf(stream->cipher()));
        // A close_notify after a failure must not be sent (fatal_), and must not crash.
        stream->shutdown();
    }
    ::close(server);
    ::close(client);
    return 0;
}
