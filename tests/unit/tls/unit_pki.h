// The certificates the TLS unit tests share: made once with the `openssl` command line into a
// folder of the build tree and reused by every test process (ctest runs each test in its own
// process) while it is less than a day old; a file lock keeps two processes from making it at the
// same time. Test thread.
#pragma once

#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "certs/test_pki.h"

namespace postern::test {

struct UnitPki {
    std::filesystem::path dir;
    std::filesystem::path ca;        ///< the root every certificate below chains to
    std::filesystem::path other_ca;  ///< an unrelated root
    IssuedCertificate rsa;           ///< RSA-2048, DNS a.example.com, www.a.example.com
    IssuedCertificate ecdsa;         ///< P-256, DNS b.example.com, *.wild.example.com
    IssuedCertificate chained;       ///< via an intermediate CA, DNS c.example.com
    IssuedCertificate ip;            ///< IP 127.0.0.1 and ::1, no DNS name
    IssuedCertificate no_san;        ///< CN legacy.example.com, no SAN
    IssuedCertificate client;        ///< client certificate, CN client-one
    IssuedCertificate foreign;       ///< DNS a.example.com, issued by other_ca
    IssuedCertificate foreign_client;  ///< client certificate issued by other_ca
    IssuedCertificate soon;          ///< DNS soon.example.com, expires in 10 days
};

inline const UnitPki& unitPki() {
    static const UnitPki pki = [] {
        UnitPki p;
        p.dir = std::filesystem::path(POSTERN_TEST_SUPPORT_DIR) / "unit-tls-pki";
        std::filesystem::create_directories(p.dir);
        const auto names = [&](const std::string& n) {
            return IssuedCertificate{p.dir / (n + ".pem"), p.dir / (n + ".key"), n};
        };
        p.ca = p.dir / "root.pem";
        p.other_ca = p.dir / "other-root.pem";
        p.rsa = names("rsa");
        p.ecdsa = names("ecdsa");
        p.chained = names("chained");
        p.ip = names("ip");
        p.no_san = names("no-san");
        p.client = names("client");
        p.foreign = names("foreign");
        p.foreign_client = names("foreign-client");
        p.soon = names("soon");

        const int lock = ::open((p.dir / "lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
        if (lock >= 0) ::flock(lock, LOCK_EX);
        const auto marker = p.dir / "complete";
        std::error_code ec;
        // Bump kVersion when the set of certificates changes: older folders are then remade.
        constexpr const char* kVersion = "unit-pki v2";
        std::string version;
        std::getline(std::ifstream(marker), version);
        const auto age = std::filesystem::exists(marker, ec)
                             ? std::filesystem::file_time_type::clock::now() - std::filesystem::last_write_time(marker, ec)
                             : std::filesystem::file_time_type::duration::max();
        if (age > std::chrono::hours(20) || version != kVersion) {
            std::filesystem::remove(marker, ec);
            auto root = TestCa::createRoot(p.dir, "root");
            auto other = TestCa::createRoot(p.dir, "other-root");
            auto inter = root->createIntermediate("intermediate");
            root->issue("rsa", {"a.example.com", {"a.example.com", "www.a.example.com"}, {}, KeyType::Rsa2048});
            root->issue("ecdsa", {"b.example.com", {"b.example.com", "*.wild.example.com"}, {}, KeyType::EcdsaP256});
            inter->issue("chained", {"c.example.com", {"c.example.com"}, {}, KeyType::EcdsaP256});
            root->issue("ip", {"ip-backend", {}, {"127.0.0.1", "::1"}, KeyType::EcdsaP256});
            root->issue("no-san", {"legacy.example.com", {}, {}, KeyType::EcdsaP256});
            root->issue("client", {"client-one", {}, {}, KeyType::EcdsaP256, 90, false});
            other->issue("foreign", {"a.example.com", {"a.example.com"}, {}, KeyType::EcdsaP256});
            other->issue("foreign-client", {"client-two", {}, {}, KeyType::EcdsaP256, 90, false});
            root->issue("soon", {"soon.example.com", {"soon.example.com"}, {}, KeyType::EcdsaP256, 10});
            std::ofstream(marker) << kVersion << "\n";
        }
        if (lock >= 0) ::close(lock);
        return p;
    }();
    return pki;
}

}  // namespace postern::test
