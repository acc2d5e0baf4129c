#include "codec/proxy_header_reader.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>

#include "net/socket_ops.h"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/socket.h>
#endif

using postern::codec::ProxyHeaderReader;
using Status = ProxyHeaderReader::Status;
namespace net = postern::net;

namespace {

/** A connected pair of stream sockets: [0] is read by the reader (non-blocking), [1] writes. */
class SocketPair {
public:
    SocketPair() {
#ifdef _WIN32
        // No socketpair on Windows: a loopback TCP connection (sends below are small enough for
        // the loopback buffers, so they arrive whole before the next read, as with AF_UNIX).
        std::string err;
        auto any = net::SocketAddress::fromIp("127.0.0.1", 0);
        net::Fd listener = net::listenSocket(*any, false, 1, &err);
        EXPECT_NE(listener, net::kInvalidFd) << err;
        int cerr = 0;
        fds_[1] = net::connectStart(net::localAddress(listener), &cerr);
        EXPECT_NE(fds_[1], net::kInvalidFd) << net::errorText(cerr);
        for (int i = 0; i < 5000 && fds_[0] == net::kInvalidFd; ++i) {
            fds_[0] = net::acceptConnection(listener, nullptr, nullptr);
            if (fds_[0] == net::kInvalidFd)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        EXPECT_NE(fds_[0], net::kInvalidFd) << "no connection accepted";
        net::closeFd(listener);
#else
        int fds[2] = {-1, -1};
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
        fds_[0] = fds[0];
        fds_[1] = fds[1];
#endif
    }
    ~SocketPair() {
        for (net::Fd fd : fds_) net::closeFd(fd);
    }
    net::Fd readSide() const { return fds_[0]; }
    void write(const std::string& data) {
        const auto r = net::sendSome(fds_[1], data.data(), data.size());
        ASSERT_EQ(r.status, net::IoStatus::Ok);
        ASSERT_EQ(r.bytes, data.size());
#ifdef _WIN32
        // TCP, unlike AF_UNIX, may still be delivering: wait until the reader can see it all.
        waitReadable(data.size());
#endif
    }
    void closeWriter() {
        net::closeFd(fds_[1]);
        fds_[1] = net::kInvalidFd;
#ifdef _WIN32
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the FIN arrive
#endif
    }
    /** Everything readable now on the reader's side. */
    std::string drain() {
        std::string out;
        char buf[4096];
        for (int i = 0; i < 64; ++i) {
            const auto r = net::recvSome(fds_[0], buf, sizeof buf);
            if (r.status != net::IoStatus::Ok) break;
            out.append(buf, r.bytes);
        }
        return out;
    }

private:
#ifdef _WIN32
    void waitReadable(std::size_t more) {
        pending_ += more;
        std::string peek(pending_, '\0');
        for (int i = 0; i < 2000; ++i) {
            const auto r = net::peekSome(fds_[0], peek.data(), peek.size());
            if (r.status == net::IoStatus::Ok && r.bytes >= pending_) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    std::size_t pending_ = 0;
#endif
    net::Fd fds_[2] = {net::kInvalidFd, net::kInvalidFd};
};

std::array<char, postern::codec::kMaxHeaderLength> scratch;

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
