#include "tls/openssl_util.h"

#include <openssl/err.h>

namespace postern::tls {

std::string takeOpensslError() {
    // The oldest error is the root cause; later ones are the callers' "while doing X" context.
    unsigned long first = ERR_get_error();
    ERR_clear_error();
    if (first == 0) return {};
    const char* reason = ERR_reason_error_string(first);
    if (reason) return reason;
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    return buf;
}

}  // namespace postern::tls
