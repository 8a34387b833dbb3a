/* An echo server in one thread with poll(), as a course's "event-driven" assignment
 * asks for it, written for sockspec's tests.
 *
 * Usage: poll_echo_server PORT
 *
 * Built as is, it is correct: every socket non-blocking, what send() could not take
 * kept per client and sent when poll() says the socket is writable, and a client whose
 * echo is pending not read further until it drains (so one client cannot fill the
 * server's memory). Built with one -DBUG_... it has that one classic bug of such
 * servers; tests/programs.rs checks that the echo-server suite catches each:
 *
 * - BUG_BLOCKING_WRITES: the client sockets stay blocking and the echo is written with
 *   a loop of blocking send()s: one client that does not read stalls everyone.
 * - BUG_DROPS_ON_EAGAIN: non-blocking sockets, and what send() did not take (a short
 *   write, or EAGAIN) is forgotten: data is lost when a client's buffers are full. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 1000
#define BUF 65536

struct client {
    int fd;
    char out[BUF]; /* echo not yet sent */
    size_t pending;
};

static struct client clients[MAX_CLIENTS];
static int nclients;

__attribute__((unused)) static void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void drop(int k) {
    close(clients[k].fd);
    clients[k] = clients[--nclients];
}

/* Sends what is pending; returns -1 when the client is gone. */
static int flush(struct client *c) {
    while (c->pending > 0) {
        ssize_t n = send(c->fd, c->out, c->pending, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
#if defined(BUG_DROPS_ON_EAGAIN)
            /* Bug: "would block" taken as "nothing to do": the echo is lost. */
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->pending = 0;
                return 0;
            }
#else
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
#endif
            return -1;
        }
#if defined(BUG_DROPS_ON_EAGAIN)
        /* Bug: a short write is taken as the whole echo. */
        c->pending = 0;
        return 0;
#else
        memmove(c->out, c->out + n, c->pending - (size_t)n);
        c->pending -= (size_t)n;
#endif
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(s, 64) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on port %s\n", argv[1]);
    fflush(stdout);
    static struct pollfd p[MAX_CLIENTS + 1];
    for (;;) {
        p[0].fd = s;
        p[0].events = POLLIN;
        for (int k = 0; k < nclients; k++) {
            p[k + 1].fd = clients[k].fd;
            /* Read a client only when its echo has drained; write when pending. */
            p[k + 1].events = clients[k].pending ? POLLOUT : POLLIN;
        }
        if (poll(p, (nfds_t)nclients + 1, -1) < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        /* Clients first (from the last, as drop() moves the last one into a gap). */
        for (int k = nclients - 1; k >= 0; k--) {
            short ev = p[k + 1].revents;
            if (!ev) continue;
            struct client *c = &clients[k];
            if (c->pending) {
                if (flush(c) < 0) drop(k);
                continue;
            }
            ssize_t n = recv(c->fd, c->out, sizeof c->out, 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
            if (n <= 0) {
                drop(k);
                continue;
            }
            c->pending = (size_t)n;
#if defined(BUG_BLOCKING_WRITES)
            /* Bug: the whole echo with blocking sends, whatever the client does. */
            size_t at = 0;
            while (at < c->pending) {
                ssize_t w = send(c->fd, c->out + at, c->pending - at, 0);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) break;
                at += (size_t)w;
            }
            c->pending = 0;
#else
            if (flush(c) < 0) drop(k);
#endif
        }
        if (p[0].revents & POLLIN) {
            int fd = accept(s, NULL, NULL);
            if (fd < 0) continue;
            if (nclients == MAX_CLIENTS) {
                close(fd);
                continue;
            }
#if !defined(BUG_BLOCKING_WRITES)
            set_nonblocking(fd);
#endif
            clients[nclients].fd = fd;
            clients[nclients].pending = 0;
            nclients++;
        }
    }
}
