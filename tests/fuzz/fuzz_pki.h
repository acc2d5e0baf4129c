// Certificates for the fuzz targets, made in-process with OpenSSL at start-up (no `openssl`
// command, no files outside the fuzzer's own temporary directory): a root CA and leaves signed by
// it with the SAN DNS names asked for, ECDSA P-256, RSA-2048 or Ed25519 keys. Start-up only; any
// failure aborts (a fuzzer without its fixtures would fuzz nothing).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace postern::fuzz {

enum class KeyKind { EcdsaP256, Rsa2048, Ed25519 };

struct PemPair {
    std::string cert;  ///< PEM certificate
    std::string key;   ///< PEM private key (PKCS#8, unencrypted)
};

/** `key_pem` encrypted with AES-256-CBC under `passphrase` (a key Postern must refuse). */
std::string encryptedKey(const std::string& key_pem, const std::string& passphrase);

class FuzzPki {
public:
    FuzzPki();  ///< makes the root CA "postern fuzz CA"
    const PemPair& ca() const { return ca_; }
    /** A leaf signed by the CA: CN = `names[0]` ("leaf" when empty), SAN DNS = `names`. */
    PemPair issue(const std::vector<std::string>& names, KeyKind key, bool server = true) const;

private:
    PemPair ca_;
};

/** A new private directory under $TMPDIR (/tmp), removed when the process exits normally. */
std::filesystem::path makeTempDir(const char* prefix);

void writeFile(const std::filesystem::path& file, const std::string& text);

}  // namespace postern::fuzz
