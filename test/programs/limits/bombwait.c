/*
 * bombwait SCRIPT THEN: as pid 1, runs `sh -c SCRIPT` (a fork bomb) as its
 * child, and while it burns reaps whatever ends (orphans come to init),
 * forking nothing itself; once it is the only process left it prints
 * "burnt out" and execs `sh -c THEN`. A shell as init could not wait like
 * this: a shell exits when it cannot fork.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int others(void) {
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	if (!d) return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
		if (atoi(e->d_name) != getpid()) n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	pid_t bomb = fork();
	if (bomb < 0) { perror("fork"); return 1; }
	if (bomb == 0) {
		execl("/bin/sh", "sh", "-c", argv[1], (char *)NULL);
		_exit(127);
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0) {}
		if (others() == 0) break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 60) { printf("still burning after 60 s\n"); return 1; }
		usleep(20000);
	}
	printf("burnt out\n");
	execl("/bin/sh", "sh", "-c", argv[2], (char *)NULL);
	return 127;
}
