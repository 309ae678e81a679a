/* Filter overhead per system call: install a compiled seccomp profile
 * (snapd 2.57's raw .bin, a .bin2 as current snapd and snapcell write it,
 * or nothing) the way snap-confine does, then time tight loops of cheap
 * system calls under it.
 *
 *   overhead N REPS [FILE...]
 *
 * Each FILE is loaded in turn: a .bin2 (header "SC": its deny program, then
 * its allow program, as snap-confine loads them), a raw BPF program (.bin,
 * or snapd 2.57's global.bin), "allow-all" for a one-instruction filter that
 * allows everything (the kernel's action cache then skips it for every
 * call: the fixed cost of having any filter), or "tiny" for a 4-instruction
 * filter that reads ioctl's second argument and allows everything (so
 * ioctl is not cached: the fixed cost of running one filter). Prints, for each
 * probe, the median over REPS repetitions of the nanoseconds per call of a
 * loop of N calls. The probes pass bad descriptors or NULL pointers so the
 * kernel does as little as possible after the filter.
 *
 * no_new_privs is set so that loading needs no CAP_SYS_ADMIN (snap-confine
 * keeps CAP_SYS_ADMIN instead; the filter runs the same). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void load(const unsigned char *prog, size_t len) {
    if (len == 0)
        return;
    if (len % sizeof(struct sock_filter))
        die("program length");
    struct sock_fprog fprog = {
        .len = (unsigned short)(len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)prog,
    };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
        die("seccomp");
}

static void install(const char *path) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die("no_new_privs");
    if (strcmp(path, "tiny") == 0) {
        struct sock_filter tiny[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), /* nr */
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 1),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 24), /* low word of arg 1 */
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        load((const unsigned char *)tiny, sizeof tiny);
        return;
    }
    if (strcmp(path, "allow-all") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        load((const unsigned char *)&allow, sizeof allow);
        return;
    }
    static unsigned char buf[1 << 17];
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == 14 && memcmp(buf, "@unrestricted\n", 14) == 0)
        return;
    if (n >= 128 && buf[0] == 'S' && buf[1] == 'C' && buf[2] == 1) {
        uint32_t allow_len, deny_len;
        memcpy(&allow_len, buf + 8, 4);
        memcpy(&deny_len, buf + 12, 4);
        if (buf[3] & 1)
            return; /* unrestricted */
        if (128 + (size_t)allow_len + deny_len != n)
            die("bin2 size");
        load(buf + 128 + allow_len, deny_len); /* deny first */
        load(buf + 128, allow_len);
        return;
    }
    load(buf, n);
}

static int prio;

static void p_getppid(void) { syscall(SYS_getppid); }
static void p_ioctl(void) { syscall(SYS_ioctl, -1, FIONREAD, 0); }
static void p_socket(void) { syscall(SYS_socket, AF_INET6, 99, 0); }
static void p_setpriority(void) { syscall(SYS_setpriority, PRIO_PROCESS, 0, prio); }
static void p_fchown(void) { syscall(SYS_fchown, -1, 0, 0); }
static void p_mknodat(void) { syscall(SYS_mknodat, -1, "", S_IFIFO | 0600, 0); }
static void p_close_range(void) { syscall(SYS_close_range, ~0u, ~0u, 0); }

static struct probe {
    const char *name;
    void (*call)(void);
} probes[] = {
    {"getppid", p_getppid},
    {"close_range", p_close_range},
    {"ioctl(-1,FIONREAD)", p_ioctl},
    {"socket(AF_INET6,99)", p_socket},
    {"setpriority(0,0,n)", p_setpriority},
    {"fchown(-1,0,0)", p_fchown},
    {"mknodat(S_IFIFO)", p_mknodat},
};
#define NPROBES (sizeof probes / sizeof probes[0])

static void p_mix(void) {
    for (size_t i = 0; i < NPROBES; i++)
        probes[i].call();
}

static double now(void) {
    struct timespec ts;
    /* The thread's CPU time (user and kernel): the time it was not running,
     * on a machine shared with other jobs, is not counted. */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bench(void (*call)(void), long n, int reps, double per) {
    double t[reps];
    for (long i = 0; i < n / 10; i++) /* warm up */
        call();
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < n; i++)
            call();
        t[r] = (now() - t0) / (n * per);
    }
    qsort(t, reps, sizeof t[0], cmp);
    return t[reps / 2];
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s N REPS [FILE|allow-all|tiny...]\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    int reps = atoi(argv[2]);
    errno = 0;
    prio = getpriority(PRIO_PROCESS, 0);
    if (errno)
        die("getpriority");
    for (int i = 3; i < argc; i++)
        install(argv[i]);
    /* The filter must not kill or deny what we time. */
    if (syscall(SYS_getppid) < 0 || (syscall(SYS_ioctl, -1, FIONREAD, 0) < 0 && errno != EBADF))
        die("a probe is denied");
    for (size_t i = 0; i < NPROBES; i++) {
        errno = 0;
        probes[i].call();
        if (errno == EPERM || errno == EACCES) {
            fprintf(stderr, "%s is denied\n", probes[i].name);
            return 1;
        }
    }
    for (size_t i = 0; i < NPROBES; i++)
        printf("%s %.2f\n", probes[i].name, bench(probes[i].call, n, reps, 1));
    printf("mix %.2f\n", bench(p_mix, n / NPROBES, reps, NPROBES));
    return 0;
}
