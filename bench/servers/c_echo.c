/*
 * c_echo — minimal WebSocket echo server in C (epoll, one thread).
 *
 * Not a server under test: it measures the load client's own ceiling. Whatever rate wsload reaches
 * against it is what wsload can drive; a Python server measured well below that rate is not
 * limited by the client.
 *
 * Build: cc -O2 -o c_echo c_echo.c        Run: c_echo --port PORT [--host 127.0.0.1]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- SHA-1 */

typedef struct {
    uint32_t h[5];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
} sha1_t;

#define ROL(x, r) (((x) << (r)) | ((x) >> (32 - (r))))

static void sha1_block(sha1_t *s, const unsigned char *p) {
    uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = ROL(a, 5) + f + e + k + w[i];
        e = d, d = c, c = ROL(b, 30), b = a, a = t;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

static void sha1(const unsigned char *data, size_t len, unsigned char out[20]) {
    sha1_t s = {{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}, 0, {0}, 0};
    s.len = (uint64_t)len * 8;
    while (len >= 64) {
        sha1_block(&s, data);
        data += 64, len -= 64;
    }
    unsigned char tail[128] = {0};
    memcpy(tail, data, len);
    tail[len] = 0x80;
    size_t total = len + 9 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) tail[total - 1 - i] = (unsigned char)(s.len >> (8 * i));
    sha1_block(&s, tail);
    if (total == 128) sha1_block(&s, tail + 64);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(s.h[i] >> (24 - 8 * j));
}

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = 0;
}

/* ---------------------------------------------------------- connections */

typedef struct {
    int fd;
    int upgraded;
    char *in;
    size_t len, cap;
    char *out;
    size_t out_len, out_cap;
    int armed; /* EPOLLOUT registered */
} conn_t;

static int epfd;

static void drop(conn_t *c) {
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static int flush_out(conn_t *c) {
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    int want = c->out_len != 0;
    if (want != c->armed) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->armed = want;
    }
    return 0;
}

static void put(conn_t *c, const void *p, size_t n) {
    if (c->out_len + n > c->out_cap) {
        while (c->out_len + n > c->out_cap) c->out_cap = c->out_cap ? c->out_cap * 2 : 4096;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) abort();
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void put_frame(conn_t *c, int op, const char *payload, size_t len) {
    unsigned char h[10];
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | op);
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len <= 65535) {
        h[1] = 126, h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len, hl = 4;
    } else {
        h[1] = 127, hl = 10;
        for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    put(c, h, hl);
    put(c, payload, len);
}

/* -1: close the connection */
static int handle(conn_t *c) {
    size_t off = 0;
    if (!c->upgraded) {
        char *end = memmem(c->in, c->len, "\r\n\r\n", 4);
        if (!end) return c->len > 16384 ? -1 : 0;
        char *k = strcasestr(c->in, "\r\nSec-WebSocket-Key:");
        if (!k || k > end) return -1;
        k += 20;
        while (*k == ' ') k++;
        char *ke = k;
        while (ke < end && *ke != '\r' && *ke != ' ') ke++;
        char keybuf[128];
        size_t kl = (size_t)(ke - k);
        if (kl > 60) return -1;
        memcpy(keybuf, k, kl);
        memcpy(keybuf + kl, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
        unsigned char digest[20];
        sha1((unsigned char *)keybuf, kl + 36, digest);
        char accept[32], resp[256];
        base64(digest, 20, accept);
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        put(c, resp, (size_t)n);
        c->upgraded = 1;
        off = (size_t)(end + 4 - c->in);
    }
    while (c->len - off >= 2) {
        unsigned char *b = (unsigned char *)c->in + off;
        size_t avail = c->len - off, hl = 2;
        int op = b[0] & 15, masked = b[1] & 0x80;
        uint64_t len = b[1] & 0x7f;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)b[2] << 8 | b[3], hl = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | b[2 + i];
            hl = 10;
        }
        if (!masked || len > (16u << 20)) return -1;
        hl += 4;
        if (avail < hl + len) {
            if (hl + len > c->cap) {
                memmove(c->in, c->in + off, c->len - off);
                c->len -= off, off = 0;
                while (c->cap < hl + len) c->cap *= 2;
                c->in = realloc(c->in, c->cap);
                if (!c->in) abort();
            }
            break;
        }
        unsigned char *mk = b + hl - 4;
        char *p = (char *)b + hl;
        for (uint64_t i = 0; i < len; i++) p[i] ^= (char)mk[i & 3];
        off += hl + (size_t)len;
        if (op == 1 || op == 2 || op == 0) put_frame(c, op, p, (size_t)len);
        else if (op == 9) put_frame(c, 10, p, (size_t)len);
        else if (op == 8) {
            put_frame(c, 8, p, len >= 2 ? 2 : 0);
            flush_out(c);
            return -1;
        }
    }
    memmove(c->in, c->in + off, c->len - off);
    c->len -= off;
    return flush_out(c);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    }
    if (port <= 0) {
        fprintf(stderr, "usage: %s --port PORT [--host 127.0.0.1]\n", argv[0]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "c_echo: host must be an IPv4 address\n");
        return 1;
    }
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("c_echo: bind/listen");
        return 1;
    }
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(epfd, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->cap = 4096;
                    c->in = malloc(c->cap);
                    struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e2);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT && flush_out(c) < 0) {
                drop(c);
                continue;
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            if (c->cap - c->len < 1024) {
                c->cap *= 2;
                c->in = realloc(c->in, c->cap);
                if (!c->in) abort();
            }
            ssize_t r = recv(c->fd, c->in + c->len, c->cap - c->len - 1, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(c);
                continue;
            }
            if (r > 0) {
                c->len += (size_t)r;
                c->in[c->len] = 0; /* the handshake is parsed with string functions */
                if (handle(c) < 0) drop(c);
            }
        }
    }
}
