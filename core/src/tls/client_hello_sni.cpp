#include "tls/client_hello_sni.h"

namespace postern::tls {

namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHello = 1;
constexpr std::size_t kMaxRecordLength = 16384;  // TLSPlaintext.length (RFC 8446 §5.1)
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint8_t kHostName = 0;

/** The handshake bytes carried by the records seen so far, read front to back. */
class Stream {
public:
    void add(const std::uint8_t* p, std::size_t n) {
        ptr_[count_] = p;
        len_[count_] = n;
        ++count_;
        available_ += n;
    }
    std::size_t available() const { return available_; }
    /** Nothing past `n` is read: the bytes after the hello are not its fields. */
    void limit(std::size_t n) {
        if (n < available_) available_ = n;
    }
    std::size_t position() const { return position_; }

    /** False when the bytes are not there (yet). */
    bool u8(std::uint32_t& out) {
        if (position_ >= available_) return false;
        while (offset_ == len_[index_]) {
            ++index_;
            offset_ = 0;
        }
        out = ptr_[index_][offset_++];
        ++position_;
        return true;
    }
    bool uint(std::size_t bytes, std::uint32_t& out) {
        out = 0;
        for (std::size_t i = 0; i < bytes; ++i) {
            std::uint32_t b = 0;
            if (!u8(b)) return false;
            out = (out << 8) | b;
        }
        return true;
    }
    bool skip(std::size_t n) {
        std::uint32_t ignored = 0;
        for (std::size_t i = 0; i < n; ++i)
            if (!u8(ignored)) return false;
        return true;
    }

private:
    const std::uint8_t* ptr_[kMaxHelloRecords] = {};
    std::size_t len_[kMaxHelloRecords] = {};
    std::size_t count_ = 0;
    std::size_t available_ = 0;
    std::size_t index_ = 0;
    std::size_t offset_ = 0;
    std::size_t position_ = 0;
};

}  // namespace

const char* helloStatusName(HelloStatus s) noexcept {
    switch (s) {
        case HelloStatus::NeedMore:
            return "need_more";
        case HelloStatus::Found:
            return "found";
        case HelloStatus::NoSni:
            return "no_sni";
        case HelloStatus::NotTls:
            return "not_tls";
        case HelloStatus::Malformed:
            return "malformed";
    }
    return "?";
}

HelloSni readHelloSni(const std::uint8_t* data, std::size_t size) noexcept {
    HelloSni out;
    auto finish = [&](HelloStatus status, const char* why) {
        out.status_ = status;
        out.why_ = why;
        if (status != HelloStatus::Found) out.length_ = 0;  // a name read before a later fault
        return out;
    };
    // What the first bytes say before a whole record header is there.
    if (size >= 1 && data[0] != kHandshakeRecord)
        return finish(HelloStatus::NotTls, "not a TLS handshake record");
    if (size >= 2 && data[1] != 3) return finish(HelloStatus::NotTls, "not a TLS record version");

    // The records: handshake records, one after another, until the hello is complete.
    Stream stream;
    std::size_t at = 0;       // the next record header
    std::size_t records = 0;  // records added to the stream
    std::size_t needed = 0;   // 4 + the hello's length, once its header is in
    while (!needed || stream.available() < needed) {
        if (records == kMaxHelloRecords)
            return finish(HelloStatus::Malformed, "a ClientHello split into more than 16 records");
        if (size - at < 5) return finish(HelloStatus::NeedMore, "");
        const std::uint8_t* h = data + at;
        const std::size_t length = (std::size_t{h[3]} << 8) | h[4];
        if (h[0] != kHandshakeRecord)
            return finish(HelloStatus::Malformed, "another record type inside the ClientHello");
        if (h[1] != 3 || h[2] > 4)
            return finish(records == 0 ? HelloStatus::NotTls : HelloStatus::Malformed,
                          "not a TLS record version");
        if (length == 0) return finish(HelloStatus::Malformed, "an empty handshake record");
        if (length > kMaxRecordLength)
            return finish(HelloStatus::Malformed, "a record longer than 16384 bytes");
        const std::size_t present = size - at - 5 < length ? size - at - 5 : length;
        if (present > 0) stream.add(h + 5, present);
        ++records;
        at += 5 + present;
        if (!needed && stream.available() >= 4) {
            Stream header = stream;
            std::uint32_t type = 0, hello_length = 0;
            header.u8(type);
            header.uint(3, hello_length);
            if (type != kClientHello)
                return finish(HelloStatus::Malformed,
                              "the first handshake message is not a ClientHello");
            if (hello_length > kMaxHelloLength)
                return finish(HelloStatus::Malformed, "a ClientHello longer than 16384 bytes");
            needed = 4 + hello_length;
        }
        if (needed && stream.available() >= needed) break;
        if (present < length) return finish(HelloStatus::NeedMore, "");  // in this record
    }

    // The hello (RFC 8446 §4.1.2; the same fields in TLS 1.0 – 1.2 with extensions).
    auto malformed = [&] {
        return finish(HelloStatus::Malformed, "inconsistent ClientHello lengths");
    };
    const std::size_t end = needed;
    stream.limit(end);
    std::uint32_t v = 0;
    stream.skip(4);
    if (!stream.uint(2, v) || (v >> 8) != 3)
        return finish(HelloStatus::Malformed, "not a TLS ClientHello version");
    if (!stream.skip(32)) return malformed();                            // random
    if (!stream.u8(v) || v > 32 || !stream.skip(v)) return malformed();  // legacy_session_id
    if (!stream.uint(2, v) || v < 2 || v % 2 != 0 || !stream.skip(v)) return malformed();
    if (!stream.u8(v) || v < 1 || !stream.skip(v)) return malformed();  // compression methods
    if (stream.position() > end) return malformed();
    if (stream.position() == end) return finish(HelloStatus::NoSni, "");  // no extensions
    if (!stream.uint(2, v) || stream.position() + v != end) return malformed();
    bool seen_server_name = false;
    while (stream.position() < end) {
        std::uint32_t type = 0, length = 0;
        if (!stream.uint(2, type) || !stream.uint(2, length) || stream.position() + length > end)
            return malformed();
        if (type != kServerNameExtension) {
            stream.skip(length);
            continue;
        }
        if (seen_server_name) return finish(HelloStatus::Malformed, "two server_name extensions");
        seen_server_name = true;
        const std::size_t ext_end = stream.position() + length;
        std::uint32_t list = 0;
        if (length < 2 || !stream.uint(2, list) || list == 0 || stream.position() + list != ext_end)
            return finish(HelloStatus::Malformed, "an inconsistent server_name extension");
        while (stream.position() < ext_end) {
            std::uint32_t name_type = 0, name_length = 0;
            if (!stream.u8(name_type) || !stream.uint(2, name_length) ||
                stream.position() + name_length > ext_end)
                return finish(HelloStatus::Malformed, "an inconsistent server_name extension");
            if (name_type != kHostName || out.length_ != 0) {
                stream.skip(name_length);
                continue;
            }
            if (name_length == 0 || name_length > sizeof(out.name_))
                return finish(HelloStatus::Malformed, "a server name of 0 or over 255 bytes");
            for (std::size_t i = 0; i < name_length; ++i) {
                std::uint32_t c = 0;
                stream.u8(c);
                if (c <= 0x20 || c >= 0x7f)
                    return finish(HelloStatus::Malformed,
                                  "a server name with a byte that is not printable ASCII");
                out.name_[i] = static_cast<char>(c);
            }
            out.length_ = name_length;
        }
    }
    return finish(out.length_ ? HelloStatus::Found : HelloStatus::NoSni, "");
}

}  // namespace postern::tls
