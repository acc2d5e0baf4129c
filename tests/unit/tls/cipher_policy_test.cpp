#include "tls/cipher_policy.h"
#include "tls/openssl_util.h"

#include <gtest/gtest.h>

using namespace postern::tls;

namespace {

TEST(CipherPolicy, EmptyMeansTheSecureDefaults) {
    std::string error;
    auto c = parseCiphers("", &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->tls12, kDefaultTls12Ciphers);
    EXPECT_EQ(c->tls13, kDefaultTls13Suites);
}

TEST(CipherPolicy, TheDefaultsAreForwardSecretAeadOnly) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
    ASSERT_TRUE(ctx);
    std::string error;
    ASSERT_TRUE(applyCiphers(ctx.get(), CipherSelection{}, &error)) << error;
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx.get());
    ASSERT_NE(list, nullptr);
    ASSERT_GT(sk_SSL_CIPHER_num(list), 0);
    for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
        const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
        SCOPED_TRACE(SSL_CIPHER_get_name(c));
        EXPECT_TRUE(SSL_CIPHER_is_aead(c));
        const int kx = SSL_CIPHER_get_kx_nid(c);
        EXPECT_TRUE(kx == NID_kx_ecdhe || kx == NID_kx_any) << "key exchange " << OBJ_nid2sn(kx);
    }
}

TEST(CipherPolicy, Tls13NamesGoToTheSuitesAndTheRestToTheCipherList) {
    std::string error;
    auto c = parseCiphers("ECDHE-ECDSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384:!aNULL", &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->tls12, "ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL");
    EXPECT_EQ(c->tls13, "TLS_AES_256_GCM_SHA384");
    auto only13 = parseCiphers("TLS_CHACHA20_POLY1305_SHA256", &error);
    ASSERT_TRUE(only13) << error;
    EXPECT_EQ(only13->tls12, kDefaultTls12Ciphers) << "a part left out keeps its default";
}

TEST(CipherPolicy, UnknownNamesAreErrorsButRemovalsOfUnknownNamesAreNot) {
    std::string error;
    EXPECT_FALSE(parseCiphers("ECDHE-RSA-AES128-GCM-SHA256:RC4-SHA", &error));
    EXPECT_EQ(error, "unknown or unavailable cipher \"RC4-SHA\"");
    EXPECT_FALSE(parseCiphers("TLS_AES_999_SHA", &error));
    EXPECT_EQ(error, "unknown or unavailable cipher \"TLS_AES_999_SHA\"");
    EXPECT_TRUE(parseCiphers("ECDHE+AESGCM:!RC4:-3DES:@STRENGTH", &error)) << error;
}

TEST(CipherPolicy, AListThatSelectsNothingIsAnError) {
    std::string error;
    EXPECT_FALSE(parseCiphers("ECDHE-RSA-AES128-GCM-SHA256:!ECDHE", &error));
    EXPECT_NE(error.find("selects no cipher"), std::string::npos) << error;
}

}  // namespace
