/* An echo client as a socket course asks for it, written for sockspec's tests.
 *
 * Usage: echo_client HOST PORT
 *
 * Reads lines from stdin, sends each to the server, reads until the whole echo came
 * back, and prints it. Exits 0 when stdin ends or the server closes the connection,
 * 1 with a message on stderr when it cannot connect. Built with one -DBUG_... it has
 * that one classic bug (see tests/programs.rs). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char line[65536], reply[65536];

/* Unused in some bug variants. */
__attribute__((unused)) static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
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
#ifdef BUG_FIXED_PORT
    /* Not a bug: the server's port written into the program. Usage: echo_client HOST */
    char *port = "9877";
    if (argc != 2) {
        fprintf(stderr, "usage: %s HOST\n", argv[0]);
        return 2;
    }
#else
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    char *port = argv[2];
#endif
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_client: invalid address %s\n", argv[1]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int connected = connect(s, (struct sockaddr *)&addr, sizeof addr) == 0;
    if (!connected) {
#ifndef BUG_UNCHECKED_CONNECT
        fprintf(stderr, "echo_client: cannot connect to %s:%s: %s\n", argv[1], port,
                strerror(errno));
        return 1;
#endif
        /* Bug (BUG_UNCHECKED_CONNECT): carries on as if connected. */
    }
    for (;;) {
        /* Wait for a line from stdin or for the server to close. */
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = s, .events = POLLIN}};
#ifdef BUG_UNCHECKED_CONNECT
        /* Believes itself connected; a socket that never connected polls as hung up
         * at once, so it is left out and the line on stdin goes to it. */
        if (!connected) p[1].fd = -1;
#endif
#ifdef BUG_WAITS_ON_STDIN
        /* Bug: waits for stdin alone: a server that closes goes unnoticed until the
         * user types another line. */
        p[1].events = 0;
#endif
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }

        if (p[1].revents) {
            char c;
            ssize_t n = recv(s, &c, 1, MSG_PEEK);
            if (n <= 0) {
                fprintf(stderr, "echo_client: the server closed the connection\n");
                return 0;
            }
        }
        if (!p[0].revents) continue;
        if (!fgets(line, sizeof line, stdin)) break;
        size_t len = strlen(line);
#ifdef BUG_UNCHECKED_CONNECT
        send(s, line, len, 0); /* SIGPIPE kills it if never connected */
#else
        if (write_all(s, line, len) < 0) {
            fprintf(stderr, "echo_client: send: %s\n", strerror(errno));
            return 1;
        }
#endif
        size_t got = 0;
#ifdef BUG_SINGLE_RECV
        /* Bug: one recv() is taken to hold the whole reply. */
        ssize_t n = recv(s, reply, sizeof reply, 0);
        if (n <= 0) {
            fprintf(stderr, "echo_client: the server closed the connection\n");
            return 0;
        }
        got = (size_t)n;
#else
        while (got < len) {
            ssize_t n = recv(s, reply + got, len - got, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                fprintf(stderr, "echo_client: the server closed the connection\n");
                return 0;
            }
            got += (size_t)n;
        }
#endif
        fwrite(reply, 1, got, stdout);
#ifndef BUG_NO_FFLUSH
        /* Without it the echo waits in stdio's buffer when stdout is a pipe; at a
         * terminal stdout is line-buffered and it shows at once (not a socket bug). */
        fflush(stdout);
#endif
    }
    close(s);
    return 0;
}
