/*
 * sockspec adapter for lwIP: Debian's liblwip (2.1.3), its socket API (lwip_socket,
 * lwip_bind, ...) over the TAP device the harness gives every scenario's sandbox.
 *
 * This file is the C template (adapters/c/sockspec_adapter.c) with the stack swapped:
 * it defines SOCKSPEC_CUSTOM_STACK and the stack_* calls below, then includes the
 * template, which brings the protocol, the JSON and the threads. No lwIP source is
 * copied: everything comes from the library and its headers.
 *
 * Build:  cc -O2 -pthread -I/usr/include/lwip -o sockspec_lwip_adapter \
 *             sockspec_lwip_adapter.c -llwip
 * Use:    sockspec run --adapter ./sockspec_lwip_adapter   (sandboxed: it needs the link)
 *
 * The link: SOCKSPEC_LINK names a TAP device (docs/adapter-protocol.md, "A user-space
 * stack on a link of its own"). lwIP's packaged tapif driver is not used: built with
 * glibc's TCP_MSS of 512 it sizes its buffers for that and overruns them on a frame
 * of more than about 600 bytes. The driver here is a reader thread and a write.
 */
#define _GNU_SOURCE
#define SOCKSPEC_CUSTOM_STACK

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include <lwip/etharp.h>
#include <lwip/ethip6.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/sockets.h>
#include <lwip/tcpip.h>
#include <netif/ethernet.h>

#define STACK_NAME "lwIP 2.1.3 (Debian liblwip, sockspec lwIP adapter)"
#define STACK_CAPABILITIES                                                                  \
    "\"bulk\",\"concurrent\",\"ipv4\",\"ipv6\",\"link\",\"nonblocking\",\"poll\""

/* ---- the link: a TAP device, read by a thread, written by lwIP's output ---------- */

static int tap = -1;
static struct netif netif;

static err_t link_output(struct netif *n, struct pbuf *p) {
    (void)n;
    unsigned char frame[1600];
    if (p->tot_len > sizeof frame) return ERR_BUF;
    u16_t len = pbuf_copy_partial(p, frame, p->tot_len, 0);
    return write(tap, frame, len) == (ssize_t)len ? ERR_OK : ERR_IF;
}

static void *link_reader(void *arg) {
    (void)arg;
    unsigned char frame[1600];
    for (;;) {
        ssize_t n = read(tap, frame, sizeof frame);
        if (n <= 0) continue;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
        if (!p) continue;
        pbuf_take(p, frame, (u16_t)n);
        /* tcpip_input hands the frame to lwIP's own thread. */
        if (netif.input(p, &netif) != ERR_OK) pbuf_free(p);
    }
    return NULL;
}

static err_t link_init(struct netif *n) {
    static const u8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x53, 0x02};
    n->name[0] = 's';
    n->name[1] = 'k';
    n->mtu = 1500;
    n->hwaddr_len = 6;
    memcpy(n->hwaddr, mac, 6);
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    n->output = etharp_output;
    n->output_ip6 = ethip6_output;
    n->linkoutput = link_output;
    return ERR_OK;
}

static sem_t started;

static void on_started(void *arg) {
    (void)arg;
    sem_post(&started);
}

/* "203.0.113.2/24" into an address and a netmask. */
static int cidr4(const char *text, ip4_addr_t *addr, ip4_addr_t *mask) {
    char host[32];
    const char *slash = strchr(text, '/');
    int bits = slash ? atoi(slash + 1) : 32;
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n >= sizeof host || bits < 0 || bits > 32) return 0;
    memcpy(host, text, n);
    host[n] = 0;
    ip4_addr_set_u32(mask, lwip_htonl(bits ? 0xffffffffu << (32 - bits) : 0));
    return ip4addr_aton(host, addr);
}

static int stack_start(void) {
    const char *name = getenv("SOCKSPEC_LINK"), *addr = getenv("SOCKSPEC_LINK_ADDR");
    const char *gateway = getenv("SOCKSPEC_LINK_GATEWAY"), *addr6 = getenv("SOCKSPEC_LINK_ADDR6");
    if (!name || !addr || !gateway) {
        fprintf(stderr, "no link: SOCKSPEC_LINK* are not set (run sandboxed)\n");
        return -1;
    }
    tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (tap < 0 || ioctl(tap, TUNSETIFF, &ifr) < 0) {
        perror("attaching to the link");
        return -1;
    }
    ip4_addr_t ip, mask, gw;
    if (!cidr4(addr, &ip, &mask) || !ip4addr_aton(gateway, &gw)) {
        fprintf(stderr, "bad link address %s or gateway %s\n", addr, gateway);
        return -1;
    }
    sem_init(&started, 0, 0);
    tcpip_init(on_started, NULL);
    sem_wait(&started);
    LOCK_TCPIP_CORE();
    netif_add(&netif, &ip, &mask, &gw, NULL, link_init, tcpip_input);
    netif_set_default(&netif);
    if (addr6) {
        char host[64];
        size_t n = strcspn(addr6, "/");
        ip6_addr_t a6;
        s8_t index;
        if (n < sizeof host) {
            memcpy(host, addr6, n);
            host[n] = 0;
            netif_create_ip6_linklocal_address(&netif, 1);
            if (ip6addr_aton(host, &a6) && netif_add_ip6_address(&netif, &a6, &index) == ERR_OK)
                netif_ip6_addr_set_state(&netif, index, IP6_ADDR_PREFERRED);
        }
    }
    netif_set_up(&netif);
    netif_set_link_up(&netif);
    UNLOCK_TCPIP_CORE();
    pthread_t reader;
    return pthread_create(&reader, NULL, link_reader, NULL);
}

/* ---- the socket calls: lwIP's ------------------------------------------------------ */

static int stack_socket(int family) { return lwip_socket(family, SOCK_STREAM, 0); }
static int stack_bind(int fd, const struct sockaddr *a, socklen_t n) { return lwip_bind(fd, a, n); }
static int stack_connect(int fd, const struct sockaddr *a, socklen_t n) { return lwip_connect(fd, a, n); }
static int stack_listen(int fd, int backlog) { return lwip_listen(fd, backlog); }
static int stack_accept(int fd, struct sockaddr *a, socklen_t *n) { return lwip_accept(fd, a, n); }
static ssize_t stack_send(int fd, const void *b, size_t n, int flags) { return lwip_send(fd, b, n, flags); }
static ssize_t stack_recv(int fd, void *b, size_t n, int flags) { return lwip_recv(fd, b, n, flags); }
static int stack_shutdown(int fd, int how) { return lwip_shutdown(fd, how); }
static int stack_close(int fd) { return lwip_close(fd); }
static int stack_getsockname(int fd, struct sockaddr *a, socklen_t *n) { return lwip_getsockname(fd, a, n); }
static int stack_getpeername(int fd, struct sockaddr *a, socklen_t *n) { return lwip_getpeername(fd, a, n); }
static int stack_setsockopt(int fd, int level, int name, const void *v, socklen_t n) {
    return lwip_setsockopt(fd, level, name, v, n);
}
static int stack_getsockopt(int fd, int level, int name, void *v, socklen_t *n) {
    return lwip_getsockopt(fd, level, name, v, n);
}
static int stack_nonblocking(int fd, int on) {
    int fl = lwip_fcntl(fd, F_GETFL, 0);
    return fl < 0 ? -1 : lwip_fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}
static int stack_poll(struct pollfd *p, int timeout_ms) { return lwip_poll(p, 1, timeout_ms); }
/* lwIP has no urgent data in its socket API (no MSG_OOB, no SIOCATMARK): the adapter
 * does not declare "oob", so the harness never asks. */
static int stack_sockatmark(int fd) {
    (void)fd;
    errno = EOPNOTSUPP;
    return -1;
}

/* What this build of lwIP has (lwipopts.h: SO_REUSE, LWIP_TCP_KEEPALIVE,
 * LWIP_SO_RCVTIMEO, LWIP_SO_SNDTIMEO, LWIP_IPV6). */
#define STACK_OPTIONS \
    {"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, OPT_FLAG}, \
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, OPT_FLAG}, \
    {"SO_ERROR", SOL_SOCKET, SO_ERROR, OPT_ERROR}, \
    {"SO_ACCEPTCONN", SOL_SOCKET, SO_ACCEPTCONN, OPT_FLAG}, \
    {"SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, OPT_MILLIS}, \
    {"SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, OPT_MILLIS}, \
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, OPT_FLAG}, \
    {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, OPT_NUMBER}, \
    {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, OPT_NUMBER}, \
    {"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, OPT_NUMBER}, \
    {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, OPT_FLAG}, \
    {"IP_TTL", IPPROTO_IP, IP_TTL, OPT_NUMBER}, \
    {"IP_TOS", IPPROTO_IP, IP_TOS, OPT_NUMBER},

#include "../c/sockspec_adapter.c"
