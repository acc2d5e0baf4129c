// The SNI a tcp listener peeks from a ClientHello: real hellos from an OpenSSL client (memory
// BIOs, no network) — TLS 1.2 and 1.3, with and without SNI, split over records — every prefix
// of them (NeedMore until complete), and broken or foreign bytes.
#include "tls/client_hello_sni.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace postern::tls {
namespace {

struct HelloOptions {
    const char* sni = nullptr;
    int max_version = TLS1_3_VERSION;
    const char* groups = nullptr;
};

/** The first bytes an OpenSSL client sends: its ClientHello record(s). */
std::string opensslHello(const HelloOptions& o) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx, o.max_version);
    if (o.groups) SSL_CTX_set1_groups_list(ctx, o.groups);
    SSL* ssl = SSL_new(ctx);
    if (o.sni) SSL_set_tlsext_host_name(ssl, o.sni);
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    SSL_do_handshake(ssl);
    char* data = nullptr;
    const long n = BIO_get_mem_data(wbio, &data);
    std::string out(data, n > 0 ? static_cast<std::size_t>(n) : 0);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return out;
}

/** `hello` (one record) re-split into records of `first` handshake bytes, then the rest. */
std::string splitRecords(const std::string& hello, std::size_t first) {
    const std::string body = hello.substr(5);
    auto record = [&](const std::string& part) {
        std::string r = hello.substr(0, 3);
        r += static_cast<char>(part.size() >> 8);
        r += static_cast<char>(part.size() & 0xff);
        return r + part;
    };
    return record(body.substr(0, first)) + record(body.substr(first));
}

HelloSni read(const std::string& bytes) {
    return readHelloSni(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

/** Every strict prefix reads NeedMore; the whole reads `status` (and `name` when Found). */
void expectIncrementally(const std::string& bytes, HelloStatus status, std::string_view name = {}) {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        const HelloSni r = read(bytes.substr(0, n));
        ASSERT_EQ(r.status(), HelloStatus::NeedMore) << "prefix of " << n << " bytes: " << r.why();
    }
    const HelloSni r = read(bytes);
    EXPECT_EQ(r.status(), status) << r.why();
    EXPECT_EQ(r.name(), name);
}

TEST(ClientHelloSni, RealHellosWithAndWithoutSni) {
    const std::string tls13 = opensslHello({.sni = "api.example.com"});
    ASSERT_GT(tls13.size(), 100u);
    expectIncrementally(tls13, HelloStatus::Found, "api.example.com");
    expectIncrementally(
        opensslHello({.sni = "Mixed.Case.Example.COM", .max_version = TLS1_2_VERSION}),
        HelloStatus::Found, "Mixed.Case.Example.COM");
    expectIncrementally(opensslHello({}), HelloStatus::NoSni);
    expectIncrementally(opensslHello({.max_version = TLS1_2_VERSION}), HelloStatus::NoSni);
    const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(61, 'd');
    EXPECT_EQ(read(opensslHello({.sni = longest.c_str()})).name(), longest);
}

TEST(ClientHelloSni, BytesAfterTheHelloAreIgnored) {
    const std::string hello = opensslHello({.sni = "a.example.com"});
    const HelloSni r = read(hello + std::string("\x17\x03\x03\x00\x05hello", 10));
    EXPECT_EQ(r.status(), HelloStatus::Found);
    EXPECT_EQ(r.name(), "a.example.com");
}

TEST(ClientHelloSni, HelloSplitOverRecords) {
    const std::string hello = opensslHello({.sni = "split.example.com"});
    // Split in the fixed fields, and inside the server name itself.
    expectIncrementally(splitRecords(hello, 40), HelloStatus::Found, "split.example.com");
    const std::size_t in_name = hello.find("split.example.com") - 5 + 3;
    expectIncrementally(splitRecords(hello, in_name), HelloStatus::Found, "split.example.com");
    // Sixteen records are read; seventeen are more than a hello may be split into.
    auto records = [&](std::size_t count) {
        const std::string body = hello.substr(5);
        std::string out;
        for (std::size_t i = 0; i < count; ++i) {
            const std::string part = i + 1 < count ? body.substr(i, 1) : body.substr(i);
            out += hello.substr(0, 3) + static_cast<char>(part.size() >> 8) +
                   static_cast<char>(part.size() & 0xff) + part;
        }
        return out;
    };
    EXPECT_EQ(read(records(16)).name(), "split.example.com");
    const std::string many = records(17);
    EXPECT_EQ(read(many).status(), HelloStatus::Malformed);
    EXPECT_STREQ(read(many).why(), "a ClientHello split into more than 16 records");
}

TEST(ClientHelloSni, NotTls) {
    for (const std::string& bytes :
         {std::string("GET / HTTP/1.1\r\n"), std::string("G"), std::string("\x16\x01", 2),
          std::string("\x80\x2e\x01\x03\x01", 5) /* SSLv2-compatible hello */,
          std::string("\x16\x03\x05\x00\x10", 5), std::string("SSH-2.0-OpenSSH\r\n")}) {
        const HelloSni r = read(bytes);
        EXPECT_EQ(r.status(), HelloStatus::NotTls) << bytes;
    }
    EXPECT_EQ(read("").status(), HelloStatus::NeedMore);
    EXPECT_EQ(read(std::string("\x16", 1)).status(), HelloStatus::NeedMore);
    EXPECT_EQ(read(std::string("\x16\x03\x01\x02", 4)).status(), HelloStatus::NeedMore);
}

/** `hello` with the byte at `offset` replaced. */
std::string patched(std::string hello, std::size_t offset, unsigned char value) {
    hello[offset] = static_cast<char>(value);
    return hello;
}

TEST(ClientHelloSni, Malformed) {
    const std::string hello = opensslHello({.sni = "a.example.com", .max_version = TLS1_2_VERSION});
    auto why = [](const std::string& bytes) {
        const HelloSni r = read(bytes);
        EXPECT_EQ(r.status(), HelloStatus::Malformed);
        return std::string(r.why());
    };
    EXPECT_EQ(why(std::string("\x16\x03\x01\x00\x00", 5)), "an empty handshake record");
    EXPECT_EQ(why(std::string("\x16\x03\x01\x40\x01", 5)), "a record longer than 16384 bytes");
    EXPECT_EQ(why(patched(hello, 5, 2)), "the first handshake message is not a ClientHello");
    EXPECT_EQ(why(std::string("\x16\x03\x01\x00\x04\x01\x00\x40\x01", 9)),
              "a ClientHello longer than 16384 bytes");
    EXPECT_EQ(why(patched(hello, 9, 0x02)), "not a TLS ClientHello version");
    // The session id length (after type, length, version, random) beyond 32.
    EXPECT_EQ(why(patched(hello, 5 + 4 + 2 + 32, 33)), "inconsistent ClientHello lengths");
    // The handshake length one byte short of the record: the extensions no longer fit.
    const std::size_t hs_len =
        (static_cast<unsigned char>(hello[7]) << 8) | static_cast<unsigned char>(hello[8]);
    std::string shorter = patched(hello, 7, static_cast<unsigned char>((hs_len - 1) >> 8));
    shorter = patched(shorter, 8, static_cast<unsigned char>((hs_len - 1) & 0xff));
    EXPECT_EQ(why(shorter), "inconsistent ClientHello lengths");
    // A non-printable byte in the name.
    const std::size_t name_at = hello.find("a.example.com");
    EXPECT_EQ(why(patched(hello, name_at + 1, 0)),
              "a server name with a byte that is not printable ASCII");
    // Another record type after the first record of a split hello.
    std::string split = splitRecords(hello, 40);
    EXPECT_EQ(why(patched(split, 5 + 40, 23)), "another record type inside the ClientHello");
    // The server_name list length off by one.
    EXPECT_EQ(why(patched(hello, name_at - 4, static_cast<unsigned char>(hello[name_at - 4] + 1))),
              "an inconsistent server_name extension");
}

TEST(ClientHelloSni, HandBuiltHellos) {
    // A minimal ClientHello: version, random, no session id, one suite, null compression, then
    // `extensions` (omitted entirely when empty and `with_block` is false).
    auto build = [](const std::string& extensions, bool with_block) {
        std::string body = std::string("\x03\x03", 2) + std::string(32, 'r') +
                           std::string("\x00\x00\x02\x13\x01\x01\x00", 7);
        if (with_block) {
            body += static_cast<char>(extensions.size() >> 8);
            body += static_cast<char>(extensions.size() & 0xff);
            body += extensions;
        }
        std::string hs = std::string("\x01\x00", 2) + static_cast<char>(body.size() >> 8) +
                         static_cast<char>(body.size() & 0xff) + body;
        return std::string("\x16\x03\x01", 3) + static_cast<char>(hs.size() >> 8) +
               static_cast<char>(hs.size() & 0xff) + hs;
    };
    auto sniExtension = [](const std::string& entries) {
        std::string list = std::string(1, static_cast<char>(entries.size() >> 8)) +
                           static_cast<char>(entries.size() & 0xff) + entries;
        return std::string("\x00\x00", 2) + static_cast<char>(list.size() >> 8) +
               static_cast<char>(list.size() & 0xff) + list;
    };
    auto hostName = [](const std::string& name, char type = 0) {
        return std::string(1, type) + static_cast<char>(name.size() >> 8) +
               static_cast<char>(name.size() & 0xff) + name;
    };
    EXPECT_EQ(read(build("", false)).status(), HelloStatus::NoSni);
    EXPECT_EQ(read(build("", true)).status(), HelloStatus::NoSni);
    EXPECT_EQ(read(build(sniExtension(hostName("x.test")), true)).name(), "x.test");
    // An unknown name type first is skipped; the host_name after it counts.
    EXPECT_EQ(read(build(sniExtension(hostName("zz", 7) + hostName("y.test")), true)).name(),
              "y.test");
    const HelloSni twice =
        read(build(sniExtension(hostName("a")) + sniExtension(hostName("b")), true));
    EXPECT_EQ(twice.why(), std::string("two server_name extensions"));
    EXPECT_EQ(twice.name(), "");  // the name read before the fault is not reported (fuzz find)
    EXPECT_EQ(read(build(sniExtension(hostName("")), true)).why(),
              std::string("a server name of 0 or over 255 bytes"));
    EXPECT_EQ(read(build(sniExtension(hostName(std::string(256, 'a'))), true)).why(),
              std::string("a server name of 0 or over 255 bytes"));
    EXPECT_EQ(read(build(sniExtension(""), true)).why(),
              std::string("an inconsistent server_name extension"));
    // An extension whose length runs past the block.
    EXPECT_EQ(read(build(std::string("\x00\x17\x00\x05\x00", 5), true)).status(),
              HelloStatus::Malformed);
}

TEST(ClientHelloSni, NeverNeedMoreAtTheLimit) {
    // A record header announcing the largest record, then nothing but filler: decided by the
    // time kMaxClientHelloBytes bytes are there.
    std::string big = std::string("\x16\x03\x01\x40\x00\x01\x00\x3f\xfc", 9);
    big.resize(kMaxClientHelloBytes, 'x');
    EXPECT_NE(read(big).status(), HelloStatus::NeedMore);
}

}  // namespace
}  // namespace postern::tls
