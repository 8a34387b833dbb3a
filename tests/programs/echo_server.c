/* An echo server as a socket course asks for it, written for sockspec's tests.
 *
 * Usage: echo_server PORT
 *
 * Built as is, it is correct: one thread per client, every byte read is written back
 * (partial writes included), SIGPIPE ignored, SO_REUSEADDR set, a bind error reported
 * with a non-zero exit status. Built with one -DBUG_... it has that one classic bug;
 * tests/programs.rs checks that the echo-server suite catches each, with the scenarios
 * meant to catch it, and only those. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Unused in some bug variants. */
__attribute__((unused)) static int write_all(int fd, const char *buf, size_t len) {
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

static void serve(int c) {
#if defined(BUG_TRUNCATE_1024)
    /* Bug: each line goes through a fixed 1024-byte buffer; what does not fit is
     * dropped up to the end of the line. */
    char buf[4096], line[1024];
    size_t len = 0;
    int skipping = 0;
    for (;;) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (!skipping) {
                if (len < sizeof line) line[len++] = buf[i];
                else skipping = 1;
            }
            if (buf[i] == '\n') {
                if (skipping) line[len - 1] = '\n';
                if (write_all(c, line, len) < 0) goto done;
                len = 0;
                skipping = 0;
            }
        }
    }
    write_all(c, line, len);
done:
#elif defined(BUG_PARTIAL_WRITES)
    /* Bug: a non-blocking socket, and send()'s count ignored: whatever the socket did
     * not take is lost. */
    char buf[65536];
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    for (;;) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        poll(&p, 1, -1);
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        send(c, buf, (size_t)n, 0);
    }
#else
    char buf[4096 + 1];
    for (;;) {
        ssize_t n = recv(c, buf, sizeof buf - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
#ifdef BUG_STRLEN
        /* Bug: received data treated as a C string: it ends at the first NUL byte. */
        buf[n] = '\0';
        n = (ssize_t)strlen(buf);
#endif
        if (write_all(c, buf, (size_t)n) < 0) break;
    }
#endif
#ifndef BUG_NEVER_CLOSES
    close(c);
#endif
    /* Bug (BUG_NEVER_CLOSES): the accepted socket is never closed, so the client never
     * sees the end of the stream. */
}

/* Clients being served by a thread: what a fixed table of clients would hold. */
static int clients_active;

__attribute__((unused)) static int active_clients(void) {
    return __atomic_load_n(&clients_active, __ATOMIC_SEQ_CST);
}

#if defined(BUG_SOCK_ADDRESS_RACE)
/* Bug: the thread is handed the address of the accept loop's variable and reads the
 * descriptor through it later; by then the next accept() may have overwritten it, and
 * two threads serve one client while another gets none. The sleep makes the race's
 * bad outcome certain when clients come close together, for the tests. */
static int last_accepted;
#endif

__attribute__((unused)) static void *client_thread(void *arg) {
#if defined(BUG_SOCK_ADDRESS_RACE)
    usleep(100000);
    int c = *(int *)arg;
#else
    int c = (int)(long)arg;
#endif
    serve(c);
    __atomic_sub_fetch(&clients_active, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

int main(int argc, char **argv) {
#ifdef BUG_FIXED_PORT
    /* Not a bug: the port written into the program, as many assignments have it. */
    const char *port = "9877";
    (void)argc;
#else
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    const char *port = argv[1];
#endif
#ifndef BUG_NO_SIGPIPE
    signal(SIGPIPE, SIG_IGN);
#endif
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        perror("socket");
        return 1;
    }
#if defined(BUG_OR_OPTION_NAMES)
    /* Bug: option names OR-ed like flags; 2 | 15 is 15, SO_REUSEPORT alone, which
     * lets a second instance bind the same port. */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR | SO_REUSEPORT, &one, sizeof one);
#elif !defined(BUG_NO_REUSEADDR)
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#endif
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((unsigned short)atoi(port));
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
#ifndef BUG_IGNORE_BIND_ERROR
        return 1;
#endif
    }
    if (listen(s, 16) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on port %s\n", port);
    fflush(stdout);
#if defined(BUG_FAILS_EVERY_OTHER_RUN)
    /* Stands in for a race, made deterministic for the tests: each start appends a
     * byte to runs.txt in the current folder, and every other start (the first, the
     * third...) closes each client at once instead of serving it. */
    int runs = open("runs.txt", O_WRONLY | O_APPEND | O_CREAT, 0644);
    off_t started = 0;
    if (runs >= 0 && write(runs, "x", 1) == 1) started = lseek(runs, 0, SEEK_CUR);
    int unlucky = started % 2 == 1;
#endif
#if defined(BUG_STOP_AFTER_5)
    int served = 0;
#endif
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
#if defined(BUG_FAILS_EVERY_OTHER_RUN)
        if (unlucky) {
            close(c);
            continue;
        }
#endif
#if defined(BUG_ITERATIVE)
        /* Bug: serves one client at a time; the others wait in the backlog. */
        serve(c);
#elif defined(BUG_EXIT_AFTER_FIRST)
        /* Bug: serves one client, then leaves. */
        serve(c);
        close(s);
        return 0;
#else
#if defined(BUG_MAX_16)
        /* Bug: a fixed table of 16 client slots; a client beyond it is turned away. */
        if (active_clients() >= 16) {
            close(c);
            continue;
        }
#endif
        pthread_t t;
        __atomic_add_fetch(&clients_active, 1, __ATOMIC_SEQ_CST);
#if defined(BUG_SOCK_ADDRESS_RACE)
        last_accepted = c;
        void *arg = &last_accepted;
#else
        void *arg = (void *)(long)c;
#endif
        if (pthread_create(&t, NULL, client_thread, arg) != 0) {
            __atomic_sub_fetch(&clients_active, 1, __ATOMIC_SEQ_CST);
            close(c);
            continue;
        }
        pthread_detach(t);
#if defined(BUG_STOP_AFTER_5)
        /* Bug: `for (i = 0; i < 5; i++) accept(...)`: five clients, then no more. */
        if (++served == 5) {
            close(s);
            pthread_exit(NULL);
        }
#endif
#endif
    }
}
