/* Peak memory of a launch: fork, exec PROG, wait, and write the child's
 * ru_maxrss (KiB) to descriptor 3. A static program with a few pages of its
 * own, so that the peak is the launcher's (and then the app's), not that of
 * whoever forked it (a Python parent's would be inherited through fork or
 * vfork). The exit status is the child's. usage: maxrss PROG [ARGS...] */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        close(3);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return 2;
    dprintf(3, "%ld\n", ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
