/* The WebSocket peer of the benchmark's ws-echo and ws-idle scenarios (see bench/README.md,
 * "HTTP and WebSocket"). One single-threaded epoll program, two roles:
 *
 *   ws_bench server PORT
 *       The WebSocket backend on 127.0.0.1:PORT: answers a valid RFC 6455 upgrade with 101 and
 *       echoes every data frame (text/binary/continuation) unmasked with the same opcode; ping ->
 *       pong; close -> close back, then the connection is closed. A request that is not an
 *       upgrade gets 400. Per idle session it keeps only a small struct (buffers exist only while
 *       a frame or a reply is incomplete), so the `direct` row of ws-idle is the lower bound.
 *
 *   ws_bench echo PORT CONNS WARMUP_S DURATION_S SIZE
 *       The load client, like wrk -t1: opens CONNS connections to 127.0.0.1:PORT, upgrades each
 *       (the 101 and its Sec-WebSocket-Accept are checked), then every connection sends one masked
 *       binary message of SIZE bytes (<= 125), waits for its echo (length and content checked)
 *       and sends the next. It runs WARMUP_S seconds unmeasured, prints "START" on its own line,
 *       measures DURATION_S seconds, prints "END", then one line
 *         WSJSON {"messages":N,"duration_us":N,"p50_us":N,"p99_us":N,"conns":N,
 *                 "connect":N,"handshake":N,"closed":N,"bad_frame":N,"cpu_s":F}
 *       messages = echoes completed inside the measured window; cpu_s = this client's own CPU
 *       over that window (to tell when the client, not the proxy, is the limit).
 *
 * Built by bench/lib/bench.py at run time: cc -O2 -o ws_bench ws_bench.c -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_HEAD 8192
#define MAX_FRAME (1 << 20)
#define MAX_PENDING (4 << 20)
#define IO_BUF (256 * 1024)

static unsigned char io_buf[IO_BUF];
static unsigned char out_buf[IO_BUF + 16];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void accept_key(const char *key, size_t len, char out[64]) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    char buf[256];
    if (len > 200)
        len = 200;
    memcpy(buf, key, len);
    memcpy(buf + len, WS_GUID, sizeof(WS_GUID) - 1);
    SHA1((const unsigned char *)buf, len + sizeof(WS_GUID) - 1, digest);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

/* ------------------------------------------------------------------------------------------ */
/* server */

struct sconn {
    int fd;
    int open; /* 0: waiting for the upgrade request; 1: frames */
    unsigned char *in;
    size_t in_len;
    unsigned char *out;
    size_t out_len, out_off;
    int want_out; /* EPOLLOUT is in the interest set */
};

static int epfd;

static void sconn_close(struct sconn *c) {
    close(c->fd); /* also leaves the epoll set */
    free(c->in);
    free(c->out);
    free(c);
}

/* Sends what is pending, then `data`; keeps what the socket does not take. 0 = ok, -1 = close. */
static int sconn_send(struct sconn *c, const unsigned char *data, size_t len) {
    while (c->out_len > c->out_off) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_len == c->out_off) {
        c->out_len = c->out_off = 0;
        while (len) {
            ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN)
                    break;
                return -1;
            }
            data += n;
            len -= (size_t)n;
        }
    }
    if (len) {
        if (c->out_len + len > MAX_PENDING)
            return -1;
        unsigned char *p = realloc(c->out, c->out_len + len);
        if (!p)
            return -1;
        c->out = p;
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
    }
    int want = c->out_len > c->out_off;
    if (want != c->want_out) { /* only when it changes: no extra system call per message */
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return 0;
}

/* The upgrade request in data[0..len). Returns bytes consumed, 0 = need more, -1 = close. */
static long server_handshake(struct sconn *c, const unsigned char *data, size_t len) {
    const char *s = (const char *)data;
    const char *end = memmem(s, len, "\r\n\r\n", 4);
    if (!end)
        return len > MAX_HEAD ? -1 : 0;
    size_t head = (size_t)(end - s) + 4;
    const char *key = NULL;
    size_t key_len = 0;
    for (const char *line = s; line < end;) {
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - line) > 18 && strncasecmp(line, "Sec-WebSocket-Key:", 18) == 0) {
            key = line + 18;
            while (key < eol && (*key == ' ' || *key == '\t'))
                key++;
            key_len = (size_t)(eol - key);
            while (key_len && (key[key_len - 1] == ' ' || key[key_len - 1] == '\t'))
                key_len--;
        }
        line = eol + 2;
    }
    if (!key || !key_len) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        sconn_send(c, (const unsigned char *)bad, sizeof(bad) - 1);
        return -1;
    }
    char acc[64];
    accept_key(key, key_len, acc);
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    if (sconn_send(c, (const unsigned char *)resp, (size_t)n) < 0)
        return -1;
    c->open = 1;
    return (long)head;
}

/* Complete frames in data[0..len) are answered (echo/pong/close). Returns bytes consumed, or -1
 * to close. Replies are gathered in out_buf and sent once per call. */
static long server_frames(struct sconn *c, const unsigned char *data, size_t len) {
    size_t off = 0, out = 0;
    int closing = 0;
    while (!closing && len - off >= 2) {
        const unsigned char *f = data + off;
        unsigned op = f[0] & 0x0f;
        int masked = f[1] & 0x80;
        uint64_t plen = f[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (len - off < 4)
                break;
            plen = ((uint64_t)f[2] << 8) | f[3];
            hl = 4;
        } else if (plen == 127) {
            if (len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = (plen << 8) | f[2 + i];
            hl = 10;
        }
        if (plen > MAX_FRAME)
            return -1;
        size_t mk = hl;
        if (masked)
            hl += 4;
        if (len - off < hl + plen)
            break;
        unsigned char hdr[10];
        size_t ohl = 2;
        unsigned rop = op == 0x9 ? 0xA : op;
        hdr[0] = (unsigned char)((f[0] & 0x80) | rop);
        if (plen < 126) {
            hdr[1] = (unsigned char)plen;
        } else if (plen < 65536) {
            hdr[1] = 126;
            hdr[2] = (unsigned char)(plen >> 8);
            hdr[3] = (unsigned char)plen;
            ohl = 4;
        } else {
            hdr[1] = 127;
            for (int i = 0; i < 8; i++)
                hdr[2 + i] = (unsigned char)(plen >> (56 - 8 * i));
            ohl = 10;
        }
        if (op == 0xA) { /* pong: nothing to answer */
            off += hl + plen;
            continue;
        }
        if (op == 0x8)
            closing = 1;
        if (out + ohl + plen > sizeof(out_buf)) {
            if (out && sconn_send(c, out_buf, out) < 0)
                return -1;
            out = 0;
        }
        if (ohl + plen > sizeof(out_buf)) { /* a large frame: reply from the heap */
            unsigned char *big = malloc(ohl + plen);
            if (!big)
                return -1;
            memcpy(big, hdr, ohl);
            for (uint64_t i = 0; i < plen; i++)
                big[ohl + i] = f[hl + i] ^ (masked ? f[mk + (i & 3)] : 0);
            int r = sconn_send(c, big, ohl + plen);
            free(big);
            if (r < 0)
                return -1;
        } else {
            memcpy(out_buf + out, hdr, ohl);
            out += ohl;
            for (uint64_t i = 0; i < plen; i++)
                out_buf[out + i] = f[hl + i] ^ (masked ? f[mk + (i & 3)] : 0);
            out += plen;
        }
        off += hl + plen;
    }
    if (out && sconn_send(c, out_buf, out) < 0)
        return -1;
    return closing ? -1 : (long)off;
}

static long server_process(struct sconn *c, const unsigned char *data, size_t len) {
    size_t off = 0;
    if (!c->open) {
        long n = server_handshake(c, data, len);
        if (n <= 0)
            return n;
        off = (size_t)n;
    }
    long n = server_frames(c, data + off, len - off);
    return n < 0 ? -1 : (long)off + n;
}

static void server_readable(struct sconn *c) {
    for (;;) {
        ssize_t n = recv(c->fd, io_buf, sizeof(io_buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            sconn_close(c);
            return;
        }
        if (n < 0)
            return;
        const unsigned char *data = io_buf;
        size_t len = (size_t)n;
        if (c->in_len) { /* an incomplete frame is waiting: append and process the whole */
            unsigned char *p = realloc(c->in, c->in_len + len);
            if (!p) {
                sconn_close(c);
                return;
            }
            c->in = p;
            memcpy(c->in + c->in_len, io_buf, len);
            c->in_len += len;
            data = c->in;
            len = c->in_len;
        }
        long used = server_process(c, data, len);
        if (used < 0) {
            sconn_close(c);
            return;
        }
        size_t rest = len - (size_t)used;
        if (rest > MAX_FRAME + 14) {
            sconn_close(c);
            return;
        }
        if (rest == 0) {
            free(c->in);
            c->in = NULL;
            c->in_len = 0;
        } else if (data == c->in) {
            memmove(c->in, c->in + used, rest);
            c->in_len = rest;
        } else {
            c->in = malloc(rest);
            if (!c->in) {
                sconn_close(c);
                return;
            }
            memcpy(c->in, data + used, rest);
            c->in_len = rest;
        }
        if ((size_t)n < sizeof(io_buf))
            return; /* a short read drained the socket (level-triggered: epoll says if not) */
    }
}

static int run_server(int port) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* inherited by accepted */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("bind");
    if (listen(lfd, 4096) < 0)
        die("listen");
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    fprintf(stderr, "ws_bench server on 127.0.0.1:%d\n", port);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct sconn *c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0)
                        break;
                    c = calloc(1, sizeof(*c));
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (sconn_send(c, NULL, 0) < 0) {
                    sconn_close(c);
                    continue;
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                server_readable(c);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* echo client */

#define CLIENT_KEY "dGhlIHNhbXBsZSBub25jZQ=="

struct cconn {
    int fd;
    int state; /* 0 connecting/handshake sent, 1 open, 2 dead */
    unsigned char in[MAX_HEAD];
    size_t in_len;
    unsigned char payload[128];
    double sent_at;
    uint32_t seq;
};

static size_t msg_size;
static uint32_t rng = 2463534242u;

static uint32_t xorshift(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

#define HIST_US 100000 /* 1 us buckets up to 100 ms, then one overflow bucket */
static uint32_t hist[HIST_US + 1];

static int client_send(struct cconn *c) {
    unsigned char frame[6 + 128];
    c->seq++;
    for (size_t i = 0; i < msg_size; i++)
        c->payload[i] = (unsigned char)('a' + (c->seq + i) % 26);
    uint32_t mask = xorshift();
    frame[0] = 0x82; /* FIN + binary */
    frame[1] = (unsigned char)(0x80 | msg_size);
    memcpy(frame + 2, &mask, 4);
    for (size_t i = 0; i < msg_size; i++)
        frame[6 + i] = c->payload[i] ^ frame[2 + (i & 3)];
    c->sent_at = now_s();
    ssize_t n = send(c->fd, frame, 6 + msg_size, MSG_NOSIGNAL);
    return n == (ssize_t)(6 + msg_size) ? 0 : -1; /* 6+125 bytes always fit an empty socket */
}

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void cconn_kill(struct cconn *c) {
    close(c->fd);
    c->state = 2;
}

/* 0 = ok, -1 = the connection died (counted by the caller). */
static int client_readable(struct cconn *c, int measuring, unsigned long *count,
                           unsigned long *err_frame) {
    for (;;) {
        size_t space = sizeof(c->in) - c->in_len;
        ssize_t r = recv(c->fd, c->in + c->in_len, space, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (r <= 0)
            return -1;
        c->in_len += (size_t)r;
        int drained = (size_t)r < space; /* level-triggered: epoll says if more came */
        while (c->in_len >= 2) {
            unsigned op = c->in[0] & 0x0f;
            size_t plen = c->in[1] & 0x7f;
            if ((c->in[1] & 0x80) || op != 0x2 || plen != msg_size) {
                (*err_frame)++;
                return -2;
            }
            if (c->in_len < 2 + plen)
                break;
            if (memcmp(c->in + 2, c->payload, plen) != 0) {
                (*err_frame)++;
                return -2;
            }
            double lat = now_s() - c->sent_at;
            if (measuring) {
                (*count)++;
                long us = (long)(lat * 1e6);
                hist[us < HIST_US ? (us < 0 ? 0 : us) : HIST_US]++;
            }
            memmove(c->in, c->in + 2 + plen, c->in_len - 2 - plen);
            c->in_len -= 2 + plen;
            if (client_send(c) < 0)
                return -1;
        }
        if (drained)
            return 0;
    }
}

static long percentile(unsigned long total, double p) {
    unsigned long want = (unsigned long)(total * p), seen = 0;
    for (long i = 0; i <= HIST_US; i++) {
        seen += hist[i];
        if (seen > want)
            return i;
    }
    return HIST_US;
}

static int run_echo(int port, int nconns, double warmup, double duration) {
    struct cconn *cs = calloc((size_t)nconns, sizeof(*cs));
    if (!cs)
        die("calloc");
    epfd = epoll_create1(0);
    unsigned long err_connect = 0, err_handshake = 0, err_closed = 0, err_frame = 0;
    char expect_accept[64];
    accept_key(CLIENT_KEY, strlen(CLIENT_KEY), expect_accept);
    char req[256];
    int req_len = snprintf(req, sizeof(req),
                           "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           CLIENT_KEY);
    int pending = 0;
    for (int i = 0; i < nconns; i++) {
        struct cconn *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* Blocking connect + request (loopback: immediate), then non-blocking for the rest. */
        if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            send(c->fd, req, (size_t)req_len, MSG_NOSIGNAL) != req_len) {
            err_connect++;
            cconn_kill(c);
            continue;
        }
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        pending++;
    }
    struct epoll_event evs[256];
    double deadline = now_s() + 15;
    while (pending > 0 && now_s() < deadline) {
        int n = epoll_wait(epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct cconn *c = evs[i].data.ptr;
            if (c->state != 0)
                continue;
            ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r > 0)
                c->in_len += (size_t)r;
            const unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            if (r <= 0 || (!end && c->in_len == sizeof(c->in))) {
                err_handshake++;
                cconn_kill(c);
                pending--;
                continue;
            }
            if (!end)
                continue;
            size_t head = (size_t)(end - c->in) + 4;
            pending--;
            if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0 ||
                !memmem(c->in, head, expect_accept, strlen(expect_accept))) {
                err_handshake++;
                cconn_kill(c);
                continue;
            }
            if (c->in_len > head) { /* the server speaks only when spoken to */
                err_frame++;
                cconn_kill(c);
                continue;
            }
            c->in_len = 0;
            c->state = 1;
        }
    }
    int alive = 0;
    for (int i = 0; i < nconns; i++) {
        struct cconn *c = &cs[i];
        if (c->state == 0) { /* no answer within the deadline */
            err_handshake++;
            cconn_kill(c);
        } else if (c->state == 1) {
            if (client_send(c) < 0) {
                err_closed++;
                cconn_kill(c);
            } else {
                alive++;
            }
        }
    }
    unsigned long count = 0;
    int measuring = 0;
    double t_start = now_s() + warmup, t_end = t_start + duration, t0 = 0, t1, cpu0 = 0;
    for (;;) {
        double t = now_s();
        if (!measuring && t >= t_start) {
            measuring = 1;
            printf("START\n");
            fflush(stdout);
            t0 = now_s();
            cpu0 = cpu_now();
            t_end = t0 + duration;
        }
        if ((measuring && t >= t_end) || alive == 0)
            break;
        int timeout = (int)(((measuring ? t_end : t_start) - t) * 1000) + 1;
        int n = epoll_wait(epfd, evs, 256, timeout > 100 ? 100 : timeout);
        for (int i = 0; i < n; i++) {
            struct cconn *c = evs[i].data.ptr;
            if (c->state != 1)
                continue;
            int r = client_readable(c, measuring, &count, &err_frame);
            if (r < 0) {
                if (r == -1)
                    err_closed++;
                cconn_kill(c);
                alive--;
            }
        }
    }
    t1 = now_s();
    double cpu1 = cpu_now();
    if (!measuring) { /* every connection died during the warm-up */
        printf("START\n");
        t0 = t1;
        cpu0 = cpu1;
    }
    printf("END\n");
    printf("WSJSON {\"messages\":%lu,\"duration_us\":%ld,\"p50_us\":%ld,\"p99_us\":%ld,"
           "\"conns\":%d,\"connect\":%lu,\"handshake\":%lu,\"closed\":%lu,\"bad_frame\":%lu,"
           "\"cpu_s\":%.4f}\n",
           count, (long)((t1 - t0) * 1e6), percentile(count, 0.5), percentile(count, 0.99),
           nconns, err_connect, err_handshake, err_closed, err_frame, cpu1 - cpu0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "server") == 0)
        return run_server(atoi(argv[2]));
    if (argc == 7 && strcmp(argv[1], "echo") == 0) {
        msg_size = (size_t)atoi(argv[6]);
        if (msg_size < 1 || msg_size > 125) {
            fprintf(stderr, "SIZE must be 1..125\n");
            return 2;
        }
        return run_echo(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]));
    }
    fprintf(stderr, "usage: ws_bench server PORT | ws_bench echo PORT CONNS WARMUP_S DURATION_S "
                    "SIZE\n");
    return 2;
}
