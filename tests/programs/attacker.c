/* A hostile program under test: each mode tries one escape from the sandbox, prints
 * "REPORT contained" when every try failed or "REPORT breached: ..." with what
 * worked, then listens on the port it was given so that the scenario goes on.
 * Used by tests/containment.rs; every attack here once worked (issue 9).
 *
 *   attacker ptrace PORT                  signal, ptrace, read the memory of others
 *   attacker fds PORT                     use descriptors the harness's caller left open
 *   attacker host PORT SOCK ABSTRACT FILE NAME   reach host sockets and files
 *   attacker disk PORT FILES MIB          fill the disk in cwd and $TMPDIR
 *   attacker memory PORT MIB              shared anonymous memory without end
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char breaches[8192];

static void breach(const char *fmt, long a) {
    char one[256];
    snprintf(one, sizeof one, fmt, a);
    strncat(breaches, one, sizeof breaches - strlen(breaches) - 2);
    strcat(breaches, " ");
}

static void report_and_listen(int port) {
    if (breaches[0])
        printf("REPORT breached: %s\n", breaches);
    else
        printf("REPORT contained\n");
    fflush(stdout);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8)) {
        perror("listen");
        exit(2);
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c >= 0)
            close(c);
    }
}

/* Every process it can name: may it signal (pid 1 aside: a PID namespace's init
 * drops signals from inside, so permission alone proves nothing there), ptrace, or
 * read it? Then SIGKILL to every one, pid 1 included: the scenario's later steps
 * show whether the peer survived. */
static void ptrace_others(void) {
    pid_t me = getpid();
    for (pid_t pid = 1; pid <= 4096; pid++) {
        if (pid == me)
            continue;
        if (pid != 1 && kill(pid, 0) == 0)
            breach("signal:%ld", pid);
        if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
            breach("ptrace:%ld", pid);
            ptrace(PTRACE_DETACH, pid, 0, 0);
        }
        char path[64];
        const char *files[] = {"mem", "environ"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "/proc/%d/%s", pid, files[i]);
            int fd = open(path, O_RDONLY);
            char b;
            if (fd >= 0 && read(fd, &b, 1) >= 0)
                breach(i ? "environ:%ld" : "mem:%ld", pid);
            if (fd >= 0)
                close(fd);
        }
    }
    for (pid_t pid = 1; pid <= 4096; pid++)
        if (pid != me)
            kill(pid, SIGKILL);
}

static void inherited_fds(void) {
    for (int fd = 3; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) != -1) {
            breach("open-fd:%ld", fd);
            if (write(fd, "written by a program under test\n", 32) > 0)
                breach("wrote-fd:%ld", fd);
        }
    }
}

static int unix_connect(const char *path, int abstract) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    socklen_t len;
    if (abstract) {
        strncpy(a.sun_path + 1, path, sizeof a.sun_path - 2);
        len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
    } else {
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        len = sizeof a;
    }
    int r = connect(s, (struct sockaddr *)&a, len);
    close(s);
    return r;
}

static void host(const char *sock, const char *abstract, const char *file, const char *name) {
    if (unix_connect(sock, 0) == 0)
        breach("unix-socket%.0ld", 0);
    if (unix_connect(abstract, 1) == 0)
        breach("abstract-socket%.0ld", 0);
    int fd = open(file, O_WRONLY | O_APPEND);
    if (fd >= 0 && write(fd, "x", 1) == 1)
        breach("host-file%.0ld", 0);
    /* Files left in the host's /tmp and in the folder it runs in: the test looks. */
    char path[512];
    snprintf(path, sizeof path, "/tmp/%s", name);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    fd = open(name, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
}

/* Writes FILES files of MIB MiB each into cwd and into $TMPDIR; exits 1 at the first
 * failed write, after saying how much it wrote. */
static void disk(int files, int mib) {
    static char block[1 << 20];
    memset(block, 'd', sizeof block);
    long written = 0;
    const char *dirs[] = {".", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"};
    for (int d = 0; d < 2; d++) {
        for (int f = 0; f < files; f++) {
            char path[512];
            snprintf(path, sizeof path, "%s/fill-%d", dirs[d], f);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) {
                printf("DISK open failed after %ld MiB: %s\n", written, strerror(errno));
                exit(1);
            }
            for (int m = 0; m < mib; m++) {
                if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
                    printf("DISK write failed after %ld MiB: %s\n", written, strerror(errno));
                    fflush(stdout);
                    exit(1);
                }
                written++;
            }
            close(fd);
        }
    }
    printf("DISK wrote %ld MiB\n", written);
    breach("wrote:%ld", written);
}

static void memory(long mib) {
    long total = 0;
    while (total < mib) {
        size_t chunk = 16 << 20;
        char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("MEMORY mmap failed after %ld MiB\n", total);
            fflush(stdout);
            exit(1);
        }
        memset(p, 'm', chunk);
        total += 16;
        printf("MEMORY %ld MiB\n", total);
        fflush(stdout);
    }
    breach("resident-MiB:%ld", total);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: attacker MODE PORT ...\n");
        return 2;
    }
    const char *mode = argv[1];
    int port = atoi(argv[2]);
    if (!strcmp(mode, "ptrace"))
        ptrace_others();
    else if (!strcmp(mode, "fds"))
        inherited_fds();
    else if (!strcmp(mode, "host") && argc == 7)
        host(argv[3], argv[4], argv[5], argv[6]);
    else if (!strcmp(mode, "disk") && argc == 5)
        disk(atoi(argv[3]), atoi(argv[4]));
    else if (!strcmp(mode, "memory") && argc == 4)
        memory(atol(argv[3]));
    else {
        fprintf(stderr, "attacker: bad mode or arguments\n");
        return 2;
    }
    report_and_listen(port);
}
