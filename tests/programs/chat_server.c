/* A chat server as a socket course asks for it, written for sockspec's tests.
 *
 * Usage: chat_server PORT
 *
 * One thread, poll() over the listener and every client: what a client sends goes to
 * every other client, not back to the sender; a client that leaves is closed and
 * removed. Built with one -DBUG_... it has that one classic bug (tests/programs.rs). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 64

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
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
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 16) < 0) {
        perror("bind");
        return 1;
    }
    struct pollfd fds[MAX_CLIENTS + 1];
    int n = 1;
    fds[0].fd = s;
    fds[0].events = POLLIN;
    char buf[4096];
    for (;;) {
        if (poll(fds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        if (fds[0].revents & POLLIN) {
            int c = accept(s, NULL, NULL);
            if (c >= 0 && n <= MAX_CLIENTS) {
                fds[n].fd = c;
                fds[n].events = POLLIN;
                fds[n].revents = 0;
                n++;
            } else if (c >= 0) {
                close(c);
            }
        }
        for (int i = 1; i < n; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = recv(fds[i].fd, buf, sizeof buf, 0);
            if (got <= 0) {
                close(fds[i].fd);
#ifdef BUG_KEEPS_DEPARTED
                /* Bug: the departed client's slot stays in the list; its descriptor
                 * number is reused by the next client, who then gets everything twice. */
                fds[i].events = 0;
#elif defined(BUG_SHIFT_LOSES_LAST)
                /* Bug: the list is closed up by shifting, one slot short: the last
                 * client is overwritten by its neighbour, which is then served twice.
                 * Harmless when the last client is the one that leaves. */
                for (int k = i; k < n - 2; k++) fds[k] = fds[k + 1];
                n--;
                i--;
#else
                fds[i] = fds[n - 1];
                n--;
                i--;
#endif
                continue;
            }
#ifdef BUG_SKIPS_NEWEST
            /* Bug: the relay loop stops one short: the newest client hears no one. */
            for (int j = 1; j < n - 1; j++) {
#else
            for (int j = 1; j < n; j++) {
#endif
#ifndef BUG_ECHOES_SENDER
                if (j == i) continue;
#endif
                /* Bug (BUG_ECHOES_SENDER): the sender gets its own message back. */
                write_all(fds[j].fd, buf, (size_t)got);
            }
        }
    }
}
