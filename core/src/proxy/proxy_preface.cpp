#include "proxy/proxy_preface.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "codec/proxy_protocol.h"
#include "tls/tls_stream.h"

namespace postern::proxy {

namespace pp2 = codec::pp2;
using codec::kMaxEncodedLength;
using codec::ProxySslInfo;
using codec::ProxyV2Tlvs;
using codec::writeProxyV1;
using codec::writeProxyV2;

namespace {

std::string_view within(std::string_view s, std::size_t limit) {
    return s.size() <= limit ? s : std::string_view();
}

}  // namespace

std::string_view formatUniqueId(std::uint64_t high, std::uint64_t low, std::span<char, 32> out) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
        out[i] = kHex[(high >> (60 - 4 * i)) & 0xF];
        out[16 + i] = kHex[(low >> (60 - 4 * i)) & 0xF];
    }
    return {out.data(), out.size()};
}

void buildProxyPreface(const config::BackendSettings& settings, const ClientFacts& client,
                       std::string& out) {
    out.clear();
    if (settings.proxy_protocol == config::ProxyProtocol::Off) return;
    out.resize(kMaxEncodedLength);
    std::size_t n = 0;
    if (settings.proxy_protocol == config::ProxyProtocol::V1) {
        n = writeProxyV1(client.source, client.destination, out);
    } else {
        ProxyV2Tlvs tlvs;
        tlvs.unique_id = within(client.unique_id, pp2::kMaxUniqueId);
        tlvs.crc32c = settings.proxy_protocol_crc;
        ProxySslInfo ssl;
        std::string common_name;
        if (const tls::TlsStream* t = client.tls) {
            tlvs.alpn = within(t->alpn(), 255);
            tlvs.authority = within(t->serverName(), 255);
            ssl.client = pp2::kClientSsl;
            // "verify" is zero only for a client certificate that was presented and verified.
            ssl.verify = 1;
            if (t->peerCertificatePresented()) {
                ssl.client |= pp2::kClientCertSess;
                if (!SSL_session_reused(t->native())) ssl.client |= pp2::kClientCertConn;
                const long result = t->verifyResult();
                ssl.verify = result == X509_V_OK ? 0u : static_cast<std::uint32_t>(result);
                common_name = t->peerCommonName();
                ssl.common_name = within(common_name, 64);
            }
            ssl.version = within(t->version(), 64);
            ssl.cipher = within(t->cipher(), 64);
            tlvs.ssl = &ssl;
        }
        n = writeProxyV2(client.source, client.destination, tlvs, out);
    }
    out.resize(n);
}

}  // namespace postern::proxy
