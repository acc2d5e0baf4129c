// libFuzzer target for the ClientHello SNI peek (tls/client_hello_sni.h): the bytes a tcp listener
// with SNI routes reads from an unauthenticated client before choosing a pool. Besides "no crash,
// no sanitizer report, no read past the input" it checks the reader's contract on every input:
//   - a decision is final: once a prefix is decided (not NeedMore), every longer input that starts
//     with it gets the same status and name — bytes that arrive later never change a route;
//   - kMaxClientHelloBytes bytes or more are never NeedMore (the peek limit is enough);
//   - Found carries a name of 1 to 255 printable ASCII bytes; every other status none.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tls/client_hello_sni.h"

using postern::tls::HelloSni;
using postern::tls::HelloStatus;
using postern::tls::kMaxClientHelloBytes;
using postern::tls::readHelloSni;

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

void checkResult(const HelloSni& r) {
    if (r.status() == HelloStatus::Found) {
        check(!r.name().empty() && r.name().size() <= 255, "Found: a name of 1 to 255 bytes");
        for (char c : r.name()) check(c > 0x20 && c < 0x7f, "Found: printable ASCII only");
    } else {
        check(r.name().empty(), "a name only with Found");
    }
    if (r.status() == HelloStatus::NotTls || r.status() == HelloStatus::Malformed)
        check(r.why() != nullptr && r.why()[0] != '\0', "NotTls / Malformed say why");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const HelloSni whole = readHelloSni(data, size);
    checkResult(whole);
    if (size >= kMaxClientHelloBytes)
        check(whole.status() != HelloStatus::NeedMore, "never NeedMore at the peek limit");
    // Every prefix (a few hundred at most: the inputs are bounded by -max_len).
    const std::size_t step = size > 512 ? size / 256 : 1;
    for (std::size_t n = 0; n < size; n += step) {
        const HelloSni part = readHelloSni(data, n);
        checkResult(part);
        if (part.status() == HelloStatus::NeedMore) continue;
        check(part.status() == whole.status(), "a decided prefix keeps its status");
        check(part.name() == whole.name(), "a decided prefix keeps its name");
    }
    return 0;
}
