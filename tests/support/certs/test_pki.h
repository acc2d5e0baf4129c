// A private PKI for tests, made with the `openssl` command line in a directory the caller owns:
// a root CA, optional intermediate CAs, and leaf certificates for servers and clients with the
// SAN DNS names and IP addresses asked for, RSA-2048 or ECDSA P-256 keys, and a chosen lifetime.
// Every openssl run is bounded in time and its failure is an exception naming the command. One
// test thread; files stay until the directory is removed.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace postern::test {

enum class KeyType { Rsa2048, EcdsaP256 };

struct IssuedCertificate {
    std::filesystem::path cert;  ///< PEM: the leaf, then any intermediate CAs (a chain file)
    std::filesystem::path key;   ///< PEM private key (unencrypted)
    std::string common_name;
};

struct LeafSpec {
    std::string common_name;
    std::vector<std::string> dns;  ///< SAN DNS names ("*.example.com" allowed)
    std::vector<std::string> ips;  ///< SAN IP addresses
    KeyType key = KeyType::EcdsaP256;
    int days = 90;
    bool server = true;  ///< extendedKeyUsage serverAuth (else clientAuth only)
};

class TestCa {
public:
    /** A self-signed root CA "<name>" with files <dir>/<name>.pem / .key. Throws on failure. */
    static std::unique_ptr<TestCa> createRoot(const std::filesystem::path& dir, const std::string& name,
                                              KeyType key = KeyType::EcdsaP256);

    /** An intermediate CA signed by this one (its chain file holds itself and this CA's chain). */
    std::unique_ptr<TestCa> createIntermediate(const std::string& name, KeyType key = KeyType::EcdsaP256) const;

    /** A leaf certificate; `name` names its files (<dir>/<name>.pem / .key). */
    IssuedCertificate issue(const std::string& name, const LeafSpec& spec) const;

    /** This CA's own certificate (the trust anchor for a root). */
    const std::filesystem::path& certificate() const { return cert_; }
    const std::filesystem::path& key() const { return key_; }
    const std::filesystem::path& dir() const { return dir_; }

private:
    TestCa(std::filesystem::path dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}

    std::filesystem::path dir_;
    std::string name_;
    std::filesystem::path cert_;
    std::filesystem::path key_;
    /** Intermediate CAs between a leaf issued here and the root, leaf-side first (PEM text). */
    std::string chain_pem_;
};

/** Writes a private key in `dir`/<name>.key. */
std::filesystem::path generateKey(const std::filesystem::path& dir, const std::string& name, KeyType key);

/** Runs `openssl args...` (bounded by `timeout`, then SIGKILL); throws std::runtime_error with its
 * output when it does not exit 0. Returns stdout + stderr. */
std::string runOpensslOrThrow(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60));

struct OpensslRun {
    int exit_code = -1;  ///< -1: killed after the timeout
    std::string output;  ///< stdout + stderr
};
/** Runs `openssl args...` with `input` on its stdin (bounded by `timeout`). */
OpensslRun runOpenssl(const std::vector<std::string>& args, const std::string& input,
                      std::chrono::milliseconds timeout);

}  // namespace postern::test
