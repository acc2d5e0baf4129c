// libFuzzer target for the incoming PROXY protocol parser (the only code that reads bytes from an
// unauthenticated peer before anything else does). Besides "no crash, no sanitizer report" it
// checks the parser's contract on every input:
//   - the header never takes more bytes than it was given, and Done reports its exact length;
//   - feeding the same bytes in arbitrary pieces gives the same verdict as feeding them at once;
//   - a decoded header re-encodes to bytes that decode to the same header (encode is a fixpoint).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "codec/proxy_protocol.h"

using postern::codec::kMaxEncodedLength;
using postern::codec::ProxyHeaderInfo;
using postern::codec::ProxyHeaderParser;
using postern::codec::ProxyV2Tlvs;
using Status = ProxyHeaderParser::Status;

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

/** Reads every byte a view points at, so ASan sees any view outside the parser's buffer. */
std::size_t touch(std::string_view s) {
    std::size_t sum = 0;
    for (char c : s) sum += static_cast<unsigned char>(c);
    return sum;
}

std::size_t touchAll(const ProxyHeaderInfo& info) {
    return touch(info.alpn) + touch(info.authority) + touch(info.unique_id) +
           touch(info.ssl.version) + touch(info.ssl.cipher) + touch(info.ssl.common_name) +
           touch(info.ssl.sig_alg) + touch(info.ssl.key_alg);
}

/** Encodes `info` the way a sending proxy would (v1 or v2 as it came, TLVs within the encoder's
 * limits). Returns the length, 0 when the header cannot be re-encoded. */
std::size_t reencode(const ProxyHeaderInfo& info, bool v2, std::span<char> out) {
    if (!v2) {
        if (!info.carriesAddresses()) return postern::codec::writeProxyV1Unknown(out);
        return postern::codec::writeProxyV1(info.source, info.destination, out);
    }
    if (info.command == postern::codec::ProxyCommand::Local)
        return postern::codec::writeProxyV2Local(out, info.has_crc32c);
    ProxyV2Tlvs tlvs;
    tlvs.alpn = info.alpn.substr(0, 255);
    tlvs.authority = info.authority.substr(0, 255);
    tlvs.unique_id = info.unique_id;
    postern::codec::ProxySslInfo ssl = info.ssl;
    ssl.version = ssl.version.substr(0, 64);
    ssl.cipher = ssl.cipher.substr(0, 64);
    ssl.common_name = ssl.common_name.substr(0, 64);
    if (info.has_ssl) tlvs.ssl = &ssl;
    tlvs.crc32c = info.has_crc32c;
    return postern::codec::writeProxyV2(info.source, info.destination, tlvs, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);

    // 1. All at once.
    ProxyHeaderParser whole;
    const auto r = whole.feed(input);
    check(r.consumed <= size, "consumed more than given");
    switch (r.status) {
        case Status::NeedMore:
            check(r.consumed == size, "NeedMore must take every byte");
            check(whole.buffered() == size, "NeedMore must hold every byte");
            break;
        case Status::Done:
            check(r.consumed == whole.info().header_length, "Done must report the header length");
            check(r.consumed <= postern::codec::kMaxHeaderLength, "header over the limit");
            touchAll(whole.info());
            break;
        case Status::Invalid:
            check(!r.reason.empty() && r.consumed == 0, "Invalid needs a reason");
            break;
    }

    // 2. The same bytes in pieces whose sizes come from the input itself.
    ProxyHeaderParser pieces;
    ProxyHeaderParser::Result last;
    std::size_t consumed = 0;
    std::size_t pos = 0;
    for (std::size_t round = 0; pos < size && round <= size; ++round) {
        const std::size_t n = std::min<std::size_t>(size - pos, 1 + (data[round % size] % 17));
        last = pieces.feed(input.subspan(pos, n));
        consumed += last.consumed;
        pos += n;
        if (last.status != Status::NeedMore) break;
    }
    if (size > 0) {
        check(last.status == r.status, "split feeding changed the verdict");
        check(last.reason == r.reason, "split feeding changed the reason");
        if (r.status != Status::Invalid)
            check(consumed == r.consumed, "split feeding changed the header length");
    }

    // 3. Re-encoding is a fixpoint: encode(decode(encode(info))) == encode(info).
    if (r.status == Status::Done) {
        const bool v2 = whole.info().version == postern::codec::ProxyVersion::V2;
        char first[kMaxEncodedLength];
        const std::size_t n1 = reencode(whole.info(), v2, first);
        if (n1 > 0) {
            ProxyHeaderParser again;
            const auto r2 = again.feed(std::string_view(first, n1));
            check(r2.status == Status::Done, "a re-encoded header does not decode");
            check(r2.consumed == n1, "a re-encoded header decodes to another length");
            check(again.info().source.port() == whole.info().source.port() &&
                      again.info().destination.port() == whole.info().destination.port(),
                  "a round trip changed a port");
            char second[kMaxEncodedLength];
            const std::size_t n2 = reencode(again.info(), v2, second);
            check(n2 == n1 && std::memcmp(first, second, n1) == 0, "re-encoding is not stable");
        }
    }
    return 0;
}
