// Address ranges in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or a bare IP = one host), and a
// list of them: which peers a listener trusts to send a PROXY protocol header. Value types,
// immutable once built; any thread may read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket_address.h"

namespace postern::net {

/** The 16-byte IPv6 form of an IP address, IPv4 as v4-mapped (::ffff:a.b.c.d), so that an IPv4
 * peer and the same peer reported v4-mapped by a dual-stack socket give the same bytes. False
 * (and `out` untouched) for anything that is not IPv4 or IPv6. */
bool ipv6Bytes(const SocketAddress& addr, std::uint8_t out[16]);

class Cidr {
public:
    /** Parses "a.b.c.d/n" (n ≤ 32), "v6/n" (n ≤ 128) or a bare address (/32 or /128). Host bits
     * set below the prefix are an error, since they usually mean a typo ("10.1.0.0/8"). On
     * failure returns nullopt and sets *error to a fragment such as "prefix length 33 is larger
     * than 32". */
    static std::optional<Cidr> parse(std::string_view text, std::string* error);

    /** True when `addr` is inside the range. IPv4 ranges also match IPv4 peers that a dual-stack
     * socket reports v4-mapped (::ffff:a.b.c.d), and the other way round. */
    bool contains(const SocketAddress& addr) const;
    /** Canonical text: "10.0.0.0/8", "::1/128". */
    std::string toString() const;

private:
    // Stored as IPv6: an IPv4 range is ::ffff:a.b.c.d with prefix + 96.
    std::uint8_t bytes_[16] = {};
    unsigned prefix_ = 0;  ///< 0..128 in the IPv6 form
    bool ipv4_ = false;
};

class CidrList {
public:
    void add(const Cidr& cidr) { ranges_.push_back(cidr); }
    bool contains(const SocketAddress& addr) const;
    bool empty() const { return ranges_.empty(); }
    std::size_t size() const { return ranges_.size(); }
    const std::vector<Cidr>& ranges() const { return ranges_; }

private:
    std::vector<Cidr> ranges_;
};

}  // namespace postern::net
