#include "proxy/proxy_header_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>

using postern::proxy::ProxyHeaderReader;
using Status = ProxyHeaderReader::Status;

namespace {

/** A connected pair of non-blocking stream sockets: [0] is read by the reader, [1] writes. */
class SocketPair {
public:
    SocketPair() {
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
        ::fcntl(fds_[0], F_SETFL, ::fcntl(fds_[0], F_GETFL) | O_NONBLOCK);
    }
    ~SocketPair() {
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    int readSide() const { return fds_[0]; }
    void write(const std::string& data) {
        ASSERT_EQ(::send(fds_[1], data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    }
    void closeWriter() {
        ::close(fds_[1]);
        fds_[1] = -1;
    }
    /** Everything readable now on the reader's side. */
    std::string drain() {
        std::string out;
        char buf[4096];
        for (int i = 0; i < 64; ++i) {
            ssize_t n = ::recv(fds_[0], buf, sizeof buf, 0);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

private:
    int fds_[2] = {-1, -1};
};

std::array<char, postern::proxy::kMaxHeaderLength> scratch;

}  // namespace

TEST(ProxyHeaderReader, TakesExactlyTheHeader) {
    SocketPair s;
    s.write("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nEHLO client\r\n");
    ProxyHeaderReader r;
    ASSERT_EQ(r.read(s.readSide(), scratch), Status::Done) << r.reason();
    EXPECT_EQ(r.info().source.toString(), "192.0.2.7:56324");
    EXPECT_EQ(r.info().destination.toString(), "198.51.100.1:443");
    EXPECT_EQ(s.drain(), "EHLO client\r\n");
}

TEST(ProxyHeaderReader, HeaderInPiecesThenPayload) {
    SocketPair s;
    ProxyHeaderReader r;
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::NeedMore);  // nothing yet
    s.write("PROXY TCP6 2001:db8::1 ");
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::NeedMore);
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::NeedMore);  // no new bytes: still waiting
    s.write("2001:db8::2 1000 2000\r");
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::NeedMore);
    s.write("\nPROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n");  // the payload may look like a header too
    ASSERT_EQ(r.read(s.readSide(), scratch), Status::Done) << r.reason();
    EXPECT_EQ(r.info().source.toString(), "[2001:db8::1]:1000");
    EXPECT_EQ(s.drain(), "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n");
}

TEST(ProxyHeaderReader, BinaryHeaderWithLargePayload) {
    SocketPair s;
    // Signature, PROXY, TCP over IPv4, 12 bytes: 127.0.0.4:5000 -> 127.0.0.1:80.
    const std::string header(
        "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
        "\x7f\x00\x00\x04\x7f\x00\x00\x01\x13\x88\x00\x50",
        28);
    const std::string payload(10000, 'p');
    s.write(header + payload);
    ProxyHeaderReader r;
    ASSERT_EQ(r.read(s.readSide(), scratch), Status::Done) << r.reason();
    EXPECT_EQ(r.info().source.toString(), "127.0.0.4:5000");
    EXPECT_EQ(r.info().destination.toString(), "127.0.0.1:80");
    const std::string rest = s.drain();
    EXPECT_EQ(rest.size(), payload.size());
    EXPECT_TRUE(rest == payload);
}

TEST(ProxyHeaderReader, InvalidLeavesReason) {
    SocketPair s;
    s.write("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");  // a TLS ClientHello, no header
    ProxyHeaderReader r;
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::Invalid);
    EXPECT_EQ(r.reason(), "not a PROXY protocol header");
}

TEST(ProxyHeaderReader, ClosedBeforeComplete) {
    SocketPair s;
    s.write("PROXY TCP4 1.2.3.4");
    ProxyHeaderReader r;
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::NeedMore);
    s.closeWriter();
    // The unread bytes hide the FIN from a peek: only the caller's RDHUP knows.
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::NeedMore);
    EXPECT_EQ(r.read(s.readSide(), scratch, true), Status::Closed);
    EXPECT_EQ(r.reason(), "connection closed before the PROXY header was complete");
}

TEST(ProxyHeaderReader, ClosedWithNothingSent) {
    SocketPair s;
    s.closeWriter();
    ProxyHeaderReader r;
    EXPECT_EQ(r.read(s.readSide(), scratch), Status::Closed);
}

TEST(ProxyHeaderReader, CompleteHeaderThenFinIsDone) {
    SocketPair s;
    s.write("PROXY UNKNOWN\r\n");
    s.closeWriter();
    ProxyHeaderReader r;
    EXPECT_EQ(r.read(s.readSide(), scratch, true), Status::Done);
    EXPECT_EQ(s.drain(), "");
}
