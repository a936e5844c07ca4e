/*
 * exitsig SIG...: for each SIG, clone(2)s a child whose exit signal (the
 * CSIGNAL bits) is SIG, lets it exit with 3, reaps it (__WALL) and prints
 * "exit signal SIG: child exited 3". Run as pid 1, a SIGKILL exit signal
 * must not kill it (init ignores what comes from inside its pid namespace),
 * and a number past the last signal is sent to no one.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		int sig = atoi(argv[i]);
		long pid = syscall(SYS_clone, (long)sig, 0L, 0L, 0L, 0L);
		if (pid < 0) { perror("clone"); return 1; }
		if (pid == 0) _exit(3);
		int status;
		if (waitpid((pid_t)pid, &status, __WALL) != pid) { perror("waitpid"); return 1; }
		printf("exit signal %d: child exited %d\n", sig, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return 0;
}
