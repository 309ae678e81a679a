/* The seccomp probe that runs as a snap's app (see seccomp_probe.rs).
 *
 * Each argument is one system call, "E,NR,A0,A1,A2,A3,A4,A5" (decimal),
 * where E is n (x86_64 `syscall`), i (i386 through `int 0x80`, six 64-bit
 * register values of which the kernel's compat entry passes rbx, rcx, rdx
 * on to seccomp whole) or x (x32: NR | 0x40000000 through `syscall`). Each
 * call runs in a forked child, which exits with 200 when the call
 * returned >= 0, with min(errno, 199) when it failed, and dies of a signal
 * when the filter kills it. One line a call on stdout: "exit N" or
 * "signal N". Built with gcc -static, so that it runs on any base. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long native(unsigned long nr, const unsigned long a[6])
{
	long r = syscall((long)nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return r == -1 ? -errno : r;
}

static long i386_call(unsigned long nr, const unsigned long a[6])
{
	long ret;
	/* ebx, ecx, edx (and esi, edi for completeness): loaded as whole
	 * 64-bit registers, so that upper halves reach the kernel. */
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
			 : "memory", "r8", "r9", "r10", "r11");
	return (int)ret;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		char kind;
		unsigned long nr, a[6];
		if (sscanf(argv[i], "%c,%lu,%lu,%lu,%lu,%lu,%lu,%lu", &kind, &nr, &a[0], &a[1],
			   &a[2], &a[3], &a[4], &a[5]) != 8) {
			fprintf(stderr, "probe: cannot parse %s\n", argv[i]);
			return 2;
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("probe: fork");
			return 2;
		}
		if (pid == 0) {
			long r;
			switch (kind) {
			case 'n':
				r = native(nr, a);
				break;
			case 'x':
				r = native(nr | 0x40000000UL, a);
				break;
			case 'i':
				r = i386_call(nr, a);
				break;
			default:
				_exit(250);
			}
			_exit(r >= 0 ? 200 : (-r > 199 ? 199 : (int)-r));
		}
		int status;
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				perror("probe: waitpid");
				return 2;
			}
		}
		if (WIFSIGNALED(status))
			printf("signal %d\n", WTERMSIG(status));
		else
			printf("exit %d\n", WEXITSTATUS(status));
	}
	return 0;
}
