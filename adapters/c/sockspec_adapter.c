/*
 * sockspec adapter in C, on the kernel's sockets: the template to copy.
 *
 * An adapter reads one JSON request per line on stdin, makes the socket call, and
 * writes one JSON response per line on stdout (docs/adapter-protocol.md is the whole
 * contract). This one uses only the C library and POSIX (threads, sockets, poll), so
 * that a C stack author can replace the socket calls with their stack's (lwip_socket,
 * lwip_bind, ...) and a student can read every line.
 *
 * Build:  cc -O2 -pthread -o sockspec_adapter sockspec_adapter.c
 * Use:    sockspec run --adapter ./sockspec_adapter
 *
 * Layout, top to bottom: a small JSON reader for the flat requests the harness sends;
 * the handle table; errno names; addresses and hex; the operations; the main loop,
 * which runs calls that may block on a thread each (the protocol's `concurrent`).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RECV (16 << 20) /* the protocol lets an adapter cap a recv at 16 MiB */
#define MAX_LIST 8          /* recv flags and poll events: a few words each */

/* ---- requests ------------------------------------------------------------------- */

/* What a request may carry. Strings are copied; `data` (hex) is allocated. */
struct request {
    uint64_t id;
    char op[32];
    char family[16];
    char addr[80];
    char how[8];
    char opt[32];
    char *data;
    int64_t sock, backlog, max, timeout_ms, protocol;
    uint64_t seed, offset, len;
    int has_value, value_is_null;
    int64_t value;
    int on;
    char flags[MAX_LIST][16];
    int nflags;
    char events[MAX_LIST][16];
    int nevents;
};

/* A cursor over one line of JSON. The harness sends flat objects whose values are
 * strings, integers, booleans, null and lists of strings; anything else is skipped. */
struct json {
    const char *p;
    int bad;
};

static void skip_ws(struct json *j) {
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n') j->p++;
}

static int eat(struct json *j, char c) {
    skip_ws(j);
    if (*j->p != c) return 0;
    j->p++;
    return 1;
}

/* A string into out (at most size-1 bytes kept; NULL out skips it). */
static void read_string(struct json *j, char *out, size_t size) {
    size_t n = 0;
    if (!eat(j, '"')) {
        j->bad = 1;
        return;
    }
    while (*j->p && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            char e = *j->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': /* only ASCII matters in requests: keep the low byte */
                c = (char)strtol((char[]){j->p[2], j->p[3], 0}, NULL, 16);
                for (int k = 0; k < 4 && *j->p; k++) j->p++;
                break;
            case 0: j->bad = 1; return;
            default: c = e; /* \" \\ \/ */
            }
        }
        if (out && n + 1 < size) out[n++] = c;
    }
    if (!eat(j, '"')) j->bad = 1;
    if (out) out[n] = 0;
}

/* A string of any length, allocated. */
static char *read_long_string(struct json *j) {
    skip_ws(j);
    const char *start = j->p + 1, *end = start;
    while (*end && *end != '"') end++;
    size_t n = (size_t)(end - start) + 1;
    char *s = malloc(n);
    if (!s) {
        j->bad = 1;
        return NULL;
    }
    read_string(j, s, n);
    return s;
}

static uint64_t read_u64(struct json *j) {
    skip_ws(j);
    char *end;
    errno = 0;
    uint64_t v = strtoull(j->p, &end, 10);
    if (end == j->p || *j->p == '-' || errno) j->bad = 1;
    j->p = end;
    return v;
}

static int64_t read_i64(struct json *j) {
    skip_ws(j);
    char *end;
    errno = 0;
    int64_t v = strtoll(j->p, &end, 10);
    if (end == j->p || errno) j->bad = 1;
    j->p = end;
    return v;
}

static void skip_value(struct json *j);

static void skip_container(struct json *j, char open, char close) {
    eat(j, open);
    if (eat(j, close)) return;
    do {
        if (open == '{') {
            read_string(j, NULL, 0);
            if (!eat(j, ':')) j->bad = 1;
        }
        skip_value(j);
    } while (!j->bad && eat(j, ','));
    if (!eat(j, close)) j->bad = 1;
}

static void skip_value(struct json *j) {
    skip_ws(j);
    switch (*j->p) {
    case '"': read_string(j, NULL, 0); break;
    case '{': skip_container(j, '{', '}'); break;
    case '[': skip_container(j, '[', ']'); break;
    case 't': j->p += 4; break;
    case 'f': j->p += 5; break;
    case 'n': j->p += 4; break;
    default: read_i64(j);
    }
}

static int read_list(struct json *j, char items[][16], int max) {
    int n = 0;
    if (!eat(j, '[')) {
        j->bad = 1;
        return 0;
    }
    if (eat(j, ']')) return 0;
    do {
        if (n < max) read_string(j, items[n++], 16);
        else j->bad = 1;
    } while (!j->bad && eat(j, ','));
    if (!eat(j, ']')) j->bad = 1;
    return n;
}

static int read_bool(struct json *j) {
    skip_ws(j);
    if (!strncmp(j->p, "true", 4)) return j->p += 4, 1;
    if (!strncmp(j->p, "false", 5)) return j->p += 5, 0;
    j->bad = 1;
    return 0;
}

/* Parses one request line; returns 0 when it is not a request we can read. */
static int parse_request(const char *line, struct request *r) {
    struct json j = {line, 0};
    memset(r, 0, sizeof *r);
    r->sock = -1;
    if (!eat(&j, '{')) return 0;
    if (eat(&j, '}')) return 1;
    do {
        char key[32];
        read_string(&j, key, sizeof key);
        if (!eat(&j, ':')) return 0;
        if (!strcmp(key, "id")) r->id = read_u64(&j);
        else if (!strcmp(key, "op")) read_string(&j, r->op, sizeof r->op);
        else if (!strcmp(key, "family")) read_string(&j, r->family, sizeof r->family);
        else if (!strcmp(key, "addr")) read_string(&j, r->addr, sizeof r->addr);
        else if (!strcmp(key, "how")) read_string(&j, r->how, sizeof r->how);
        else if (!strcmp(key, "opt")) read_string(&j, r->opt, sizeof r->opt);
        else if (!strcmp(key, "data")) r->data = read_long_string(&j);
        else if (!strcmp(key, "sock")) r->sock = read_i64(&j);
        else if (!strcmp(key, "backlog")) r->backlog = read_i64(&j);
        else if (!strcmp(key, "max")) r->max = read_i64(&j);
        else if (!strcmp(key, "timeout_ms")) r->timeout_ms = read_i64(&j);
        else if (!strcmp(key, "protocol")) r->protocol = read_i64(&j);
        else if (!strcmp(key, "seed")) r->seed = read_u64(&j);
        else if (!strcmp(key, "offset")) r->offset = read_u64(&j);
        else if (!strcmp(key, "len")) r->len = read_u64(&j);
        else if (!strcmp(key, "on")) r->on = read_bool(&j);
        else if (!strcmp(key, "flags")) r->nflags = read_list(&j, r->flags, MAX_LIST);
        else if (!strcmp(key, "events")) r->nevents = read_list(&j, r->events, MAX_LIST);
        else if (!strcmp(key, "value")) {
            r->has_value = 1;
            skip_ws(&j);
            if (!strncmp(j.p, "null", 4)) {
                r->value_is_null = 1;
                j.p += 4;
            } else {
                r->value = read_i64(&j);
            }
        } else skip_value(&j);
    } while (!j.bad && eat(&j, ','));
    return !j.bad && eat(&j, '}');
}

/* ---- responses ------------------------------------------------------------------ */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Writes one whole line: responses from several threads never interleave. */
static void respond(const char *line) {
    pthread_mutex_lock(&out_lock);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

/* A growing string for building a response. */
struct text {
    char *s;
    size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n >= 0 && t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t want = (t->cap ? t->cap * 2 : 256) + (size_t)(n > 0 ? n : 0);
        char *grown = realloc(t->s, want);
        if (!grown) abort();
        t->s = grown;
        t->cap = want;
    }
}

/* The errno names of the protocol (errno.h has no portable way to name a number). */
static const char *errno_name(int e) {
    switch (e) {
#define N(x) case x: return #x;
        N(EPERM) N(ENOENT) N(EINTR) N(EIO) N(EBADF) N(EAGAIN) N(ENOMEM) N(EACCES)
        N(EFAULT) N(EBUSY) N(EEXIST) N(EINVAL) N(ENFILE) N(EMFILE) N(ENOSPC) N(EPIPE)
        N(ENOSYS) N(ENOTSOCK) N(EDESTADDRREQ) N(EMSGSIZE) N(EPROTOTYPE) N(ENOPROTOOPT)
        N(EPROTONOSUPPORT) N(EOPNOTSUPP) N(EAFNOSUPPORT) N(EADDRINUSE) N(EADDRNOTAVAIL)
        N(ENETDOWN) N(ENETUNREACH) N(ENETRESET) N(ECONNABORTED) N(ECONNRESET) N(ENOBUFS)
        N(EISCONN) N(ENOTCONN) N(ESHUTDOWN) N(ETIMEDOUT) N(ECONNREFUSED) N(EHOSTDOWN)
        N(EHOSTUNREACH) N(EALREADY) N(EINPROGRESS) N(EPROTO)
#undef N
    default: return "EIO";
    }
}

static int respond_error(uint64_t id, const char *name, const char *message) {
    char line[512];
    /* Messages here never hold quotes or backslashes: strerror's and our own. */
    snprintf(line, sizeof line, "{\"id\":%" PRIu64 ",\"err\":{\"errno\":\"%s\",\"message\":\"%s\"}}",
             id, name, message);
    respond(line);
    return 0;
}

static int respond_errno(uint64_t id, int e) { return respond_error(id, errno_name(e), strerror(e)); }

static int respond_ok(uint64_t id, const char *fields) {
    struct text t = {0};
    add(&t, "{\"id\":%" PRIu64 ",\"ok\":{%s}}", id, fields);
    respond(t.s);
    free(t.s);
    return 0;
}

/* ---- handles -------------------------------------------------------------------- */

/* Handle h (from 1) is fds[h]; -1 once closed. Handles are never reused. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int *fds;
static int64_t handles, capacity;

static int64_t new_handle(int fd) {
    pthread_mutex_lock(&table_lock);
    if (handles + 1 >= capacity) {
        capacity = capacity ? capacity * 2 : 64;
        fds = realloc(fds, (size_t)capacity * sizeof *fds);
        if (!fds) abort();
    }
    fds[++handles] = fd;
    int64_t h = handles;
    pthread_mutex_unlock(&table_lock);
    return h;
}

/* The descriptor of a live handle, or -1 (the caller answers EBADF). */
static int fd_of(int64_t h) {
    pthread_mutex_lock(&table_lock);
    int fd = (h >= 1 && h <= handles) ? fds[h] : -1;
    pthread_mutex_unlock(&table_lock);
    return fd;
}

/* ---- addresses and bytes -------------------------------------------------------- */

/* "127.0.0.1:80" or "[::1]:80"; 0 when the text is no address. */
static int parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len) {
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || !colon[1]) return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return 0;
    size_t hl = (size_t)(colon - text);
    if (hl >= sizeof host) return 0;
    memcpy(host, text, hl);
    host[hl] = 0;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[hl - 1] = 0;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof *a;
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t size) {
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, size, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, size, "%s:%u", host, ntohs(a->sin_port));
    }
}

/* Hex text to bytes; -1 when it is not hex. */
static int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex to bytes in one pass (sscanf per byte would rescan the rest of a megabyte of hex
 * every time: glibc measures the string's length on each call). */
static ssize_t from_hex(const char *hex, unsigned char **out) {
    size_t n = strlen(hex);
    if (n % 2) return -1;
    *out = malloc(n / 2 + 1);
    if (!*out) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return free(*out), -1;
        (*out)[i] = (unsigned char)(hi << 4 | lo);
    }
    return (ssize_t)(n / 2);
}

static void add_hex(struct text *t, const unsigned char *b, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) add(t, "%c%c", digits[b[i] >> 4], digits[b[i] & 15]);
}

/* The bulk pattern (docs/adapter-protocol.md, "Bulk data"). */
static uint64_t splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned char pattern_byte(uint64_t seed, uint64_t i) {
    return (unsigned char)(splitmix64(seed ^ splitmix64(i / 8)) >> (8 * (i % 8)));
}

/* ---- the stack under test ------------------------------------------------------ */

/* How an option's value travels: on/off, a number, milliseconds (a struct timeval to
 * the stack), SO_LINGER's null-or-seconds, SO_ERROR's pending error by name. */
enum option_kind { OPT_FLAG, OPT_NUMBER, OPT_MILLIS, OPT_LINGER, OPT_ERROR };

struct option {
    const char *name;
    int level, optname;
    enum option_kind kind;
};

/* Every socket call goes through these. To test another stack, copy this file and
 * point them at your stack's calls (lwip_socket, lwip_bind, ...), start the stack in
 * stack_start, and list the options it has; or, as adapters/lwip does, define
 * SOCKSPEC_CUSTOM_STACK and your own versions, then #include this file. */
#ifndef SOCKSPEC_CUSTOM_STACK
#define STACK_NAME "linux (sockspec C adapter)"
#define STACK_CAPABILITIES "\"bulk\",\"concurrent\",\"ipv4\",\"ipv6\",\"nonblocking\",\"oob\",\"poll\""

static int stack_start(void) { return 0; }
static int stack_socket(int family) { return socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0); }
static int stack_bind(int fd, const struct sockaddr *a, socklen_t n) { return bind(fd, a, n); }
static int stack_connect(int fd, const struct sockaddr *a, socklen_t n) { return connect(fd, a, n); }
static int stack_listen(int fd, int backlog) { return listen(fd, backlog); }
static int stack_accept(int fd, struct sockaddr *a, socklen_t *n) { return accept4(fd, a, n, SOCK_CLOEXEC); }
/* MSG_NOSIGNAL: a broken connection answers EPIPE, it must not kill the adapter. flags
 * is 0 or MSG_OOB (urgent data). */
static ssize_t stack_send(int fd, const void *b, size_t n, int flags) {
    return send(fd, b, n, flags | MSG_NOSIGNAL);
}
static ssize_t stack_recv(int fd, void *b, size_t n, int flags) { return recv(fd, b, n, flags); }
static int stack_shutdown(int fd, int how) { return shutdown(fd, how); }
static int stack_close(int fd) { return close(fd); }
static int stack_getsockname(int fd, struct sockaddr *a, socklen_t *n) { return getsockname(fd, a, n); }
static int stack_getpeername(int fd, struct sockaddr *a, socklen_t *n) { return getpeername(fd, a, n); }
static int stack_setsockopt(int fd, int level, int name, const void *v, socklen_t n) {
    return setsockopt(fd, level, name, v, n);
}
static int stack_getsockopt(int fd, int level, int name, void *v, socklen_t *n) {
    return getsockopt(fd, level, name, v, n);
}
static int stack_nonblocking(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}
static int stack_poll(struct pollfd *p, int timeout_ms) { return poll(p, 1, timeout_ms); }
/* Urgent data (capability "oob"): 1 when the next byte to read is the mark. */
static int stack_sockatmark(int fd) { return sockatmark(fd); }

/* The options this stack has, as {name, level, optname, kind} entries. */
#define STACK_OPTIONS \
    {"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, OPT_FLAG}, \
    {"SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, OPT_FLAG}, \
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, OPT_FLAG}, \
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, OPT_NUMBER}, \
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, OPT_NUMBER}, \
    {"SO_LINGER", SOL_SOCKET, SO_LINGER, OPT_LINGER}, \
    {"SO_ERROR", SOL_SOCKET, SO_ERROR, OPT_ERROR}, \
    {"SO_ACCEPTCONN", SOL_SOCKET, SO_ACCEPTCONN, OPT_FLAG}, \
    {"SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, OPT_MILLIS}, \
    {"SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, OPT_MILLIS}, \
    {"SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, OPT_NUMBER}, \
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, OPT_FLAG}, \
    {"TCP_CORK", IPPROTO_TCP, TCP_CORK, OPT_FLAG}, \
    {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, OPT_NUMBER}, \
    {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, OPT_NUMBER}, \
    {"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, OPT_NUMBER}, \
    {"TCP_MAXSEG", IPPROTO_TCP, TCP_MAXSEG, OPT_NUMBER}, \
    {"TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT, OPT_NUMBER}, \
    {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, OPT_FLAG}, \
    {"IP_TTL", IPPROTO_IP, IP_TTL, OPT_NUMBER}, \
    {"IP_TOS", IPPROTO_IP, IP_TOS, OPT_NUMBER}, \
    {"SO_OOBINLINE", SOL_SOCKET, SO_OOBINLINE, OPT_FLAG},
#endif

static const struct option options[] = {STACK_OPTIONS};

/* ---- socket options ------------------------------------------------------------- */

static const struct option *find_option(const char *name) {
    for (size_t i = 0; i < sizeof options / sizeof *options; i++)
        if (!strcmp(options[i].name, name)) return &options[i];
    return NULL;
}

/* ---- operations ----------------------------------------------------------------- */

/* Each operation answers its request itself. The socket's descriptor has been looked
 * up already (fd is -1 for ops that take none). */
typedef int (*operation)(const struct request *r, int fd);

static int op_hello(const struct request *r, int fd) {
    (void)fd;
    if (r->protocol != 1) return respond_error(r->id, "EPROTO", "this adapter speaks protocol 1");
    struct text t = {0};
    add(&t, "\"name\":\"%s\",\"protocol\":1,\"capabilities\":[%s", STACK_NAME, STACK_CAPABILITIES);
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) add(&t, ",\"%s\"", options[i].name);
    add(&t, "]");
    respond_ok(r->id, t.s);
    free(t.s);
    return 0;
}

static int op_socket(const struct request *r, int fd) {
    (void)fd;
    int family = !strcmp(r->family, "ipv4") ? AF_INET : !strcmp(r->family, "ipv6") ? AF_INET6 : -1;
    if (family < 0) return respond_error(r->id, "ENOSYS", "unknown family");
    int s = stack_socket(family);
    if (s < 0) return respond_errno(r->id, errno);
    char fields[32];
    snprintf(fields, sizeof fields, "\"sock\":%" PRId64, new_handle(s));
    respond_ok(r->id, fields);
    return 0;
}

/* bind and connect: an address of the other family goes to the kernel as it is, which
 * answers EINVAL (or EAFNOSUPPORT), as the protocol asks. */
static int op_bind_or_connect(const struct request *r, int fd) {
    struct sockaddr_storage ss;
    socklen_t len;
    if (!parse_addr(r->addr, &ss, &len)) return respond_error(r->id, "EINVAL", "bad address");
    int rc = !strcmp(r->op, "bind") ? stack_bind(fd, (struct sockaddr *)&ss, len)
                                     : stack_connect(fd, (struct sockaddr *)&ss, len);
    if (rc < 0) return respond_errno(r->id, errno);
    respond_ok(r->id, "");
    return 0;
}

static int op_listen(const struct request *r, int fd) {
    if (stack_listen(fd, (int)r->backlog) < 0) return respond_errno(r->id, errno);
    respond_ok(r->id, "");
    return 0;
}

static int op_accept(const struct request *r, int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int c = stack_accept(fd, (struct sockaddr *)&ss, &len);
    if (c < 0) return respond_errno(r->id, errno);
    char addr[80], fields[160];
    format_addr(&ss, addr, sizeof addr);
    snprintf(fields, sizeof fields, "\"sock\":%" PRId64 ",\"addr\":\"%s\"", new_handle(c), addr);
    respond_ok(r->id, fields);
    return 0;
}

static int op_send(const struct request *r, int fd) {
    unsigned char *bytes;
    ssize_t n = r->data ? from_hex(r->data, &bytes) : -1;
    if (n < 0) return respond_error(r->id, "EINVAL", "data is not hex");
    int flags = 0;
    for (int i = 0; i < r->nflags; i++) {
        if (!strcmp(r->flags[i], "oob")) flags |= MSG_OOB;
        else {
            free(bytes);
            return respond_error(r->id, "ENOSYS", "unknown send flag");
        }
    }
    ssize_t sent = stack_send(fd, bytes, (size_t)n, flags);
    int e = errno;
    free(bytes);
    if (sent < 0) return respond_errno(r->id, e);
    char fields[32];
    snprintf(fields, sizeof fields, "\"sent\":%zd", sent);
    respond_ok(r->id, fields);
    return 0;
}

static int op_recv(const struct request *r, int fd) {
    int flags = 0;
    for (int i = 0; i < r->nflags; i++) {
        if (!strcmp(r->flags[i], "oob")) flags |= MSG_OOB;
        else if (!strcmp(r->flags[i], "peek")) flags |= MSG_PEEK;
        else if (!strcmp(r->flags[i], "waitall")) flags |= MSG_WAITALL;
        else if (!strcmp(r->flags[i], "dontwait")) flags |= MSG_DONTWAIT;
        else if (!strcmp(r->flags[i], "trunc")) flags |= MSG_TRUNC;
        else return respond_error(r->id, "ENOSYS", "unknown recv flag");
    }
    size_t max = r->max < 0 ? 0 : r->max > MAX_RECV ? MAX_RECV : (size_t)r->max;
    /* Zeroed: with MSG_TRUNC the stack counts bytes it never copies. */
    unsigned char *buf = calloc(max ? max : 1, 1);
    if (!buf) return respond_errno(r->id, ENOMEM);
    ssize_t n = stack_recv(fd, buf, max, flags);
    if (n > (ssize_t)max) n = (ssize_t)max;
    if (n < 0) {
        int e = errno;
        free(buf);
        return respond_errno(r->id, e);
    }
    struct text t = {0};
    add(&t, "\"data\":\"");
    add_hex(&t, buf, (size_t)n);
    add(&t, "\"");
    free(buf);
    respond_ok(r->id, t.s);
    free(t.s);
    return 0;
}

static int op_send_pattern(const struct request *r, int fd) {
    size_t len = r->len > MAX_RECV ? MAX_RECV : (size_t)r->len;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) return respond_errno(r->id, ENOMEM);
    for (size_t i = 0; i < len; i++) buf[i] = pattern_byte(r->seed, r->offset + i);
    ssize_t sent = stack_send(fd, buf, len, 0);
    int e = errno;
    free(buf);
    if (sent < 0) return respond_errno(r->id, e);
    char fields[32];
    snprintf(fields, sizeof fields, "\"sent\":%zd", sent);
    respond_ok(r->id, fields);
    return 0;
}

static int op_recv_pattern(const struct request *r, int fd) {
    size_t max = r->max < 0 ? 0 : r->max > MAX_RECV ? MAX_RECV : (size_t)r->max;
    unsigned char *buf = malloc(max ? max : 1);
    if (!buf) return respond_errno(r->id, ENOMEM);
    ssize_t n = stack_recv(fd, buf, max, 0);
    if (n < 0) {
        int e = errno;
        free(buf);
        return respond_errno(r->id, e);
    }
    struct text t = {0};
    add(&t, "\"received\":%zd", n);
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == pattern_byte(r->seed, r->offset + (uint64_t)i)) continue;
        /* The first wrong byte, with up to 8 received bytes either side of it. */
        ssize_t lo = i >= 8 ? i - 8 : 0, hi = i + 9 < n ? i + 9 : n;
        add(&t, ",\"mismatch\":{\"at\":%" PRIu64 ",\"got\":%u,\"context_at\":%" PRIu64 ",\"context\":\"",
            r->offset + (uint64_t)i, buf[i], r->offset + (uint64_t)lo);
        add_hex(&t, buf + lo, (size_t)(hi - lo));
        add(&t, "\"}");
        break;
    }
    free(buf);
    respond_ok(r->id, t.s);
    free(t.s);
    return 0;
}

static int op_shutdown(const struct request *r, int fd) {
    int how = !strcmp(r->how, "rd") ? SHUT_RD : !strcmp(r->how, "wr") ? SHUT_WR
            : !strcmp(r->how, "rdwr") ? SHUT_RDWR : -1;
    if (how < 0) return respond_error(r->id, "ENOSYS", "unknown shutdown direction");
    if (stack_shutdown(fd, how) < 0) return respond_errno(r->id, errno);
    respond_ok(r->id, "");
    return 0;
}

static int op_close(const struct request *r, int fd) {
    pthread_mutex_lock(&table_lock);
    fds[r->sock] = -1; /* dead from now on, whatever close(2) says */
    pthread_mutex_unlock(&table_lock);
    /* A thread blocked in recv on fd keeps the kernel's file (and the connection)
     * until its call returns: close(2), NOTES. */
    if (stack_close(fd) < 0) return respond_errno(r->id, errno);
    respond_ok(r->id, "");
    return 0;
}

static int op_name(const struct request *r, int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int rc = !strcmp(r->op, "getsockname") ? stack_getsockname(fd, (struct sockaddr *)&ss, &len)
                                            : stack_getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc < 0) return respond_errno(r->id, errno);
    char addr[80], fields[100];
    format_addr(&ss, addr, sizeof addr);
    snprintf(fields, sizeof fields, "\"addr\":\"%s\"", addr);
    respond_ok(r->id, fields);
    return 0;
}

static int op_setsockopt(const struct request *r, int fd) {
    const struct option *o = find_option(r->opt);
    if (!o) return respond_error(r->id, "ENOPROTOOPT", "unknown option");
    if (!r->has_value) return respond_error(r->id, "EINVAL", "no value");
    int rc;
    if (o->kind == OPT_LINGER) {
        struct linger l = {!r->value_is_null, r->value_is_null ? 0 : (int)r->value};
        rc = stack_setsockopt(fd, o->level, o->optname, &l, sizeof l);
    } else if (o->kind == OPT_MILLIS) {
        if (r->value < 0) return respond_error(r->id, "EINVAL", "timeouts are milliseconds >= 0");
        struct timeval tv = {(time_t)(r->value / 1000), (suseconds_t)(r->value % 1000 * 1000)};
        rc = stack_setsockopt(fd, o->level, o->optname, &tv, sizeof tv);
    } else {
        int v = (int)r->value;
        rc = stack_setsockopt(fd, o->level, o->optname, &v, sizeof v);
    }
    if (rc < 0) return respond_errno(r->id, errno);
    respond_ok(r->id, "");
    return 0;
}

static int op_getsockopt(const struct request *r, int fd) {
    const struct option *o = find_option(r->opt);
    if (!o) return respond_error(r->id, "ENOPROTOOPT", "unknown option");
    char fields[80];
    if (o->kind == OPT_LINGER) {
        struct linger l;
        socklen_t len = sizeof l;
        if (stack_getsockopt(fd, o->level, o->optname, &l, &len) < 0) return respond_errno(r->id, errno);
        if (l.l_onoff) snprintf(fields, sizeof fields, "\"value\":%d", l.l_linger);
        else snprintf(fields, sizeof fields, "\"value\":null");
    } else if (o->kind == OPT_MILLIS) {
        struct timeval tv;
        socklen_t len = sizeof tv;
        if (stack_getsockopt(fd, o->level, o->optname, &tv, &len) < 0) return respond_errno(r->id, errno);
        snprintf(fields, sizeof fields, "\"value\":%lld",
                 (long long)tv.tv_sec * 1000 + (long long)tv.tv_usec / 1000);
    } else {
        int v;
        socklen_t len = sizeof v;
        if (stack_getsockopt(fd, o->level, o->optname, &v, &len) < 0) return respond_errno(r->id, errno);
        if (o->kind == OPT_ERROR && v) /* reading it cleared it: name the error */
            snprintf(fields, sizeof fields, "\"value\":%d,\"errno\":\"%s\"", v, errno_name(v));
        else snprintf(fields, sizeof fields, "\"value\":%d", o->kind == OPT_FLAG ? v != 0 : v);
    }
    respond_ok(r->id, fields);
    return 0;
}

static int op_nonblocking(const struct request *r, int fd) {
    if (stack_nonblocking(fd, r->on) < 0) return respond_errno(r->id, errno);
    respond_ok(r->id, "");
    return 0;
}

static const struct {
    const char *name;
    short bit;
} poll_bits[] = {{"in", POLLIN},   {"pri", POLLPRI}, {"out", POLLOUT},
                 {"err", POLLERR}, {"hup", POLLHUP}, {"rdhup", POLLRDHUP}};

static int op_poll(const struct request *r, int fd) {
    struct pollfd p = {.fd = fd};
    for (int i = 0; i < r->nevents; i++) {
        /* in, pri, out and rdhup may be asked for; err and hup come unasked. */
        const char *e = r->events[i];
        if (!strcmp(e, "in")) p.events |= POLLIN;
        else if (!strcmp(e, "pri")) p.events |= POLLPRI;
        else if (!strcmp(e, "out")) p.events |= POLLOUT;
        else if (!strcmp(e, "rdhup")) p.events |= POLLRDHUP;
        else return respond_error(r->id, "EINVAL", "unknown poll event");
    }
    int n = stack_poll(&p, (int)(r->timeout_ms < 0 ? 0 : r->timeout_ms));
    if (n < 0) return respond_errno(r->id, errno);
    struct text t = {0};
    add(&t, "\"revents\":[");
    int first = 1;
    for (size_t k = 0; k < sizeof poll_bits / sizeof *poll_bits; k++)
        if (n > 0 && (p.revents & poll_bits[k].bit))
            add(&t, "%s\"%s\"", first ? "" : ",", poll_bits[k].name), first = 0;
    add(&t, "]");
    respond_ok(r->id, t.s);
    free(t.s);
    return 0;
}

static int op_sockatmark(const struct request *r, int fd) {
    int at = stack_sockatmark(fd);
    if (at < 0) return respond_errno(r->id, errno);
    char fields[32];
    snprintf(fields, sizeof fields, "\"value\":%d", at ? 1 : 0);
    respond_ok(r->id, fields);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------- */

static const struct {
    const char *op;
    operation run;
    int takes_sock, may_block;
} ops[] = {
    {"hello", op_hello, 0, 0},
    {"socket", op_socket, 0, 0},
    {"bind", op_bind_or_connect, 1, 0},
    {"listen", op_listen, 1, 0},
    {"accept", op_accept, 1, 1},
    {"connect", op_bind_or_connect, 1, 1},
    {"send", op_send, 1, 1},
    {"recv", op_recv, 1, 1},
    {"send_pattern", op_send_pattern, 1, 1},
    {"recv_pattern", op_recv_pattern, 1, 1},
    {"shutdown", op_shutdown, 1, 0},
    {"close", op_close, 1, 0}, /* on a thread when it may linger: see handle() */
    {"getsockname", op_name, 1, 0},
    {"getpeername", op_name, 1, 0},
    {"setsockopt", op_setsockopt, 1, 0},
    {"getsockopt", op_getsockopt, 1, 0},
    {"nonblocking", op_nonblocking, 1, 0},
    {"poll", op_poll, 1, 1},
    {"sockatmark", op_sockatmark, 1, 0},
};

struct job {
    struct request r;
    operation run;
    int fd;
};

static void *run_job(void *arg) {
    struct job *j = arg;
    (void)j->run(&j->r, j->fd);
    free(j->r.data);
    free(j);
    return NULL;
}

static void handle(const char *line) {
    struct job *j = calloc(1, sizeof *j);
    if (!j) abort();
    if (!parse_request(line, &j->r)) {
        /* The id if it could be read, else 0 (the protocol's rule). */
        respond_error(j->r.id, "EINVAL", "a request this adapter cannot read");
        free(j->r.data);
        free(j);
        return;
    }
    size_t k = 0, n = sizeof ops / sizeof *ops;
    while (k < n && strcmp(ops[k].op, j->r.op)) k++;
    if (k == n) {
        respond_error(j->r.id, "ENOSYS", "unknown op");
        free(j->r.data);
        free(j);
        return;
    }
    j->run = ops[k].run;
    j->fd = -1;
    if (ops[k].takes_sock && (j->fd = fd_of(j->r.sock)) < 0) {
        respond_error(j->r.id, "EBADF", "no open socket with this handle");
        free(j->r.data);
        free(j);
        return;
    }
    int may_block = ops[k].may_block;
    if (ops[k].run == op_close) {
        /* The handle dies now, whatever happens next: a request read after this one
         * sees EBADF, even when this close still lingers on a thread of its own (with
         * SO_LINGER on, close(2) waits until the data is delivered or the time runs
         * out). */
        pthread_mutex_lock(&table_lock);
        fds[j->r.sock] = -1;
        pthread_mutex_unlock(&table_lock);
        struct linger l;
        socklen_t len = sizeof l;
        may_block = stack_getsockopt(j->fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0 &&
                    l.l_onoff && l.l_linger > 0;
    }
    if (!may_block) {
        run_job(j);
        return;
    }
    /* A call that may block runs on a thread of its own, so later requests (and the
     * data that will unblock it) are not held up. */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, run_job, j) != 0) {
        respond_errno(j->r.id, EAGAIN);
        free(j->r.data);
        free(j);
    }
    pthread_attr_destroy(&attr);
}

int main(void) {
    if (stack_start() != 0) {
        fprintf(stderr, "the stack did not start\n");
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue; /* blank lines are ignored */
        handle(line);
    }
    /* End of stdin: the harness is done. exit() ends the threads still blocked. */
    free(line);
    return 0;
}
