/*
 * forkloop [-u UID] [-n NPROC] [-t] [-m MAX]: forks children (or with -t
 * creates threads) that wait on a pipe, until fork fails or MAX (default
 * 1000) are made; prints how many it made and the errno that stopped it
 * ("none" at MAX), then lets them all go and reaps them.
 * -n sets RLIMIT_NPROC first and -u setuid()s to UID first (as root), so
 * the limit is met by a user that is not root.
 * Output: "made N errno NAME", then "reaped N".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX 100000

static int gate[2];
static pthread_t threads[MAX];

static void *waiter(void *arg) {
	char c;
	(void)arg;
	while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
	return NULL;
}

static const char *errname(int e) {
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EPERM: return "EPERM";
	case 0: return "none";
	default: return strerror(e);
	}
}

int main(int argc, char **argv) {
	int opt, use_threads = 0;
	long uid = -1, nproc = -1, max = 1000;
	while ((opt = getopt(argc, argv, "u:n:tm:")) != -1) {
		if (opt == 'u') uid = atol(optarg);
		else if (opt == 'm') max = atol(optarg) < MAX ? atol(optarg) : MAX;
		else if (opt == 'n') nproc = atol(optarg);
		else if (opt == 't') use_threads = 1;
		else return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (nproc >= 0) {
		struct rlimit rl = { (rlim_t)nproc, (rlim_t)nproc };
		if (setrlimit(RLIMIT_NPROC, &rl) < 0) { perror("setrlimit"); return 1; }
		if (getrlimit(RLIMIT_NPROC, &rl) < 0 || rl.rlim_cur != (rlim_t)nproc) { printf("getrlimit disagrees\n"); return 1; }
	}
	if (uid >= 0 && setuid((uid_t)uid) < 0) { perror("setuid"); return 1; }
	if (pipe(gate) < 0) { perror("pipe"); return 1; }
	int made = 0, err = 0;
	while (made < max) {
		if (use_threads) {
			int r = pthread_create(&threads[made], NULL, waiter, NULL);
			if (r != 0) { err = r; break; }
		} else {
			pid_t p = fork();
			if (p < 0) { err = errno; break; }
			if (p == 0) { close(gate[1]); waiter(NULL); _exit(0); }
		}
		made++;
	}
	printf("made %d errno %s\n", made, errname(err));
	close(gate[1]);
	int reaped = 0;
	if (use_threads) {
		for (int i = 0; i < made; i++) if (pthread_join(threads[i], NULL) == 0) reaped++;
	} else {
		while (wait(NULL) > 0) reaped++;
	}
	printf("reaped %d\n", reaped);
	return 0;
}
