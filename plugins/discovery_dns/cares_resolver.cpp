#include "cares_resolver.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#endif

#include <ares.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace postern::plugins::dns_discovery {

namespace {

// c-ares' process-wide initialisation, once (ares_library_init is not thread-safe and is only
// needed once; the host keeps plugin libraries loaded for the life of the process, so it is never
// undone). On Windows it also needs Winsock, which is reference-counted: take one reference.
int libraryInit() {
    static const int status = [] {
#ifdef _WIN32
        WSADATA data;
        WSAStartup(MAKEWORD(2, 2), &data);
#endif
        return ares_library_init(ARES_LIB_INIT_ALL);
    }();
    return status;
}

constexpr int kDnsTypeA = 1;
constexpr int kDnsTypeAaaa = 28;
constexpr int kDnsTypeSrv = 33;
constexpr int kDnsClassIn = 1;
constexpr int kMaxAddresses = 256;  // per answer; a DNS answer over UDP/TCP rarely has more

int dnsType(RecordType t) {
    switch (t) {
        case RecordType::A:
            return kDnsTypeA;
        case RecordType::AAAA:
            return kDnsTypeAaaa;
        case RecordType::SRV:
            return kDnsTypeSrv;
    }
    return kDnsTypeA;
}

std::uint16_t read16(const unsigned char* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// The smallest TTL of the SRV records in an answer (c-ares 1.18's ares_parse_srv_reply does not
// return TTLs): walks the header, the question and the answer section with c-ares' own name
// decoder, bounds-checked; -1 when it cannot tell.
std::int64_t srvTtl(const unsigned char* abuf, int alen) {
    if (alen < 12) return -1;
    const int qdcount = read16(abuf + 4);
    const int ancount = read16(abuf + 6);
    const unsigned char* p = abuf + 12;
    const unsigned char* end = abuf + alen;
    auto skipName = [&]() -> bool {
        char* name = nullptr;
        long len = 0;
        if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return false;
        ares_free_string(name);
        if (len <= 0 || len > end - p) return false;
        p += len;
        return true;
    };
    for (int i = 0; i < qdcount; ++i) {
        if (!skipName() || end - p < 4) return -1;
        p += 4;
    }
    std::int64_t best = -1;
    for (int i = 0; i < ancount; ++i) {
        if (!skipName() || end - p < 10) return best;
        const int type = read16(p);
        const int klass = read16(p + 2);
        const std::int64_t ttl = (std::int64_t{p[4]} << 24) | (p[5] << 16) | (p[6] << 8) | p[7];
        const int rdlength = read16(p + 8);
        p += 10;
        if (end - p < rdlength) return best;
        p += rdlength;
        if (type == kDnsTypeSrv && klass == kDnsClassIn && (best < 0 || ttl < best)) best = ttl;
    }
    return best;
}

std::string statusText(int status) {
    switch (status) {
        case ARES_ETIMEOUT:
            return "timeout (no answer from the DNS servers)";
        case ARES_ESERVFAIL:
            return "SERVFAIL";
        case ARES_EREFUSED:
            return "REFUSED";
        case ARES_ECONNREFUSED:
            return "cannot reach the DNS servers";
        case ARES_ENOTFOUND:
            return "NXDOMAIN";
        case ARES_ENODATA:
            return "no records of that type";
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION:
            return "timeout (no answer before the round's deadline)";
        default:
            break;
    }
    const char* text = ares_strerror(status);
    return text != nullptr ? text : "DNS error " + std::to_string(status);
}

Answer failed(int status) { return Answer{Outcome::Failed, statusText(status), {}, {}}; }

std::string ntop(int family, const void* addr) {
    char buf[64] = {};
    if (ares_inet_ntop(family, addr, buf, sizeof buf) == nullptr) return {};
    return buf;
}

std::string lowerName(const char* name) {
    std::string s = name != nullptr ? name : "";
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (s.empty()) return ".";  // the SRV "no service here" target is the root
    if (s.size() > 1 && s.back() == '.') s.pop_back();
    return s;
}

Answer parse(RecordType type, const unsigned char* abuf, int alen) {
    Answer out;
    if (type == RecordType::A) {
        ares_addrttl ttls[kMaxAddresses];
        int n = kMaxAddresses;
        int status = ares_parse_a_reply(abuf, alen, nullptr, ttls, &n);
        if (status != ARES_SUCCESS && status != ARES_ENODATA) return failed(status);
        for (int i = 0; i < n; ++i) {
            std::string ip = ntop(AF_INET, &ttls[i].ipaddr);
            if (!ip.empty()) out.addresses.push_back({ip, std::max(ttls[i].ttl, 0)});
        }
    } else if (type == RecordType::AAAA) {
        ares_addr6ttl ttls[kMaxAddresses];
        int n = kMaxAddresses;
        int status = ares_parse_aaaa_reply(abuf, alen, nullptr, ttls, &n);
        if (status != ARES_SUCCESS && status != ARES_ENODATA) return failed(status);
        for (int i = 0; i < n; ++i) {
            std::string ip = ntop(AF_INET6, &ttls[i].ip6addr);
            if (!ip.empty()) out.addresses.push_back({ip, std::max(ttls[i].ttl, 0)});
        }
    } else {
        ares_srv_reply* srv = nullptr;
        int status = ares_parse_srv_reply(abuf, alen, &srv);
        if (status != ARES_SUCCESS && status != ARES_ENODATA) return failed(status);
        const std::int64_t ttl = srvTtl(abuf, alen);
        for (ares_srv_reply* r = srv; r != nullptr; r = r->next)
            out.srv.push_back({lowerName(r->host), r->port, r->priority, r->weight, ttl});
        if (srv != nullptr) ares_free_data(srv);
    }
    const bool any = !out.addresses.empty() || !out.srv.empty();
    out.outcome = any ? Outcome::Records : Outcome::Empty;
    if (!any) out.error = "no records of that type";
    return out;
}

struct Pending {
    RecordType type;
    Answer* answer;
    int* open;
};

void onAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* p = static_cast<Pending*>(arg);
    try {
        if (status == ARES_SUCCESS && abuf != nullptr)
            *p->answer = parse(p->type, abuf, alen);
        else if (status == ARES_ENOTFOUND)
            *p->answer = Answer{Outcome::NxDomain, statusText(status), {}, {}};
        else if (status == ARES_ENODATA)
            *p->answer = Answer{Outcome::Empty, statusText(status), {}, {}};
        else
            *p->answer = failed(status);
    } catch (...) {
        *p->answer = Answer{Outcome::Failed, "out of memory", {}, {}};
    }
    --*p->open;
}

#ifdef _WIN32
using PollFd = WSAPOLLFD;
int pollFds(PollFd* fds, unsigned long n, int timeout_ms) { return WSAPoll(fds, n, timeout_ms); }
#else
using PollFd = pollfd;
int pollFds(PollFd* fds, unsigned long n, int timeout_ms) {
    return ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
}
#endif

}  // namespace

struct CaresResolver::Impl {
    ares_channel channel = nullptr;
    ~Impl() {
        if (channel != nullptr) ares_destroy(channel);
    }
};

CaresResolver::CaresResolver(std::unique_ptr<Impl> impl, std::string servers)
    : impl_(std::move(impl)), servers_(std::move(servers)) {}

CaresResolver::~CaresResolver() = default;

std::unique_ptr<CaresResolver> CaresResolver::create(const std::vector<Resolver>& servers,
                                                     int try_timeout_ms, int tries,
                                                     std::string& error) {
    if (int status = libraryInit(); status != ARES_SUCCESS) {
        error = std::string("c-ares could not start: ") + ares_strerror(status);
        return nullptr;
    }
    auto impl = std::make_unique<Impl>();
    ares_options options{};
    options.timeout = std::max(try_timeout_ms, 1);
    options.tries = std::max(tries, 1);
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (int status = ares_init_options(&impl->channel, &options, mask); status != ARES_SUCCESS) {
        impl->channel = nullptr;
        error = std::string("c-ares could not start a resolver: ") + ares_strerror(status);
        return nullptr;
    }
    std::string csv;
    for (const auto& s : servers) csv += (csv.empty() ? "" : ",") + display(s);
    if (!csv.empty()) {
        if (int status = ares_set_servers_ports_csv(impl->channel, csv.c_str());
            status != ARES_SUCCESS) {
            error = "c-ares refused the resolvers \"" + csv + "\": " + ares_strerror(status);
            return nullptr;
        }
    }
    return std::unique_ptr<CaresResolver>(
        new CaresResolver(std::move(impl), csv.empty() ? "system" : csv));
}

std::vector<Answer> CaresResolver::resolve(const std::vector<Query>& queries,
                                           Clock::time_point deadline) {
    std::vector<Answer> answers(queries.size());
    if (queries.empty()) return answers;
    for (auto& a : answers) a = failed(ARES_ECANCELLED);
    if (Clock::now() >= deadline) return answers;

    std::vector<Pending> pending(queries.size());
    int open = 0;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        pending[i] = Pending{queries[i].type, &answers[i], &open};
        ++open;
        // A dotted name is asked as it is; a single label ("db") goes through the system's
        // search domains, as getaddrinfo would.
        const char* name = queries[i].name.c_str();
        if (queries[i].name.find('.') != std::string::npos)
            ares_query(impl_->channel, name, kDnsClassIn, dnsType(queries[i].type), &onAnswer,
                       &pending[i]);
        else
            ares_search(impl_->channel, name, kDnsClassIn, dnsType(queries[i].type), &onAnswer,
                        &pending[i]);
    }

    // Each pass waits for a socket or c-ares' next timeout, whichever is first, never past the
    // deadline; the pass count is bounded too (a pass that handled nothing waited >= 1 ms).
    constexpr int kMaxPasses = 1000000;
    for (int pass = 0; open > 0 && pass < kMaxPasses; ++pass) {
        const auto now = Clock::now();
        if (now >= deadline) break;
        const auto left_us =
            std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
        timeval max_tv{static_cast<long>(left_us / 1000000), static_cast<long>(left_us % 1000000)};
        timeval tv{};
        timeval* next = ares_timeout(impl_->channel, &max_tv, &tv);
        int wait_ms = next != nullptr
                          ? static_cast<int>(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000)
                          : 0;
        wait_ms = std::max(wait_ms, 1);

        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        const int bits = ares_getsock(impl_->channel, socks, ARES_GETSOCK_MAXNUM);
        PollFd fds[ARES_GETSOCK_MAXNUM];
        unsigned long nfds = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
            const bool r = ARES_GETSOCK_READABLE(bits, i);
            const bool w = ARES_GETSOCK_WRITABLE(bits, i);
            if (!r && !w) continue;
            fds[nfds] = PollFd{};
            fds[nfds].fd = socks[i];
            fds[nfds].events = static_cast<short>((r ? POLLIN : 0) | (w ? POLLOUT : 0));
            ++nfds;
        }
        int ready = 0;
        if (nfds == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
        else
            ready = pollFds(fds, nfds, wait_ms);
        if (ready > 0) {
            for (unsigned long i = 0; i < nfds; ++i) {
                const short re = fds[i].revents;
                if (re == 0) continue;
                const bool readable = (re & (POLLIN | POLLERR | POLLHUP)) != 0;
                const bool writable = (re & POLLOUT) != 0;
                ares_process_fd(impl_->channel, readable ? fds[i].fd : ARES_SOCKET_BAD,
                                writable ? fds[i].fd : ARES_SOCKET_BAD);
            }
        } else {
            ares_process_fd(impl_->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
        }
    }
    // Whatever is still open is answered (as cancelled) before `pending` goes out of scope.
    if (open > 0) ares_cancel(impl_->channel);
    return answers;
}

}  // namespace postern::plugins::dns_discovery
