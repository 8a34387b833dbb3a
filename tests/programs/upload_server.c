/* An upload server, the assignment the README's walkthrough writes a suite for
 * ("writing a suite for your assignment"), written for sockspec's tests.
 *
 * Usage: upload_server PORT
 *
 * Each client sends a file and then half-closes its side (shutdown(SHUT_WR)); the
 * server reads until the end of the stream, answers "OK <bytes>\n" with the number of
 * bytes it received, and closes the connection. A thread per client. Built with one
 * -DBUG_... it has that one classic bug (see tests/programs.rs). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg) {
    int c = (int)(intptr_t)arg;
    char buf[65536];
    unsigned long long total = 0;
    for (;;) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        total += (unsigned long long)n;
#ifdef BUG_ONE_RECV
        /* Bug: one recv() is taken for the whole upload. */
        break;
#endif
    }
    char reply[64];
    int len = snprintf(reply, sizeof reply, "OK %llu\n", total);
    send(c, reply, (size_t)len, MSG_NOSIGNAL);
#ifdef BUG_NO_CLOSE
    /* Bug: the connection is never closed, so the client never sees the end. */
    for (;;) pause();
#endif
    close(c);
    return NULL;
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
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 16) < 0) {
        perror("bind");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
#ifdef BUG_SERIAL
        /* Bug: one upload at a time; a slow client holds up every other. */
        serve((void *)(intptr_t)c);
#else
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c) != 0) {
            close(c);
            continue;
        }
        pthread_detach(t);
#endif
    }
}
