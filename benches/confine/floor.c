/* A copy of the shared reference tool's floor (refrun/floor/floor.c), timed by
 * benches/confine in the same rounds as the launchers. */
/* The physical floor of a warm start: enter a preserved mount namespace and exec
 * the app. No checks, no locks, no confinement: what any warm launcher must at
 * least do. usage: floor NS_FILE PROG [ARGS...] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNS) != 0 || chdir("/") != 0) return 1;
    execv(argv[2], argv + 2);
    return 127;
}
