/*
 * wsload — a small, fast WebSocket load client for Palaver benchmarks.
 *
 * Opens N client connections to host:port, performs the HTTP upgrade,
 * optionally sends a first text frame (auth) and waits for one reply frame,
 * then either
 *   echo mode   (default): closed loop, each connection keeps K requests in
 *                flight; every complete reply frame is one round trip, timed
 *                with CLOCK_MONOTONIC into a log-linear latency histogram;
 *   listen mode (-l):      connections only read and count frames (and, with
 *                -H, send the -m frame every H seconds: a heartbeat).
 * Runs W seconds of warm-up, then measures D seconds, then stops by itself.
 * epoll, non-blocking, one thread per process; -P forks P processes.
 * Prints one JSON line on stdout.
 *
 * Robust against partial frames, several frames per read, fragmented
 * messages, ping (answered with pong) and server close frames.
 *
 * Build: cc -O2 -o wsload wsload.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------------ options */

static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static const char *opt_path = "/";
static const char *opt_origin = NULL;
static long opt_conns = 100;
static int opt_inflight = 1;
static double opt_seconds = 5.0;
static double opt_warmup = 1.0;
static double opt_connect_timeout = 30.0;
static const char *opt_template = "{\"type\":\"req\",\"id\":{id},\"method\":\"echo\",\"params\":{\"text\":\"hello world\"}}";
static const char *opt_auth = NULL;
static char **auth_lines = NULL; /* -A FILE: one auth frame per connection (by global index) */
static long auth_count = 0;
static double opt_heartbeat = 0; /* -H: listen mode heartbeat period, seconds */
static const char *opt_expect = NULL;
static const char *opt_ts_key = NULL;
static int opt_sources = 1;
static int opt_procs = 1;
static int opt_listen = 0;
static int opt_max_pending = 128;
static int opt_server_pid = 0;

/* --------------------------------------------------------------- histogram */

#define SUB_BITS 7
#define SUB_COUNT (1 << SUB_BITS)
#define HIST_BUCKETS ((64 - SUB_BITS + 1) * SUB_COUNT)

static inline int hist_index(uint64_t v) {
    if (v < SUB_COUNT) return (int)v;
    int e = 63 - __builtin_clzll(v); /* e >= SUB_BITS */
    int sub = (int)((v >> (e - SUB_BITS)) & (SUB_COUNT - 1));
    return (e - SUB_BITS + 1) * SUB_COUNT + sub;
}

/* lower bound and width of a bucket, in ns */
static void hist_bounds(int idx, double *lo, double *width) {
    if (idx < SUB_COUNT) {
        *lo = idx;
        *width = 1;
        return;
    }
    int e = idx / SUB_COUNT + SUB_BITS - 1;
    int sub = idx % SUB_COUNT;
    double unit = (double)(1ULL << (e - SUB_BITS));
    *lo = (double)(SUB_COUNT + sub) * unit;
    *width = unit;
}

static double hist_quantile_us(const uint64_t *h, uint64_t total, double q) {
    if (total == 0) return 0.0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank < 1) rank = 1;
    if (rank > total) rank = total;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank) {
            double lo, w;
            hist_bounds(i, &lo, &w);
            return (lo + w / 2.0) / 1000.0;
        }
    }
    return 0.0;
}

/* ------------------------------------------------------- per-process result */

typedef struct {
    long conns_ready; /* reached READY (upgraded, authenticated) */
    long conns_open_end; /* still open when the measurement ended */
    long conns_failed;
    long closed_by_server;
    long errors;
    uint64_t msgs;
    uint64_t bad;    /* frames not containing the expected substring */
    uint64_t bytes;  /* payload bytes of counted frames */
    double seconds;  /* measured window */
    double cpu_user; /* during the measured window */
    double cpu_sys;
    double server_cpu; /* seconds, only filled by the process that samples */
    double machine_busy; /* seconds of all CPUs, idem */
    double connect_seconds;
    uint64_t hist_total;
    uint64_t hist_max;
    uint64_t hist[HIST_BUCKETS];
} result_t;

/* --------------------------------------------------------------- utilities */

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double rusage_now(double *user, double *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return *user + *sys;
}

/* utime+stime of another process (all its threads), seconds; -1 on error */
static double proc_cpu_seconds(int pid) {
    if (pid <= 0) return -1.0;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1.0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1.0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1.0;
    p += 2; /* now at field 3 (state) */
    unsigned long long utime = 0, stime = 0;
    int field = 3;
    while (*p && field < 14) {
        if (*p == ' ') field++;
        p++;
    }
    if (sscanf(p, "%llu %llu", &utime, &stime) != 2) return -1.0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* busy seconds summed over all CPUs (from the aggregate "cpu" line of /proc/stat); -1 on error */
static double machine_busy_seconds(void) {
    char buf[512];
    int fd = open("/proc/stat", O_RDONLY);
    if (fd < 0) return -1.0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1.0;
    buf[n] = 0;
    unsigned long long v[10] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &v[6], &v[7]) < 8)
        return -1.0;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static uint32_t rng_state = 2463534242u;
static inline uint32_t xorshift32(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static void die(const char *msg) {
    perror(msg);
    exit(2);
}

/* ------------------------------------------------------------- connections */

enum { ST_CONNECTING, ST_HANDSHAKE, ST_AUTH, ST_READY, ST_CLOSED };

typedef struct {
    int fd;
    int state;
    int close_sent;
    int out_armed; /* EPOLLOUT registered */
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
    uint64_t *sent; /* ring of K send timestamps */
    unsigned head, count;
    int frag; /* inside a fragmented message */
    long gidx; /* global index of the connection (over all processes) */
} conn_t;

static conn_t *conns;
static long nconns;     /* connections owned by this process */
static long conn_base;  /* global index of conns[0] */
static int epfd;
static struct sockaddr_in server_addr;
static result_t *res;
static uint64_t next_id = 1;
static long pending = 0; /* connecting/handshaking/authing */
static long opened = 0;
static int running = 0;   /* echo loop active */
static int measuring = 0; /* inside the measured window */
static int stopping = 0;
static int warned = 0;

/* template split into pieces around {id} */
static const char *tpl_parts[64];
static size_t tpl_lens[64];
static int tpl_nparts;

static void split_template(void) {
    const char *s = opt_template;
    tpl_nparts = 0;
    for (;;) {
        const char *p = strstr(s, "{id}");
        if (!p || tpl_nparts >= 62) {
            tpl_parts[tpl_nparts] = s;
            tpl_lens[tpl_nparts++] = strlen(s);
            break;
        }
        tpl_parts[tpl_nparts] = s;
        tpl_lens[tpl_nparts++] = (size_t)(p - s);
        s = p + 4;
    }
}

static void conn_close(conn_t *c, int failed);

static void arm_out(conn_t *c, int on) {
    if (c->out_armed == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = on;
}

static void out_append(conn_t *c, const char *buf, size_t len) {
    if (c->out_len + len > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + len > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap : 1024;
            while (cap < c->out_len + len) cap *= 2;
            c->out = realloc(c->out, cap);
            if (!c->out) die("realloc");
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
}

/* returns -1 if the connection died */
static int conn_flush(conn_t *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm_out(c, 1);
            return 0;
        }
        return -1;
    }
    c->out_off = c->out_len = 0;
    arm_out(c, 0);
    return 0;
}

static int conn_write(conn_t *c, const char *buf, size_t len) {
    if (c->out_len == 0) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n == (ssize_t)len) return 0;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
            n = 0;
        }
        buf += n;
        len -= (size_t)n;
    }
    out_append(c, buf, len);
    return conn_flush(c);
}

/* write a masked client frame */
static int send_frame(conn_t *c, int opcode, const char *payload, size_t len) {
    char stackbuf[4096];
    size_t hdr = 2 + 4 + (len >= 126 ? (len > 65535 ? 8 : 2) : 0);
    char *f = hdr + len <= sizeof stackbuf ? stackbuf : malloc(hdr + len);
    if (!f) die("malloc");
    size_t i = 0;
    f[i++] = (char)(0x80 | opcode);
    if (len < 126) {
        f[i++] = (char)(0x80 | len);
    } else if (len <= 65535) {
        f[i++] = (char)(0x80 | 126);
        f[i++] = (char)(len >> 8);
        f[i++] = (char)(len & 0xff);
    } else {
        f[i++] = (char)(0x80 | 127);
        for (int s = 56; s >= 0; s -= 8) f[i++] = (char)((uint64_t)len >> s);
    }
    uint32_t key = xorshift32();
    unsigned char mk[4];
    memcpy(mk, &key, 4);
    memcpy(f + i, mk, 4);
    i += 4;
    for (size_t j = 0; j < len; j++) f[i + j] = (char)(payload[j] ^ mk[j & 3]);
    int r = conn_write(c, f, i + len);
    if (f != stackbuf) free(f);
    return r;
}

static int send_request(conn_t *c) {
    char payload[65536];
    size_t n = 0;
    char idbuf[24];
    int idlen = snprintf(idbuf, sizeof idbuf, "%" PRIu64, next_id++);
    for (int p = 0; p < tpl_nparts; p++) {
        if (n + tpl_lens[p] + (size_t)idlen >= sizeof payload) break;
        memcpy(payload + n, tpl_parts[p], tpl_lens[p]);
        n += tpl_lens[p];
        if (p + 1 < tpl_nparts) {
            memcpy(payload + n, idbuf, (size_t)idlen);
            n += (size_t)idlen;
        }
    }
    unsigned slot = (c->head + c->count) % (unsigned)opt_inflight;
    c->sent[slot] = now_ns();
    c->count++;
    return send_frame(c, 0x1, payload, n);
}

static void became_ready(conn_t *c) {
    c->state = ST_READY;
    pending--;
    res->conns_ready++;
}

static int start_running(conn_t *c) {
    if (opt_listen) return 0;
    for (int k = c->count; k < opt_inflight; k++)
        if (send_request(c) < 0) return -1;
    return 0;
}

static uint64_t parse_ts(const char *p, size_t len) {
    size_t kl = strlen(opt_ts_key);
    const char *end = p + len;
    for (const char *q = p; q + kl + 3 < end; q++) {
        if (q[0] == '"' && memcmp(q + 1, opt_ts_key, kl) == 0 && q[kl + 1] == '"') {
            const char *r = q + kl + 2;
            while (r < end && (*r == ':' || *r == ' ' || *r == '"')) r++; /* "KEY":123 or "KEY":"123" */
            uint64_t v = 0;
            int digits = 0;
            while (r < end && *r >= '0' && *r <= '9') {
                v = v * 10 + (uint64_t)(*r++ - '0');
                digits++;
            }
            return digits ? v : 0;
        }
    }
    return 0;
}

static void record(uint64_t lat) {
    res->hist[hist_index(lat)]++;
    res->hist_total++;
    if (lat > res->hist_max) res->hist_max = lat;
}

static void note_bad(const char *payload, size_t len) {
    res->bad += measuring ? 1 : 0;
    if (warned < 3) {
        warned++;
        fprintf(stderr, "wsload: unexpected frame: %.*s\n", (int)(len > 300 ? 300 : len), payload);
    }
}

/* a complete data message (the last fragment's payload only) */
static int on_message(conn_t *c, const char *payload, size_t len) {
    if (c->state == ST_AUTH) {
        became_ready(c);
        if (running) return start_running(c);
        return 0;
    }
    if (c->state != ST_READY) return 0;
    uint64_t t = now_ns();
    if (opt_listen) {
        if (measuring) {
            res->msgs++;
            res->bytes += len;
            if (opt_ts_key) {
                uint64_t ts = parse_ts(payload, len);
                if (ts && ts <= t) record(t - ts);
            }
        }
        return 0;
    }
    if (opt_expect && !memmem(payload, len, opt_expect, strlen(opt_expect))) {
        note_bad(payload, len);
        return 0; /* not a reply to one of our requests */
    }
    if (c->count == 0) {
        note_bad(payload, len);
        return 0;
    }
    uint64_t sent = c->sent[c->head];
    c->head = (c->head + 1) % (unsigned)opt_inflight;
    c->count--;
    if (measuring) {
        res->msgs++;
        res->bytes += len;
        record(t - sent);
    }
    if (running && !stopping) return send_request(c);
    return 0;
}

/* parse as many complete frames as the buffer holds; -1 = close conn */
static int parse_frames(conn_t *c) {
    size_t off = 0;
    while (c->in_len - off >= 2) {
        unsigned char *b = (unsigned char *)c->in + off;
        size_t avail = c->in_len - off;
        int fin = b[0] & 0x80;
        int op = b[0] & 0x0f;
        int masked = b[1] & 0x80;
        uint64_t len = b[1] & 0x7f;
        size_t hdr = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = ((uint64_t)b[2] << 8) | b[3];
            hdr = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | b[2 + i];
            hdr = 10;
        }
        if (masked) hdr += 4;
        if (len > (64u << 20)) {
            fprintf(stderr, "wsload: frame too large (%" PRIu64 ")\n", len);
            return -1;
        }
        if (avail < hdr + len) {
            if (hdr + len > c->in_cap) { /* grow so the frame fits */
                size_t cap = c->in_cap;
                while (cap < hdr + len) cap *= 2;
                if (off) {
                    memmove(c->in, c->in + off, c->in_len - off);
                    c->in_len -= off;
                    off = 0;
                }
                c->in = realloc(c->in, cap);
                if (!c->in) die("realloc");
                c->in_cap = cap;
            }
            break;
        }
        char *payload = (char *)b + hdr;
        if (masked) {
            unsigned char *mk = b + hdr - 4;
            for (uint64_t i = 0; i < len; i++) payload[i] ^= (char)mk[i & 3];
        }
        off += hdr + (size_t)len;
        switch (op) {
        case 0x9: /* ping -> pong */
            if (send_frame(c, 0xA, payload, (size_t)len) < 0) return -1;
            break;
        case 0xA: /* pong */
            break;
        case 0x8: /* close: echo the status code, then drop */
            res->closed_by_server++;
            if (!c->close_sent) {
                send_frame(c, 0x8, payload, len >= 2 ? 2 : 0);
                c->close_sent = 1;
            }
            return -1;
        case 0x0:
        case 0x1:
        case 0x2:
            if (!fin) {
                c->frag = 1;
                break;
            }
            c->frag = 0;
            if (on_message(c, payload, (size_t)len) < 0) return -1;
            break;
        default:
            fprintf(stderr, "wsload: unknown opcode %d\n", op);
            return -1;
        }
        if (c->state == ST_CLOSED) return -1;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return 0;
}

static int handshake_response(conn_t *c) {
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in_len > 16384) return -1;
        return 0;
    }
    if (c->in_len < 12 || memcmp(c->in + 9, "101", 3) != 0) {
        if (warned < 3) {
            warned++;
            char *eol = memchr(c->in, '\r', c->in_len);
            fprintf(stderr, "wsload: upgrade refused: %.*s\n", (int)(eol ? eol - c->in : 80), c->in);
        }
        return -1;
    }
    size_t used = (size_t)(end + 4 - c->in);
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    if (auth_count) {
        const char *auth = auth_lines[c->gidx % auth_count];
        c->state = ST_AUTH;
        if (send_frame(c, 0x1, auth, strlen(auth)) < 0) return -1;
    } else if (opt_auth) {
        c->state = ST_AUTH;
        if (send_frame(c, 0x1, opt_auth, strlen(opt_auth)) < 0) return -1;
    } else {
        became_ready(c);
        if (running && start_running(c) < 0) return -1;
    }
    return parse_frames(c);
}

static int send_upgrade(conn_t *c) {
    char req[2048];
    unsigned char key[16];
    for (int i = 0; i < 16; i++) key[i] = (unsigned char)xorshift32();
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char k64[25];
    int j = 0;
    for (int i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
        k64[j++] = b64[(v >> 18) & 63];
        k64[j++] = b64[(v >> 12) & 63];
        k64[j++] = b64[(v >> 6) & 63];
        k64[j++] = b64[v & 63];
    }
    uint32_t v = (uint32_t)key[15] << 16;
    k64[j++] = b64[(v >> 18) & 63];
    k64[j++] = b64[(v >> 12) & 63];
    k64[j++] = '=';
    k64[j++] = '=';
    k64[j] = 0;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     opt_path, opt_host, opt_port, k64, opt_origin ? "Origin: " : "",
                     opt_origin ? opt_origin : "", opt_origin ? "\r\n" : "");
    c->state = ST_HANDSHAKE;
    return conn_write(c, req, (size_t)n);
}

static void conn_close(conn_t *c, int failed) {
    if (c->state == ST_CLOSED) return;
    if (c->state != ST_READY) {
        pending--;
        if (failed) res->conns_failed++;
    } else if (failed) {
        res->errors++;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = ST_CLOSED;
}

static void open_conn(long i) {
    conn_t *c = &conns[i];
    long g = conn_base + i;
    c->fd = -1;
    c->state = ST_CLOSED;
    c->gidx = g;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (warned < 3) {
            warned++;
            perror("wsload: socket");
        }
        res->conns_failed++;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt_sources > 1) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(g % opt_sources));
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            if (warned < 3) {
                warned++;
                perror("wsload: bind");
            }
            close(fd);
            res->conns_failed++;
            return;
        }
    }
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->in_cap = 4096;
    c->in = malloc(c->in_cap);
    c->sent = calloc((size_t)opt_inflight, sizeof(uint64_t));
    if (!c->in || !c->sent) die("malloc");
    pending++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->out_armed = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    int r = connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr);
    if (r < 0 && errno != EINPROGRESS) {
        if (warned < 3) {
            warned++;
            perror("wsload: connect");
        }
        conn_close(c, 1);
    }
}

static void on_event(conn_t *c, uint32_t events) {
    if (c->state == ST_CLOSED) return;
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            if (warned < 3) {
                warned++;
                fprintf(stderr, "wsload: connect: %s\n", strerror(err ? err : ECONNRESET));
            }
            conn_close(c, 1);
            return;
        }
        arm_out(c, 0);
        if (send_upgrade(c) < 0) conn_close(c, 1);
        return;
    }
    if (events & EPOLLOUT) {
        if (conn_flush(c) < 0) {
            conn_close(c, 1);
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        for (;;) {
            if (c->in_cap - c->in_len < 1024) {
                c->in_cap *= 2;
                c->in = realloc(c->in, c->in_cap);
                if (!c->in) die("realloc");
            }
            size_t want = c->in_cap - c->in_len;
            ssize_t n = recv(c->fd, c->in + c->in_len, want, 0);
            if (n > 0) {
                c->in_len += (size_t)n;
                int r = c->state == ST_HANDSHAKE ? handshake_response(c) : parse_frames(c);
                if (r < 0) {
                    conn_close(c, !c->close_sent);
                    return;
                }
                if ((size_t)n < want) break; /* drained; epoll is level-triggered anyway */
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            conn_close(c, 1); /* EOF or error */
            return;
        }
    }
}

/* ---------------------------------------------------------------- a worker */

/* listen mode with -H: walk the connections at nconns/H per second, so each one sends the -m
 * frame once every H seconds, spread evenly; runs from the start (connections made early in a long
 * connect phase must not reach the server's idle timeout) */
static long hb_sent = 0;
static void send_heartbeats(uint64_t t, uint64_t t_start) {
    if (!opt_listen || opt_heartbeat <= 0 || nconns == 0) return;
    long due = (long)((double)(t - t_start) / (opt_heartbeat * 1e9) * (double)nconns);
    size_t len = strlen(opt_template);
    for (; hb_sent < due; hb_sent++) {
        conn_t *c = &conns[hb_sent % nconns];
        if (hb_sent % nconns < opened && c->state == ST_READY && send_frame(c, 0x1, opt_template, len) < 0)
            conn_close(c, 1);
    }
}

static void worker(int idx, result_t *out, int status_fd, int go_fd) {
    res = out;
    memset(res, 0, sizeof *res);
    rng_state ^= (uint32_t)(getpid() * 2654435761u) ^ (uint32_t)now_ns();
    if (!rng_state) rng_state = 1;
    long per = opt_conns / opt_procs, extra = opt_conns % opt_procs;
    nconns = per + (idx < extra ? 1 : 0);
    conn_base = idx * per + (idx < extra ? idx : extra);
    next_id = (uint64_t)idx * 1000000000000ULL + 1;
    conns = calloc((size_t)(nconns ? nconns : 1), sizeof(conn_t));
    if (!conns) die("calloc");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    static const int GO_TAG = 1;
    if (go_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = (void *)&GO_TAG};
        epoll_ctl(epfd, EPOLL_CTL_ADD, go_fd, &ev);
    }
    int maxev = 1024;
    struct epoll_event *evs = calloc((size_t)maxev, sizeof *evs);

    uint64_t t_start = now_ns();
    uint64_t connect_deadline = t_start + (uint64_t)(opt_connect_timeout * 1e9);
    /* whatever happens (a lost go signal, a wedged server), stop by this time */
    uint64_t hard_deadline = connect_deadline + (uint64_t)((opt_warmup + opt_seconds + 30.0) * 1e9);
    int connected_reported = 0;
    uint64_t t_warm_end = 0, t_end = 0, t_go = 0;
    double u0 = 0, s0 = 0, srv0 = -1, busy0 = -1;

    for (;;) {
        uint64_t t = now_ns();
        if (t >= hard_deadline) {
            fprintf(stderr, "wsload: worker %d gave up waiting (hard deadline)\n", idx);
            break;
        }
        /* connect phase: keep at most opt_max_pending handshakes in progress */
        while (!running && opened < nconns && pending < opt_max_pending && t < connect_deadline)
            open_conn(opened++);
        int connect_done = (opened >= nconns && pending == 0) || t >= connect_deadline;
        if (connect_done && !connected_reported) {
            connected_reported = 1;
            res->connect_seconds = (double)(t - t_start) / 1e9;
            /* give up on stragglers and on connections never opened */
            res->conns_failed += nconns - opened;
            for (long i = 0; i < opened; i++)
                if (conns[i].state != ST_READY && conns[i].state != ST_CLOSED) conn_close(&conns[i], 1);
            if (res->conns_ready == 0 && status_fd < 0) break; /* nothing to measure */
            if (status_fd >= 0) {
                char b = 'R';
                if (write(status_fd, &b, 1) != 1) die("write status");
            } else {
                t_go = t;
                fprintf(stderr, "wsload: go %ld\n", res->conns_ready); /* the window starts after -w */
            }
        }
        if (t_go && !running) {
            running = 1;
            t_warm_end = t_go + (uint64_t)(opt_warmup * 1e9);
            t_end = t_warm_end + (uint64_t)(opt_seconds * 1e9);
            for (long i = 0; i < opened; i++)
                if (conns[i].state == ST_READY && start_running(&conns[i]) < 0) conn_close(&conns[i], 1);
        }
        if (running && !measuring && t >= t_warm_end) {
            measuring = 1;
            rusage_now(&u0, &s0);
            if (status_fd < 0) {
                srv0 = proc_cpu_seconds(opt_server_pid);
                busy0 = machine_busy_seconds();
            }
            t_warm_end = t; /* window starts now */
        }
        if (running && measuring && t >= t_end) {
            double u1, s1;
            rusage_now(&u1, &s1);
            if (status_fd < 0 && srv0 >= 0) res->server_cpu = proc_cpu_seconds(opt_server_pid) - srv0;
            if (status_fd < 0 && busy0 >= 0) res->machine_busy = machine_busy_seconds() - busy0;
            res->seconds = (double)(t - t_warm_end) / 1e9;
            res->cpu_user = u1 - u0;
            res->cpu_sys = s1 - s0;
            stopping = 1;
            break;
        }
        send_heartbeats(t, t_start);
        int timeout_ms = opt_heartbeat > 0 ? 20 : 100;
        if (running) {
            uint64_t next = measuring ? t_end : t_warm_end;
            uint64_t dt = next > t ? (next - t) / 1000000ULL + 1 : 0;
            if (dt < (uint64_t)timeout_ms) timeout_ms = (int)dt;
        }
        int n = epoll_wait(epfd, evs, maxev, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == (void *)&GO_TAG) {
                char b;
                ssize_t r = read(go_fd, &b, 1);
                if (r == 1) {
                    t_go = now_ns();
                } else if (r == 0) {
                    fprintf(stderr, "wsload: worker %d lost its parent\n", idx);
                    _exit(2);
                }
                if (r >= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, go_fd, NULL);
                continue;
            }
            on_event((conn_t *)evs[i].data.ptr, evs[i].events);
        }
    }
    for (long i = 0; i < opened; i++) {
        if (conns[i].state == ST_READY) res->conns_open_end++;
        if (conns[i].fd >= 0) close(conns[i].fd);
    }
}

/* ------------------------------------------------------------------- main */

static void load_auth_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    long cap = 1024;
    auth_lines = malloc((size_t)cap * sizeof *auth_lines);
    char *line = NULL;
    size_t n = 0;
    ssize_t len;
    while ((len = getline(&line, &n, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        if (auth_count == cap) {
            cap *= 2;
            auth_lines = realloc(auth_lines, (size_t)cap * sizeof *auth_lines);
        }
        if (!auth_lines || !(auth_lines[auth_count++] = strdup(line))) die("malloc");
    }
    free(line);
    fclose(f);
    if (!auth_count) {
        fprintf(stderr, "wsload: no auth frames in %s\n", path);
        exit(1);
    }
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s -p PORT [options]\n"
            "  -h HOST      server IPv4 address (default 127.0.0.1)\n"
            "  -p PORT      server port\n"
            "  -u PATH      request path (default /)\n"
            "  -O ORIGIN    send an Origin header\n"
            "  -c N         connections (default 100)\n"
            "  -k K         requests in flight per connection (default 1)\n"
            "  -d SECONDS   measured duration (default 5)\n"
            "  -w SECONDS   warm-up before measuring (default 1)\n"
            "  -C SECONDS   connect phase timeout (default 30)\n"
            "  -m TEMPLATE  request payload, {id} replaced by an integer\n"
            "  -a FRAME     first text frame on every connection; waits for one reply\n"
            "  -e STRING    replies must contain STRING (others are counted as bad, not as round trips)\n"
            "  -s S         spread connections over source addresses 127.0.0.1..127.0.0.S\n"
            "  -P P         fork P processes\n"
            "  -l           listen mode: only read and count frames\n"
            "  -T KEY       listen mode: latency from a CLOCK_MONOTONIC ns integer field \"KEY\"\n"
            "               (a number, or a string that starts with one)\n"
            "  -H SECONDS   listen mode: every connection sends the -m frame every SECONDS (heartbeat)\n"
            "  -A FILE      auth frames, one per line; connection i sends line i (mod the count)\n"
            "  -n MAX       max concurrent handshakes (default 128)\n"
            "  -S PID       report this process's CPU use over the measured window\n",
            argv0);
    exit(1);
}

int main(int argc, char **argv) {
    int ch;
    while ((ch = getopt(argc, argv, "h:p:u:O:c:k:d:w:C:m:a:A:e:s:P:lT:H:n:S:")) != -1) {
        switch (ch) {
        case 'h': opt_host = optarg; break;
        case 'p': opt_port = atoi(optarg); break;
        case 'u': opt_path = optarg; break;
        case 'O': opt_origin = optarg; break;
        case 'c': opt_conns = atol(optarg); break;
        case 'k': opt_inflight = atoi(optarg); break;
        case 'd': opt_seconds = atof(optarg); break;
        case 'w': opt_warmup = atof(optarg); break;
        case 'C': opt_connect_timeout = atof(optarg); break;
        case 'm': opt_template = optarg; break;
        case 'a': opt_auth = optarg; break;
        case 'e': opt_expect = optarg; break;
        case 's': opt_sources = atoi(optarg); break;
        case 'P': opt_procs = atoi(optarg); break;
        case 'l': opt_listen = 1; break;
        case 'T': opt_ts_key = optarg; break;
        case 'H': opt_heartbeat = atof(optarg); break;
        case 'A': load_auth_lines(optarg); break;
        case 'n': opt_max_pending = atoi(optarg); break;
        case 'S': opt_server_pid = atoi(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (opt_port <= 0 || opt_conns < 1 || opt_inflight < 1 || opt_procs < 1 || opt_sources < 1 ||
        opt_sources > 254 || opt_seconds <= 0 || opt_warmup < 0 || opt_max_pending < 1)
        usage(argv[0]);
    if (opt_procs > opt_conns) opt_procs = (int)opt_conns;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)opt_port);
    if (inet_pton(AF_INET, opt_host, &server_addr.sin_addr) != 1) {
        fprintf(stderr, "wsload: host must be an IPv4 address\n");
        return 1;
    }
    split_template();

    result_t *results = mmap(NULL, sizeof(result_t) * (size_t)opt_procs, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (results == MAP_FAILED) die("mmap");
    double server_cpu = -1.0, machine_busy = -1.0;
    if (opt_procs == 1) {
        worker(0, &results[0], -1, -1);
        if (opt_server_pid) server_cpu = results[0].server_cpu;
        machine_busy = results[0].machine_busy;
    } else {
        int st[2], go[2];
        if (pipe(st) < 0 || pipe(go) < 0) die("pipe");
        pid_t *pids = calloc((size_t)opt_procs, sizeof(pid_t));
        for (int i = 0; i < opt_procs; i++) {
            pid_t pid = fork();
            if (pid < 0) die("fork");
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(st[0]);
                close(go[1]);
                worker(i, &results[i], st[1], go[0]);
                _exit(0);
            }
            pids[i] = pid;
        }
        close(st[1]);
        close(go[0]);
        int ok = 1;
        for (int i = 0; i < opt_procs; i++) {
            char b;
            if (read(st[0], &b, 1) != 1) {
                ok = 0;
                break;
            }
        }
        if (ok) {
            long ready = 0;
            for (int i = 0; i < opt_procs; i++) ready += results[i].conns_ready;
            fprintf(stderr, "wsload: go %ld\n", ready); /* the window starts after -w */
            char gobuf[256];
            memset(gobuf, 'G', sizeof gobuf);
            for (int left = opt_procs; left > 0;) {
                int w = left > 256 ? 256 : left;
                if (write(go[1], gobuf, (size_t)w) != w) die("write go");
                left -= w;
            }
            /* sample the server over (approximately) the children's window */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double t0 = ts.tv_sec + ts.tv_nsec / 1e9 + opt_warmup;
            struct timespec w0 = {(time_t)t0, (long)((t0 - (time_t)t0) * 1e9)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &w0, NULL);
            double srv0 = proc_cpu_seconds(opt_server_pid);
            double busy0 = machine_busy_seconds();
            double t1 = t0 + opt_seconds;
            struct timespec w1 = {(time_t)t1, (long)((t1 - (time_t)t1) * 1e9)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &w1, NULL);
            if (srv0 >= 0) server_cpu = proc_cpu_seconds(opt_server_pid) - srv0;
            if (busy0 >= 0) machine_busy = machine_busy_seconds() - busy0;
        }
        for (int i = 0; i < opt_procs; i++) waitpid(pids[i], NULL, 0);
        if (!ok) {
            fprintf(stderr, "wsload: a worker died\n");
            return 2;
        }
    }

    /* merge */
    result_t *m = calloc(1, sizeof(result_t));
    double cpu_window = 0;
    for (int i = 0; i < opt_procs; i++) {
        result_t *r = &results[i];
        m->conns_ready += r->conns_ready;
        m->conns_failed += r->conns_failed;
        m->conns_open_end += r->conns_open_end;
        m->closed_by_server += r->closed_by_server;
        m->errors += r->errors;
        m->msgs += r->msgs;
        m->bad += r->bad;
        m->bytes += r->bytes;
        m->cpu_user += r->cpu_user;
        m->cpu_sys += r->cpu_sys;
        if (r->seconds > m->seconds) m->seconds = r->seconds;
        if (r->connect_seconds > m->connect_seconds) m->connect_seconds = r->connect_seconds;
        cpu_window += r->seconds;
        m->hist_total += r->hist_total;
        if (r->hist_max > m->hist_max) m->hist_max = r->hist_max;
        for (int b = 0; b < HIST_BUCKETS; b++) m->hist[b] += r->hist[b];
    }
    double secs = m->seconds > 0 ? m->seconds : opt_seconds;
    printf("{\"mode\":\"%s\",\"conns\":%ld,\"open_at_end\":%ld,\"failed\":%ld,\"procs\":%d,\"inflight\":%d,"
           "\"msgs\":%" PRIu64 ",\"seconds\":%.3f,\"rate\":%.1f,"
           "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"cpu_user\":%.3f,\"cpu_sys\":%.3f,\"cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"machine_busy_pct\":%.1f,"
           "\"bad\":%" PRIu64 ",\"closed_by_server\":%ld,\"errors\":%ld,\"bytes\":%" PRIu64
           ",\"connect_seconds\":%.3f}\n",
           opt_listen ? "listen" : "echo", m->conns_ready, m->conns_open_end, m->conns_failed, opt_procs, opt_inflight, m->msgs,
           secs, (double)m->msgs / secs, hist_quantile_us(m->hist, m->hist_total, 0.50),
           hist_quantile_us(m->hist, m->hist_total, 0.90), hist_quantile_us(m->hist, m->hist_total, 0.99),
           hist_quantile_us(m->hist, m->hist_total, 0.999), (double)m->hist_max / 1000.0, m->cpu_user,
           m->cpu_sys, (m->cpu_user + m->cpu_sys) / secs * 100.0,
           server_cpu >= 0 ? server_cpu / secs * 100.0 : -1.0,
           machine_busy >= 0 ? machine_busy / secs * 100.0 : -1.0, m->bad, m->closed_by_server, m->errors,
           m->bytes, m->connect_seconds);
    (void)cpu_window;
    return m->conns_ready > 0 ? 0 : 3;
}
