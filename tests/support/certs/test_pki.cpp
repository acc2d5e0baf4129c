#include "certs/test_pki.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace postern::test {

namespace {

std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeFile(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::filesystem::path opensslBinary() {
    for (const char* candidate : {"/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"})
        if (::access(candidate, X_OK) == 0) return candidate;
    throw std::runtime_error("the openssl command line tool is not installed");
}

/** A temporary file path (created empty); removed by the caller. */
std::filesystem::path tempFile(const char* what) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/postern-openssl-" + what + "-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const int fd = ::mkstemp(buf.data());
    if (fd < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
    ::close(fd);
    return buf.data();
}

std::string joined(const std::vector<std::string>& args) {
    std::string s = "openssl";
    for (const auto& a : args) s += " " + a;
    return s;
}

std::vector<std::string> keyArgs(KeyType key) {
    if (key == KeyType::Rsa2048) return {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"};
    return {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"};
}

}  // namespace

OpensslRun runOpenssl(const std::vector<std::string>& args, const std::string& input,
                      std::chrono::milliseconds timeout) {
    const auto in_path = tempFile("in");
    const auto out_path = tempFile("out");
    writeFile(in_path, input);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    const std::string binary = opensslBinary().string();
    std::vector<std::string> store{binary};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : store) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        std::filesystem::remove(in_path);
        std::filesystem::remove(out_path);
        throw std::runtime_error("posix_spawn " + binary + ": " + std::strerror(rc));
    }
    OpensslRun run;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (r < 0 && errno != EINTR) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            for (int i = 0; i < 1000 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR; ++i) {
            }
            run.exit_code = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    run.output = readFile(out_path);
    std::filesystem::remove(in_path);
    std::filesystem::remove(out_path);
    return run;
}

std::string runOpensslOrThrow(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    auto run = runOpenssl(args, {}, timeout);
    if (run.exit_code != 0)
        throw std::runtime_error(joined(args) + " failed (exit " + std::to_string(run.exit_code) + "): " + run.output);
    return run.output;
}

std::filesystem::path generateKey(const std::filesystem::path& dir, const std::string& name, KeyType key) {
    const auto path = dir / (name + ".key");
    std::vector<std::string> args{"genpkey"};
    for (auto& a : keyArgs(key)) args.push_back(a);
    args.push_back("-out");
    args.push_back(path.string());
    runOpensslOrThrow(args);
    return path;
}

std::unique_ptr<TestCa> TestCa::createRoot(const std::filesystem::path& dir, const std::string& name, KeyType key) {
    std::unique_ptr<TestCa> ca(new TestCa(dir, name));
    ca->key_ = generateKey(dir, name, key);
    ca->cert_ = dir / (name + ".pem");
    runOpensslOrThrow({"req", "-x509", "-new", "-key", ca->key_.string(), "-sha256", "-days", "365", "-subj",
                       "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                       "keyUsage=critical,keyCertSign,cRLSign", "-out", ca->cert_.string()});
    return ca;
}

std::unique_ptr<TestCa> TestCa::createIntermediate(const std::string& name, KeyType key) const {
    std::unique_ptr<TestCa> ca(new TestCa(dir_, name));
    ca->key_ = generateKey(dir_, name, key);
    ca->cert_ = dir_ / (name + ".pem");
    const auto csr = dir_ / (name + ".csr");
    const auto ext = dir_ / (name + ".ext");
    runOpensslOrThrow({"req", "-new", "-key", ca->key_.string(), "-subj", "/CN=" + name, "-out", csr.string()});
    writeFile(ext, "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    runOpensslOrThrow({"x509", "-req", "-in", csr.string(), "-CA", cert_.string(), "-CAkey", key_.string(),
                       "-CAcreateserial", "-days", "365", "-sha256", "-extfile", ext.string(), "-out",
                       ca->cert_.string()});
    // A leaf issued by the intermediate is served with the intermediate (and what is above it,
    // short of the root).
    ca->chain_pem_ = readFile(ca->cert_) + chain_pem_;
    return ca;
}

IssuedCertificate TestCa::issue(const std::string& name, const LeafSpec& spec) const {
    IssuedCertificate out;
    out.common_name = spec.common_name;
    out.key = generateKey(dir_, name, spec.key);
    out.cert = dir_ / (name + ".pem");
    const auto csr = dir_ / (name + ".csr");
    const auto ext = dir_ / (name + ".ext");
    runOpensslOrThrow({"req", "-new", "-key", out.key.string(), "-subj", "/CN=" + spec.common_name, "-out",
                       csr.string()});
    std::string san;
    for (const auto& d : spec.dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : spec.ips) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
    std::string extensions = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
    extensions += spec.server ? "extendedKeyUsage=serverAuth,clientAuth\n" : "extendedKeyUsage=clientAuth\n";
    if (!san.empty()) extensions += "subjectAltName=" + san + "\n";
    writeFile(ext, extensions);
    const auto leaf_only = dir_ / (name + ".leaf.pem");
    runOpensslOrThrow({"x509", "-req", "-in", csr.string(), "-CA", cert_.string(), "-CAkey", key_.string(),
                       "-CAcreateserial", "-days", std::to_string(spec.days), "-sha256", "-extfile", ext.string(),
                       "-out", leaf_only.string()});
    // Issued by an intermediate: the file carries the chain up to (not including) the root.
    const std::string chain = chain_pem_.empty() ? std::string() : chain_pem_;
    writeFile(out.cert, readFile(leaf_only) + chain);
    return out;
}

}  // namespace postern::test
