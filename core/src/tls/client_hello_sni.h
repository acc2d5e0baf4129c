// Reads the server name (SNI) from the first bytes a TLS client sends — its ClientHello — without
// terminating TLS and without consuming anything: a tcp listener with SNI routes peeks at these
// bytes (MSG_PEEK), chooses a pool by the name, and relays every byte untouched to a backend that
// terminates TLS itself (TLS passthrough, as nginx's ssl_preread and HAProxy's req.ssl_sni).
//
// Sans-I/O and incremental: call it with every byte received so far (from the first); it answers
// NeedMore until it can decide. Strict: the record headers, the ClientHello's every length field
// and the extension list must be consistent, the hello complete; a hello split over up to
// kMaxHelloRecords records is reassembled. No allocation, no exception, never reads past `size`.
// At kMaxClientHelloBytes bytes the answer is final (never NeedMore), so that is what to peek at
// most. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace postern::tls {

/** Most handshake bytes a ClientHello may have here (one full record's worth; real ones, even
 * with post-quantum key shares, are under 2 KiB). */
inline constexpr std::size_t kMaxHelloLength = 16384;
/** Most TLS records a ClientHello may be split into. */
inline constexpr std::size_t kMaxHelloRecords = 16;
/** Bytes after which the answer is never NeedMore: every record header, the handshake header and
 * the longest hello. */
inline constexpr std::size_t kMaxClientHelloBytes = kMaxHelloRecords * 5 + 4 + kMaxHelloLength;

enum class HelloStatus {
    NeedMore,   ///< a prefix of a ClientHello so far: read more (up to kMaxClientHelloBytes)
    Found,      ///< a complete ClientHello with a host_name server name: name()
    NoSni,      ///< a complete ClientHello without one (an IP address, or a client sending none)
    NotTls,     ///< the bytes do not start a TLS handshake (plain text, SSLv2, another protocol)
    Malformed,  ///< a TLS handshake record, but not a valid ClientHello (why())
};

class HelloSni {
public:
    HelloStatus status() const { return status_; }
    /** Found: the server name as sent (not lowercased; 1 to 255 printable ASCII bytes). */
    std::string_view name() const { return {name_, length_}; }
    /** NotTls / Malformed: a static description, for the log. */
    const char* why() const { return why_; }

private:
    friend HelloSni readHelloSni(const std::uint8_t* data, std::size_t size) noexcept;
    HelloStatus status_ = HelloStatus::NeedMore;
    const char* why_ = "";
    std::size_t length_ = 0;
    char name_[255] = {};
};

/** Examines `data[0, size)`, the first bytes the client sent. */
HelloSni readHelloSni(const std::uint8_t* data, std::size_t size) noexcept;

const char* helloStatusName(HelloStatus s) noexcept;

}  // namespace postern::tls
