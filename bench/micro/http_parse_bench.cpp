// The HTTP/1.1 hot path of one keep-alive request: parse a ~1 KiB browser-like head (whole, and
// arriving in two reads), write the backend's head, follow a chunked body. The target: far below
// the 10 µs a request may cost at 100k requests/s on one core. Every benchmark fails if its timed
// loop allocates (the fields vector and the output string are reused, as a session reuses them).
//
//   build-*/bin/postern_micro_bench --benchmark_filter=Http
#include <benchmark/benchmark.h>

#include <string>

#include "http/parser.h"
#include "http/rewrite.h"

long postern_micro_allocations();  // pick_bench.cpp

namespace {

using namespace postern::http;

class NoAllocation {
public:
    explicit NoAllocation(benchmark::State& state)
        : state_(state), before_(postern_micro_allocations()) {}
    ~NoAllocation() {
        const long allocated = postern_micro_allocations() - before_;
        state_.counters["allocs"] = static_cast<double>(allocated);
        if (allocated != 0) state_.SkipWithError("the HTTP hot path allocated");
    }

private:
    benchmark::State& state_;
    long before_;
};

std::string browserHead() {
    std::string h =
        "GET /app/v2/items/12345?sort=desc&page=3 HTTP/1.1\r\n"
        "Host: shop.example.com\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
        "Accept-Language: en-US,en;q=0.5\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "Referer: https://shop.example.com/app/v2/items?sort=desc&page=2\r\n"
        "Connection: keep-alive\r\n"
        "Upgrade-Insecure-Requests: 1\r\n"
        "Sec-Fetch-Dest: document\r\n"
        "Sec-Fetch-Mode: navigate\r\n"
        "Sec-Fetch-Site: same-origin\r\n"
        "X-Forwarded-For: 198.51.100.17\r\n"
        "Cookie: session=";
    h += std::string(1024 - h.size() - 4, 'c');
    h += "\r\n\r\n";
    return h;
}

void BM_HttpParseRequest1KiB(benchmark::State& state) {
    const std::string head = browserHead();
    RequestParser parser;
    RequestHead out;
    out.headers.reserve(32);
    {
        NoAllocation guard(state);
        for (auto _ : state) {
            parser.reset();
            const ParseResult r = parser.parse(head, out);
            if (r.status != ParseStatus::Complete) state.SkipWithError("not complete");
            benchmark::DoNotOptimize(out.host.data());
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_HttpParseRequest1KiB);

void BM_HttpParseRequest1KiBInTwoReads(benchmark::State& state) {
    const std::string head = browserHead();
    const std::string_view first = std::string_view(head).substr(0, head.size() / 2);
    RequestParser parser;
    RequestHead out;
    out.headers.reserve(32);
    {
        NoAllocation guard(state);
        for (auto _ : state) {
            parser.reset();
            if (parser.parse(first, out).status != ParseStatus::Incomplete)
                state.SkipWithError("complete early");
            if (parser.parse(head, out).status != ParseStatus::Complete)
                state.SkipWithError("not complete");
            benchmark::DoNotOptimize(out.host.data());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_HttpParseRequest1KiBInTwoReads);

void BM_HttpWriteBackendHead(benchmark::State& state) {
    const std::string head = browserHead();
    RequestParser parser;
    RequestHead request;
    parser.parse(head, request);
    ForwardContext ctx;
    ctx.client_ip = "2001:db8::17";
    ctx.proto = "https";
    ctx.listener_port = 443;
    std::string out;
    out.reserve(4096);
    {
        NoAllocation guard(state);
        for (auto _ : state) {
            out.clear();
            writeBackendRequestHead(request, ctx, out);
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_HttpWriteBackendHead);

void BM_HttpChunkedFollow16KiB(benchmark::State& state) {
    std::string body;
    for (int i = 0; i < 16; ++i) body += "400\r\n" + std::string(1024, 'x') + "\r\n";
    body += "0\r\n\r\n";
    ChunkedDecoder decoder;
    {
        NoAllocation guard(state);
        for (auto _ : state) {
            decoder.reset();
            const auto r = decoder.feed(body);
            if (!r.done) state.SkipWithError("not done");
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_HttpChunkedFollow16KiB);

}  // namespace
